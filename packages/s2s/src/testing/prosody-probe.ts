// Runs inside a test network namespace (spawned by prosody.integration.test.ts): opens an
// outbound stream with connectS2S to a real server, sends one stanza (answers come back on the
// server's own outbound stream, RFC 6120 §2.4, so none is awaited here), closes cleanly, and prints
// what happened as one JSON line. Input: S2S_PROBE (JSON) in the environment.
import { readFileSync } from "node:fs";
import { xml } from "@passerelle/xmpp";
import { connectS2S, type ConnectOptions, type S2STarget } from "../index.ts";

interface ProbeInput {
  localDomain: string;
  remoteDomain: string;
  target: S2STarget;
  certFile: string;
  keyFile: string;
  caFile: string;
}

const input = JSON.parse(process.env.S2S_PROBE ?? "{}") as ProbeInput;
const options: ConnectOptions = {
  localDomain: input.localDomain,
  remoteDomain: input.remoteDomain,
  targets: [input.target],
  tls: "required",
  tlsMaterial: { cert: readFileSync(input.certFile), key: readFileSync(input.keyFile), ca: readFileSync(input.caFile) },
  timeouts: { connectMs: 5000, establishmentMs: 10_000 },
  limits: { maxStanzaBytes: 262144, maxDepth: 64, maxAttributesPerElement: 64, maxHeaderBytes: 8192 },
  sasl: "required",
  dialback: false,
};

try {
  const conn = await connectS2S(options);
  const sent = conn.send(xml("iq", { type: "get", id: "probe-1", from: input.localDomain, to: input.remoteDomain }, xml("ping", { xmlns: "urn:xmpp:ping" })));
  const closed = new Promise<string>((resolve) => conn.once("close", (info) => resolve(info.error?.message ?? "clean")));
  await conn.close(3000);
  process.stdout.write(`${JSON.stringify({ ok: true, authentication: conn.authentication, tls: conn.tls, sent, closed: await closed })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: (err as Error).message, kind: (err as { kind?: string }).kind })}\n`);
}
