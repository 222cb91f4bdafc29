/** DNS wire-format primitives (RFC 1035 §3.1, §4.1): names, integers, a growable writer, a bounded reader. */

export const TYPE = { SOA: 6, SRV: 33, TSIG: 250 } as const;
export const CLASS = { IN: 1, NONE: 254, ANY: 255 } as const;

/** RFC 1035 §3.1: a name as length-prefixed labels, lower-cased (RFC 8945 §4.3.3 canonical form), uncompressed. */
export function encodeName(name: string): Buffer {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  if (trimmed === "") return Buffer.from([0]);
  const parts: Buffer[] = [];
  let total = 1;
  for (const label of trimmed.toLowerCase().split(".")) {
    const bytes = Buffer.from(label, "ascii");
    // RFC 1035 §2.3.4: labels 1–63 octets, names at most 255 octets.
    if (bytes.length === 0 || bytes.length > 63) throw new Error(`bad DNS label in ${JSON.stringify(name)}`);
    parts.push(Buffer.from([bytes.length]), bytes);
    total += bytes.length + 1;
  }
  if (total > 255) throw new Error(`DNS name too long: ${JSON.stringify(name)}`);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export class Writer {
  private readonly chunks: Buffer[] = [];
  u8(value: number): this {
    this.chunks.push(Buffer.from([value & 0xff]));
    return this;
  }
  u16(value: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(value);
    this.chunks.push(b);
    return this;
  }
  u32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value);
    this.chunks.push(b);
    return this;
  }
  /** RFC 8945 §4.2: Time Signed is a 48-bit unsigned count of seconds since the epoch. */
  u48(value: number): this {
    const b = Buffer.alloc(6);
    b.writeUIntBE(value, 0, 6);
    this.chunks.push(b);
    return this;
  }
  bytes(value: Uint8Array): this {
    this.chunks.push(Buffer.from(value));
    return this;
  }
  name(value: string): this {
    return this.bytes(encodeName(value));
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export class Reader {
  offset = 0;
  constructor(readonly buf: Buffer) {}
  private need(n: number): void {
    if (this.offset + n > this.buf.length) throw new Error("DNS message truncated");
  }
  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.offset++);
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  u48(): number {
    this.need(6);
    const v = this.buf.readUIntBE(this.offset, 6);
    this.offset += 6;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }
  /** RFC 1035 §4.1.4: a name, following compression pointers (bounded, so a pointer loop cannot hang us). */
  name(): string {
    const labels: string[] = [];
    let pos = this.offset;
    let jumped = false;
    for (let hops = 0; hops < 128; hops++) {
      if (pos >= this.buf.length) throw new Error("DNS message truncated");
      const len = this.buf.readUInt8(pos);
      if (len === 0) {
        if (!jumped) this.offset = pos + 1;
        return labels.length === 0 ? "." : `${labels.join(".")}.`;
      }
      if ((len & 0xc0) === 0xc0) {
        if (pos + 1 >= this.buf.length) throw new Error("DNS message truncated");
        if (!jumped) this.offset = pos + 2;
        jumped = true;
        pos = ((len & 0x3f) << 8) | this.buf.readUInt8(pos + 1);
        continue;
      }
      if ((len & 0xc0) !== 0) throw new Error("unsupported DNS label type");
      if (pos + 1 + len > this.buf.length) throw new Error("DNS message truncated");
      labels.push(this.buf.toString("ascii", pos + 1, pos + 1 + len).toLowerCase());
      pos += 1 + len;
    }
    throw new Error("DNS name compression loop");
  }
}
