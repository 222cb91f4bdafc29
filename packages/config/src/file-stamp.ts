/**
 * A cheap fingerprint of files, for services that re-read a secret, a token list or a certificate
 * when it changes: size, modification time and inode of each (a rename over the file — how
 * Kubernetes updates a mounted Secret or ConfigMap — changes the inode). "missing" for a file that
 * cannot be stat'ed, so its return counts as a change too.
 */
import { statSync } from "node:fs";

export function fileStamp(files: readonly (string | undefined)[]): string {
  return files
    .map((file) => {
      if (file === undefined || file === "") return "-";
      try {
        const s = statSync(file);
        return `${s.size}:${s.mtimeMs}:${s.ino}`;
      } catch {
        return "missing";
      }
    })
    .join("|");
}
