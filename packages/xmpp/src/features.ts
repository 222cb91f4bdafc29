import { Element, xml } from "./element.ts";
import { NS } from "./namespaces.ts";

/** <stream:features> for a server-to-server stream, in the order TLS, SASL, dialback. */
export function streamFeatures(opts: {
  starttls?: "required" | "optional";
  saslExternal?: boolean;
  dialback?: boolean;
  dialbackErrors?: boolean;
}): Element {
  return xml(
    "stream:features",
    {},
    // RFC 6120 §5.4.1: <starttls/>, with <required/> when TLS is mandatory.
    opts.starttls === undefined
      ? undefined
      : xml("starttls", { xmlns: NS.tls }, opts.starttls === "required" ? xml("required") : undefined),
    // RFC 6120 §6.4.1 + RFC 4422 Appendix A: EXTERNAL is the only mechanism servers offer each other.
    opts.saslExternal === true
      ? xml("mechanisms", { xmlns: NS.sasl }, xml("mechanism", {}, "EXTERNAL"))
      : undefined,
    // XEP-0220 §2.4.2 (#advertisement-errors): the dialback feature; <errors/> announces dialback error handling.
    opts.dialback === true
      ? xml(
          "dialback",
          { xmlns: NS.dialbackFeature },
          opts.dialbackErrors === true ? xml("errors") : undefined,
        )
      : undefined,
  );
}
