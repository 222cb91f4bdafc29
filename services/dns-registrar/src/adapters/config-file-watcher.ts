/**
 * Watches the configuration file by polling it (a Kubernetes ConfigMap is updated by swapping a
 * symlink, which fs.watch misses): a change is applied once the file has stayed the same for the
 * debounce time, after validation by @passerelle/config's loader. An invalid file is reported once
 * and the last valid configuration stays in force.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError, loadConfigFile, type GatewayConfig } from "@passerelle/config";

export interface ConfigFileWatcherOptions {
  readonly path: string;
  /** How often the file is read. Default 1 s. */
  readonly intervalMs?: number;
  /** How long a new content must stay unchanged before it is applied. Default 500 ms. */
  readonly debounceMs?: number;
  /** The largest file read (a configuration is a few kB). Default 1 MiB. */
  readonly maxBytes?: number;
  readonly onChange: (config: GatewayConfig) => void;
  readonly onInvalid: (problem: string) => void;
  readonly load?: (path: string) => GatewayConfig;
  readonly now?: () => number;
}

const digest = (text: Buffer): string => createHash("sha256").update(text).digest("hex");

export class ConfigFileWatcher {
  private timer: NodeJS.Timeout | undefined;
  /** The content last applied or found invalid (so each content is judged once). */
  private judged: string | undefined;
  private seen: string | undefined;
  private seenSince = 0;

  constructor(private readonly o: ConfigFileWatcherOptions) {
    // The content the service started with is the one in force.
    this.judged = this.read();
    this.seen = this.judged;
  }

  start(): void {
    this.timer = setInterval(() => this.poll(), this.o.intervalMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One look at the file; applies a content that has been stable for the debounce time. */
  poll(): void {
    const now = (this.o.now ?? Date.now)();
    const current = this.read();
    if (current === undefined) return;
    if (current !== this.seen) {
      this.seen = current;
      this.seenSince = now;
      return;
    }
    if (current === this.judged || now - this.seenSince < (this.o.debounceMs ?? 500)) return;
    this.judged = current;
    let config: GatewayConfig;
    try {
      config = (this.o.load ?? loadConfigFile)(this.o.path);
    } catch (err) {
      this.o.onInvalid(err instanceof ConfigError ? err.problems.slice(0, 20).join("; ") : (err as Error).message);
      return;
    }
    this.o.onChange(config);
  }

  private read(): string | undefined {
    try {
      const bytes = readFileSync(this.o.path);
      if (bytes.length > (this.o.maxBytes ?? 1024 * 1024)) {
        const id = `too-large:${bytes.length}`;
        if (this.judged !== id) {
          this.judged = id;
          this.o.onInvalid(`the file is larger than ${this.o.maxBytes ?? 1024 * 1024} bytes`);
        }
        return undefined;
      }
      return digest(bytes);
    } catch {
      // Missing for a moment (an editor's rename, a symlink swap): look again next time.
      return undefined;
    }
  }
}
