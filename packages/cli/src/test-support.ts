/** Test helpers: a CliContext that records what the command prints, and a configuration file. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import type { CliContext } from "./command.ts";

export interface RecordingContext extends CliContext {
  stdout: string[];
  stderr: string[];
  answers: boolean[];
}

export function recordingContext(cwd: string, overrides: Partial<CliContext> = {}): RecordingContext {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const answers: boolean[] = [];
  return {
    env: {},
    cwd,
    out: (line) => stdout.push(line),
    err: (line) => stderr.push(line),
    interactive: false,
    confirm: async () => answers.shift() ?? false,
    now: () => new Date(),
    stdout,
    stderr,
    answers,
    ...overrides,
  };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `passerelle-cli-${prefix}-`));
}

/** A valid gateway configuration with two local domains in `dir`/passerelle.yaml. */
export function writeConfig(dir: string, extra: { certFile?: string; keyFile?: string } = {}): string {
  const path = join(dir, "passerelle.yaml");
  const doc = {
    domains: [{ xmpp: "contoso.example" }, { xmpp: "fabrikam.example", sip: "corp.fabrikam.example" }],
    gateway: { edgeFqdn: "edge.contoso.example", dialback: { secret: "0123456789abcdef0123" } },
    sip: { proxy: { host: "127.0.0.1" } },
    edge: { tls: { certFile: extra.certFile ?? join(dir, "edge.crt"), keyFile: extra.keyFile ?? join(dir, "edge.key") } },
  };
  writeFileSync(path, stringify(doc));
  return path;
}
