/** How the dialback authority connects back to a partner to verify a key (pure). */
import type { Partner } from "@passerelle/config";
import type { Negotiation } from "@passerelle/s2s";

/**
 * The TLS policy of the verification stream follows the partner entry: a partner whose TLS is
 * "required" is verified over TLS only. A domain without an entry: TLS when offered.
 */
export function verifyTlsPolicy(partner: Pick<Partner, "tls"> | undefined): Negotiation {
  return partner?.tls ?? "optional";
}
