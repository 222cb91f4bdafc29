import { isUtf8 } from "node:buffer";
import { StringDecoder } from "node:string_decoder";

const EMPTY = Buffer.alloc(0);

/** How many bytes at the end of `b` start a multi-byte sequence that the next chunk may complete. */
function incompleteTail(b: Buffer): number {
  const n = b.length;
  for (let back = 1; back <= 3 && back <= n; back++) {
    const byte = b[n - back] ?? 0;
    if (byte < 0x80) return 0; // ASCII: nothing pending
    if (byte >= 0xc0) {
      const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
      return need > back ? back : 0;
    }
  }
  return 0;
}

// RFC 3629 §4: whether an incomplete sequence can still become a valid character.
function validPrefix(tail: Buffer): boolean {
  const lead = tail[0] ?? 0;
  if (lead < 0xc2 || lead > 0xf4) return false;
  const second = tail[1];
  if (second !== undefined) {
    const lo = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const hi = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    if (second < lo || second > hi) return false;
  }
  const third = tail[2];
  return third === undefined || (third >= 0x80 && third <= 0xbf);
}

// RFC 3629 §4: the second byte's range depends on the lead byte.
function secondRange(lead: number): [number, number] {
  if (lead === 0xe0) return [0xa0, 0xbf];
  if (lead === 0xed) return [0x80, 0x9f];
  if (lead === 0xf0) return [0x90, 0xbf];
  if (lead === 0xf4) return [0x80, 0x8f];
  return [0x80, 0xbf];
}

/** Index of the first byte that starts an invalid sequence (b.length if none). Only on the error path. */
function firstInvalid(b: Buffer): number {
  let i = 0;
  while (i < b.length) {
    const lead = b[i] ?? 0;
    if (lead < 0x80) {
      i++;
      continue;
    }
    const len =
      lead >= 0xc2 && lead <= 0xdf
        ? 2
        : lead >= 0xe0 && lead <= 0xef
          ? 3
          : lead >= 0xf0 && lead <= 0xf4
            ? 4
            : 0;
    if (len === 0) return i;
    const [lo, hi] = secondRange(lead);
    for (let k = 1; k < len; k++) {
      const byte = b[i + k];
      if (byte === undefined) return b.length;
      if (k === 1 ? byte < lo || byte > hi : byte < 0x80 || byte > 0xbf) return i;
    }
    i += len;
  }
  return b.length;
}

/**
 * UTF-8 bytes to text across TCP chunk boundaries (node:string_decoder), refusing invalid UTF-8
 * (RFC 3629 §3, RFC 6120 §11.6). The decoder turns every invalid sequence into U+FFFD, so the
 * common case costs one scan for U+FFFD; only a chunk that holds one is checked strictly.
 */
export class Utf8Input {
  private readonly decoder = new StringDecoder("utf8");
  private carry: Buffer = EMPTY;

  /**
   * The text of the chunk. If the bytes are not valid UTF-8, `valid` is false and `text` holds what
   * came before the first invalid byte, so that errors are reported in stream order.
   */
  decode(chunk: Buffer): { text: string; valid: boolean } {
    const text = this.decoder.write(chunk);
    const all = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    const tail = incompleteTail(all);
    const cut = all.length - tail;
    if (
      text.includes("\uFFFD") &&
      !(isUtf8(all.subarray(0, cut)) && (tail === 0 || validPrefix(all.subarray(cut))))
    ) {
      return { text: all.subarray(0, firstInvalid(all)).toString("utf8"), valid: false };
    }
    this.carry = tail === 0 ? EMPTY : Buffer.from(all.subarray(cut));
    return { text, valid: true };
  }
}
