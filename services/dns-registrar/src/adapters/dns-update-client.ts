/** Sends RFC 2136 updates signed with TSIG (RFC 8945) to the authoritative server and checks the signed answer. */
import { randomInt } from "node:crypto";
import { encodeUpdate, rcodeName, type UpdateOperation } from "../protocol/update.ts";
import { signMessage, tsigErrorName, verifyMessage, type TsigKeyMaterial } from "../protocol/tsig.ts";
import { exchange } from "./dns-transport.ts";

export interface UpdateTarget {
  readonly host: string;
  readonly port: number;
  readonly key: TsigKeyMaterial;
  readonly timeoutMs?: number;
  readonly tries?: number;
}

export type UpdateOutcome =
  | { readonly ok: true; readonly transport: "udp" | "tcp" }
  /** The server answered but refused (rcode), or its answer failed our TSIG checks. */
  | { readonly ok: false; readonly rcode: string; readonly tsigError: string; readonly reason: string };

/** One UPDATE for `zone`; never throws for a refusal, only for network failures. */
export async function sendUpdate(target: UpdateTarget, zone: string, operations: readonly UpdateOperation[], now: () => number = () => Math.floor(Date.now() / 1000)): Promise<UpdateOutcome> {
  const unsigned = encodeUpdate({ id: randomInt(0, 0x10000), zone, operations });
  const { message, mac } = signMessage(unsigned, target.key, { timeSigned: now() });
  const { answer, transport } = await exchange(message, {
    host: target.host,
    port: target.port,
    ...(target.timeoutMs === undefined ? {} : { timeoutMs: target.timeoutMs }),
    ...(target.tries === undefined ? {} : { tries: target.tries }),
  });
  const verified = verifyMessage(answer, target.key, mac, now());
  const rcode = rcodeName(verified.message.rcode);
  const tsigError = tsigErrorName(verified.tsig?.error ?? 0);
  if (verified.message.id !== unsigned.readUInt16BE(0) || !verified.message.qr) return { ok: false, rcode, tsigError, reason: "answer does not match the request" };
  if (!verified.ok) {
    const reason =
      verified.reason === "tsig-error"
        ? `the server refused our signature (${tsigError})`
        : verified.reason === "unsigned"
          ? "the answer is not signed"
          : `the answer's signature is not valid (${verified.reason})`;
    return { ok: false, rcode, tsigError, reason };
  }
  if (verified.message.rcode !== 0) return { ok: false, rcode, tsigError, reason: `the server refused the update (${rcode})` };
  return { ok: true, transport };
}
