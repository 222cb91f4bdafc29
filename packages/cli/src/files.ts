/**
 * Files the command line reads and writes: bounded reads with clear errors, and atomic writes
 * (a temporary file in the same directory, flushed, then renamed over the target) so a reader
 * polling the target (the edge listener) never sees half a file.
 */
import { closeSync, constants, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { CliError } from "./errors.ts";

/** Read a text file of at most `maxBytes`, naming the option it came from on failure. */
export function readBounded(path: string, what: string, maxBytes: number): string {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new CliError(`${what}: ${path} is not a file`);
    size = st.size;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (size > maxBytes) throw new CliError(`${what}: ${path} is ${size} bytes, more than the ${maxBytes} allowed`);
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new CliError(`${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** A passphrase from a file: its first line, 4 to 1024 characters. */
export function readPassphrase(path: string): string {
  const text = readBounded(path, "--passphrase-file", 4096);
  const line = text.split(/\r?\n/, 1)[0] ?? "";
  if (line.length < 4) throw new CliError(`--passphrase-file: the passphrase in ${path} is shorter than 4 characters`);
  if (line.length > 1024) throw new CliError(`--passphrase-file: the passphrase in ${path} is longer than 1024 characters`);
  return line;
}

/** Write `data` to a new file; refuses to replace an existing one unless `overwrite`. */
export function writeNew(path: string, data: string, mode: number, overwrite: boolean): void {
  if (overwrite) {
    writeAtomic(path, data, mode);
    return;
  }
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new CliError(`${path} already exists (pass --force to replace it)`);
    throw new CliError(`cannot write ${path}: ${code ?? (err as Error).message}`);
  }
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Write to a temporary file beside `path` with `mode`, flush it, then rename it over `path`. */
export function writeAtomic(path: string, data: string, mode: number): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  let fd: number;
  try {
    fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  } catch (err) {
    throw new CliError(`cannot write beside ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    writeSync(fd, data);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temp, path);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(temp, { force: true });
    throw new CliError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
