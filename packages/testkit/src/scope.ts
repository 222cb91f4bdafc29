// A test scope: one work directory and a stack of cleanups that always run —
// when the test ends (pass or fail), on SIGINT/SIGTERM, and (best effort, synchronously)
// when the process exits without having closed the scope.
import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (/work/main), found from this file's location. */
export const repoRoot: string = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");

/** Where every scope puts its work directory (gitignored). */
export const workRoot: string = join(repoRoot, ".e2e-work");

interface Cleanup {
  readonly label: string;
  readonly run: () => Promise<void> | void;
  /** Called from the process 'exit' handler, where nothing async can run. */
  readonly runSync: (() => void) | undefined;
}

const openScopes = new Set<Scope>();
let handlersInstalled = false;

function installProcessHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const onSignal = (signal: NodeJS.Signals): void => {
    const code = signal === "SIGINT" ? 130 : 143;
    process.stderr.write(`testkit: ${signal} received, cleaning up ${openScopes.size} scope(s)\n`);
    const all = [...openScopes].map((s) => s.close());
    const force = setTimeout(() => process.exit(code), 15_000);
    force.unref();
    void Promise.allSettled(all).then(() => process.exit(code));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.on("exit", () => {
    for (const scope of openScopes) scope.closeSync();
  });
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, "-").slice(0, 60) || "test";
}

export class Scope {
  readonly name: string;
  /** `/work/main/.e2e-work/<name>-<pid>/` — logs, configs, data of everything this scope started. */
  readonly workDir: string;
  private readonly cleanups: Cleanup[] = [];
  private closing: Promise<void> | undefined;

  constructor(name: string) {
    this.name = safeName(name);
    this.workDir = join(workRoot, `${this.name}-${process.pid}`);
    rmSync(this.workDir, { recursive: true, force: true });
    mkdirSync(this.workDir, { recursive: true });
    installProcessHandlers();
    openScopes.add(this);
  }

  /** A subdirectory of the work directory, created. */
  dir(...parts: string[]): string {
    const path = join(this.workDir, ...parts);
    mkdirSync(path, { recursive: true });
    return path;
  }

  /**
   * Registers a cleanup. Cleanups run last-in first-out. `runSync` is the emergency
   * variant used when the process exits before `close()` (e.g. a crash in a hook).
   * Returns a function that unregisters it (after doing the work by hand).
   */
  defer(label: string, run: () => Promise<void> | void, runSync?: () => void): () => void {
    const entry: Cleanup = { label, run, runSync };
    this.cleanups.push(entry);
    return () => {
      const index = this.cleanups.indexOf(entry);
      if (index >= 0) this.cleanups.splice(index, 1);
    };
  }

  /** Runs every cleanup (LIFO); errors are collected and reported, never stop the others. */
  close(): Promise<void> {
    this.closing ??= this.runAll();
    return this.closing;
  }

  private async runAll(): Promise<void> {
    const errors: string[] = [];
    while (this.cleanups.length > 0) {
      const entry = this.cleanups.pop();
      if (entry === undefined) break;
      try {
        await entry.run();
      } catch (error) {
        errors.push(`${entry.label}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    openScopes.delete(this);
    if (process.env["PSTEST_CLEAN_WORK"] === "1") rmSync(this.workDir, { recursive: true, force: true });
    if (errors.length > 0) {
      process.stderr.write(`testkit: cleanup of ${this.name} had errors:\n  ${errors.join("\n  ")}\n`);
    }
  }

  /** Synchronous best effort, for the process 'exit' handler only. */
  closeSync(): void {
    while (this.cleanups.length > 0) {
      const entry = this.cleanups.pop();
      if (entry?.runSync === undefined) continue;
      try {
        entry.runSync();
      } catch {
        // nothing more can be done while exiting
      }
    }
    openScopes.delete(this);
  }
}

/** Creates a scope for one test file or scenario; call `await scope.close()` in `after()`. */
export function createScope(name: string): Scope {
  return new Scope(name);
}
