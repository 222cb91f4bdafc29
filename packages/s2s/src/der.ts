/**
 * A minimal DER reader (ITU-T X.690 §8, §10): just enough to walk an X.509 certificate to its
 * subjectAltName extension. Input is untrusted: every length is checked against the buffer, and
 * nothing recurses without a bound.
 */

export class DerError extends Error {
  override name = "DerError";
}

export interface DerNode {
  /** The identifier octet (class, constructed bit, tag number < 31). */
  tag: number;
  /** The content octets. */
  content: Uint8Array;
  /** Offset just past this node in the buffer it was read from. */
  end: number;
}

/** Read one DER node at `offset`. */
export function readNode(buffer: Uint8Array, offset: number): DerNode {
  if (offset + 2 > buffer.length) throw new DerError("truncated DER header");
  const tag = buffer[offset] ?? 0;
  // X.690 §8.1.2.4: high tag numbers (low bits 11111) never occur on the path we walk.
  if ((tag & 0x1f) === 0x1f) throw new DerError("high tag numbers are not supported");
  let lengthByte = buffer[offset + 1] ?? 0;
  let position = offset + 2;
  let length: number;
  // X.690 §8.1.3.4 short form; §8.1.3.5 long form (DER: minimal, no indefinite length).
  if (lengthByte < 0x80) {
    length = lengthByte;
  } else {
    lengthByte &= 0x7f;
    if (lengthByte === 0) throw new DerError("indefinite length is not DER");
    if (lengthByte > 4) throw new DerError("DER length too large");
    if (position + lengthByte > buffer.length) throw new DerError("truncated DER length");
    length = 0;
    for (let i = 0; i < lengthByte; i++) length = length * 256 + (buffer[position + i] ?? 0);
    position += lengthByte;
  }
  const end = position + length;
  if (end > buffer.length) throw new DerError("DER content runs past its container");
  return { tag, content: buffer.subarray(position, end), end };
}

/** The children of a constructed node, at most `limit` of them. */
export function children(node: DerNode, limit: number): DerNode[] {
  if ((node.tag & 0x20) === 0) throw new DerError(`tag 0x${node.tag.toString(16)} is not constructed`);
  const result: DerNode[] = [];
  let offset = 0;
  while (offset < node.content.length) {
    if (result.length >= limit) throw new DerError(`more than ${limit} elements`);
    const child = readNode(node.content, offset);
    result.push(child);
    offset = child.end;
  }
  return result;
}

/** Dotted form of an OBJECT IDENTIFIER's content (X.690 §8.19). */
export function oidToString(content: Uint8Array): string {
  if (content.length === 0 || content.length > 64) throw new DerError("bad OBJECT IDENTIFIER length");
  const parts: number[] = [];
  let value = 0;
  for (const byte of content) {
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError("OBJECT IDENTIFIER arc too large");
    if ((byte & 0x80) === 0) {
      if (parts.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        parts.push(first, value - first * 40);
      } else {
        parts.push(value);
      }
      value = 0;
    }
  }
  if ((content[content.length - 1] ?? 0) & 0x80) throw new DerError("truncated OBJECT IDENTIFIER");
  return parts.join(".");
}
