/**
 * The partner negotiation matrix (MISSION.md, Microsoft's table for Lync Server 2013's XMPP
 * gateway). Pure: given a partner's TLS / SASL / dialback settings, which authentication methods
 * may the peer use, is the combination valid, and what should the admin be warned of.
 */

export type Negotiation = "required" | "optional" | "not-supported";

export type AuthMethod = "sasl-over-tls" | "dialback-over-tls" | "dialback-over-tcp";

export interface NegotiationSettings {
  tls: Negotiation;
  sasl: Negotiation;
  dialback: boolean;
}

export interface NegotiationVerdict {
  valid: boolean;
  /** e.g. "TLS Required / SASL Not supported / dialback false" — how the admin names the row. */
  row: string;
  methods: AuthMethod[];
  /** Why the combination is refused (invalid rows only). */
  reason?: string;
  warnings: string[];
}

const label: Record<Negotiation, string> = {
  required: "Required",
  optional: "Optional",
  "not-supported": "Not supported",
};

export function describeRow(s: NegotiationSettings): string {
  return `TLS ${label[s.tls]} / SASL ${label[s.sasl]} / dialback ${String(s.dialback)}`;
}

/** Evaluate one row of the matrix. */
export function evaluateNegotiation(s: NegotiationSettings): NegotiationVerdict {
  const row = describeRow(s);
  const warnings: string[] = [];
  // SASL EXTERNAL (XEP-0178) runs over TLS only: without TLS there is no SASL.
  const saslPossible = s.tls !== "not-supported" && s.sasl !== "not-supported";

  if (!s.dialback) {
    if (s.tls === "not-supported") {
      return {
        valid: false,
        row,
        methods: [],
        reason:
          "with TLS Not supported and dialback false the partner has no way to authenticate: SASL needs TLS; enable dialback or allow TLS",
        warnings,
      };
    }
    if (s.sasl === "not-supported") {
      return {
        valid: false,
        row,
        methods: [],
        reason:
          "with SASL Not supported and dialback false the partner has no way to authenticate; enable dialback or allow SASL",
        warnings,
      };
    }
  }

  const methods: AuthMethod[] = [];
  if (saslPossible) methods.push("sasl-over-tls");
  if (s.dialback) {
    if (s.tls === "required" && s.sasl === "required") {
      warnings.push("TLS and SASL are both Required: dialback will never be used for this partner");
    } else {
      if (s.tls !== "not-supported") methods.push("dialback-over-tls");
      if (s.tls !== "required") methods.push("dialback-over-tcp");
    }
  }
  if (s.tls === "not-supported" && s.sasl !== "not-supported") {
    warnings.push(`TLS is Not supported, so the SASL setting (${label[s.sasl]}) has no effect`);
  }
  if (s.tls === "not-supported") {
    warnings.push("stanzas to and from this partner travel unencrypted");
  }
  return { valid: true, row, methods, warnings };
}
