/**
 * What the dialback authority reads from files, kept current without a restart (MISSION: a
 * secret or a certificate changes live):
 *
 * - the dialback secret (gateway.dialback.secretFile): re-read when the file changes; the previous
 *   secret still verifies keys for a grace period, so streams whose keys were made just before a
 *   rotation — by this replica or another that has not re-read the file yet — still authenticate;
 * - our certificate and key (edge.tls), presented on the verification streams we open to partners:
 *   re-read when either file changes, applied only when the pair loads.
 *
 * A change that cannot be read keeps what is in force, is reported once per change of the file,
 * and counted by the caller.
 */
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { fileStamp } from "@passerelle/config";
import type { TlsMaterial } from "@passerelle/s2s";

export type ReloadOutcome = { outcome: "unchanged" } | { outcome: "reloaded" } | { outcome: "failed"; reason: string };

export class DialbackSecrets {
  private secret: string;
  private previous: { secret: string; until: number } | undefined;
  private stamp: string;

  /**
   * @param initial the secret read at start (from the file or inline)
   * @param file the secret file, if the configuration names one (an inline secret never changes)
   * @param graceMs how long the previous secret still verifies after a rotation
   */
  constructor(
    initial: string,
    private readonly file: string | undefined,
    private readonly graceMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.secret = initial;
    this.stamp = file === undefined ? "" : fileStamp([file]);
  }

  /** The secret keys are made with. */
  current(): string {
    return this.secret;
  }

  /** The secrets a key may have been made with: the current one, then the previous during its grace. */
  verifying(): string[] {
    if (this.previous !== undefined && this.now() < this.previous.until) return [this.secret, this.previous.secret];
    this.previous = undefined;
    return [this.secret];
  }

  reloadIfChanged(): ReloadOutcome {
    if (this.file === undefined) return { outcome: "unchanged" };
    const stamp = fileStamp([this.file]);
    if (stamp === this.stamp) return { outcome: "unchanged" };
    this.stamp = stamp;
    let next: string;
    try {
      next = readFileSync(this.file, "utf8").trim();
    } catch (err) {
      return { outcome: "failed", reason: `cannot read ${this.file}: ${(err as Error).message}` };
    }
    if (next.length < 16) return { outcome: "failed", reason: `${this.file}: the secret must be at least 16 characters` };
    if (next === this.secret) return { outcome: "unchanged" };
    this.previous = { secret: this.secret, until: this.now() + this.graceMs };
    this.secret = next;
    return { outcome: "reloaded" };
  }
}

export class TlsMaterialSource {
  private material: TlsMaterial;
  private stamp: string;

  constructor(private readonly files: { certFile: string; keyFile: string; caFile?: string | undefined }) {
    this.stamp = fileStamp(this.paths());
    this.material = this.read();
  }

  current(): TlsMaterial {
    return this.material;
  }

  reloadIfChanged(): ReloadOutcome {
    const stamp = fileStamp(this.paths());
    if (stamp === this.stamp) return { outcome: "unchanged" };
    this.stamp = stamp;
    let next: TlsMaterial;
    try {
      next = this.read();
      // Refuses a key that does not match the certificate (e.g. caught between two renames).
      createSecureContext({ cert: next.cert, key: next.key, ...(next.ca === undefined ? {} : { ca: next.ca }) });
    } catch (err) {
      return { outcome: "failed", reason: (err as Error).message };
    }
    this.material = next;
    return { outcome: "reloaded" };
  }

  private paths(): string[] {
    return [this.files.certFile, this.files.keyFile, ...(this.files.caFile === undefined ? [] : [this.files.caFile])];
  }

  private read(): TlsMaterial {
    const { certFile, keyFile, caFile } = this.files;
    return { cert: readFileSync(certFile), key: readFileSync(keyFile), ...(caFile === undefined ? {} : { ca: readFileSync(caFile) }) };
  }
}
