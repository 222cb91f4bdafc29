/** A refusal the command line prints as one line, exiting with `exitCode`. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Exit codes: 0 done, 1 refused or failed, 2 usage error. */
export const EXIT_USAGE = 2;
