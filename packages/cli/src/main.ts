/** Entry point of the `passerelle` command (bin/passerelle.mjs runs this through tsx). */
import { processContext, run } from "./cli.ts";

process.exitCode = await run(process.argv.slice(2), processContext());
