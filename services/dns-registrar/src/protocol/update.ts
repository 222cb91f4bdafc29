/** RFC 2136 dynamic UPDATE messages: encoding the request, reading any DNS message's header and records. */
import { CLASS, Reader, TYPE, Writer } from "./wire.ts";

/** RFC 2136 §1.3: opcode 5 is UPDATE. */
export const OPCODE_UPDATE = 5;

export interface SrvData {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

export type UpdateOperation =
  /** RFC 2136 §2.5.2: delete every RR of `type` at `name` (class ANY, TTL 0, no RDATA). */
  | { readonly op: "delete-rrset"; readonly name: string; readonly type: number }
  /** RFC 2136 §2.5.1: add an RR (class of the zone, i.e. IN). */
  | { readonly op: "add-srv"; readonly name: string; readonly ttl: number; readonly srv: SrvData }
  /** RFC 2136 §2.5.4: delete this one SRV RR (class NONE, TTL 0, its RDATA); other RRs stay. */
  | { readonly op: "delete-srv"; readonly name: string; readonly srv: SrvData };

export interface UpdateRequest {
  readonly id: number;
  readonly zone: string;
  readonly operations: readonly UpdateOperation[];
}

/** RFC 2782: SRV RDATA is priority, weight, port, target (the target is not compressed). */
export function encodeSrvRdata(srv: SrvData): Buffer {
  return new Writer().u16(srv.priority).u16(srv.weight).u16(srv.port).name(srv.target).toBuffer();
}

/** The unsigned UPDATE message: header, zone section, no prerequisites, the update section, no additional records. */
export function encodeUpdate(request: UpdateRequest): Buffer {
  const w = new Writer();
  // RFC 2136 §2.2: header; QR=0, Opcode=UPDATE, ZOCOUNT=1, PRCOUNT=0, UPCOUNT, ADCOUNT=0.
  w.u16(request.id).u16(OPCODE_UPDATE << 11).u16(1).u16(0).u16(request.operations.length).u16(0);
  // RFC 2136 §2.3: zone section, ZTYPE=SOA, ZCLASS=IN.
  w.name(request.zone).u16(TYPE.SOA).u16(CLASS.IN);
  for (const op of request.operations) {
    if (op.op === "delete-rrset") {
      w.name(op.name).u16(op.type).u16(CLASS.ANY).u32(0).u16(0);
    } else if (op.op === "delete-srv") {
      const rdata = encodeSrvRdata(op.srv);
      w.name(op.name).u16(TYPE.SRV).u16(CLASS.NONE).u32(0).u16(rdata.length).bytes(rdata);
    } else {
      const rdata = encodeSrvRdata(op.srv);
      w.name(op.name).u16(TYPE.SRV).u16(CLASS.IN).u32(op.ttl).u16(rdata.length).bytes(rdata);
    }
  }
  return w.toBuffer();
}

export interface ResourceRecord {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly rdata: Buffer;
  /** Offset of the record's first byte in the message (RFC 8945 §4.3.1 needs the message without TSIG). */
  readonly start: number;
  /** Offset of the RDATA in the message (names in it may point back into the message). */
  readonly rdataOffset: number;
}

export interface DnsMessage {
  readonly id: number;
  readonly flags: number;
  readonly qr: boolean;
  readonly opcode: number;
  readonly tc: boolean;
  /** RFC 1035 §4.1.1 RCODE, low 4 bits (no EDNS here). */
  readonly rcode: number;
  readonly counts: readonly [number, number, number, number];
  readonly additional: readonly ResourceRecord[];
}

/** Reads a DNS message; throws on anything malformed or truncated. Sections before the additional one are skipped. */
export function parseMessage(buf: Buffer): DnsMessage {
  const r = new Reader(buf);
  const id = r.u16();
  const flags = r.u16();
  const counts = [r.u16(), r.u16(), r.u16(), r.u16()] as const;
  // Question (or zone) section: name, type, class.
  for (let i = 0; i < counts[0]; i++) {
    r.name();
    r.u16();
    r.u16();
  }
  const readRecord = (): ResourceRecord => {
    const start = r.offset;
    const name = r.name();
    const type = r.u16();
    const klass = r.u16();
    const ttl = r.u32();
    const length = r.u16();
    const rdataOffset = r.offset;
    const rdata = r.bytes(length);
    return { name, type, class: klass, ttl, rdata, start, rdataOffset };
  };
  for (let i = 0; i < counts[1] + counts[2]; i++) readRecord();
  const additional: ResourceRecord[] = [];
  for (let i = 0; i < counts[3]; i++) additional.push(readRecord());
  if (r.offset !== buf.length) throw new Error("trailing bytes after the DNS message");
  return {
    id,
    flags,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    tc: (flags & 0x0200) !== 0,
    rcode: flags & 0xf,
    counts,
    additional,
  };
}

/** RFC 1035 §4.1.1 and RFC 2136 §2.2 response codes, by name. */
export const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: "NOERROR",
  1: "FORMERR",
  2: "SERVFAIL",
  3: "NXDOMAIN",
  4: "NOTIMP",
  5: "REFUSED",
  6: "YXDOMAIN",
  7: "YXRRSET",
  8: "NXRRSET",
  9: "NOTAUTH",
  10: "NOTZONE",
};

export const rcodeName = (rcode: number): string => RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
