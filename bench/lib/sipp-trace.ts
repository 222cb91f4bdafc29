// Reads a sipp UAS's -trace_msg file as it grows (offset kept between calls, so 20,000
// messages are read once, not re-parsed on every poll). sipp writes each SIP message as
//   ----------------------------------------------- 2026-11-27 18:38:28.572836
//   UDP message received [474] bytes :
//   <blank>
//   MESSAGE sip:… SIP/2.0 / headers / blank line / body
// The separator carries sipp's wall-clock time (gettimeofday, local time, µs) of the receipt:
// that is the arrival time used for throughput and latency.
import { closeSync, openSync, readSync } from "node:fs";

export interface ReceivedMessage {
  /** Epoch ms (fractional) of the receipt at the UAS, from sipp's trace. */
  readonly at: number;
  /** The body's first line. */
  readonly body: string;
}

const SEPARATOR = /^-{20,} (\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{6})\s*$/;

export class SippTraceReader {
  private offset = 0;
  private partial = "";
  private stamp = 0;
  /** Inside a received MESSAGE: 0 none, 1 headers, 2 waiting for the body's first line. */
  private state: 0 | 1 | 2 = 0;
  private received = false;
  private readonly messages: ReceivedMessage[] = [];

  constructor(private readonly file: string) {}

  /** Reads what sipp appended since the last call; returns every received MESSAGE so far. */
  poll(): readonly ReceivedMessage[] {
    let fd: number;
    try {
      fd = openSync(this.file, "r");
    } catch {
      return this.messages;
    }
    try {
      const buffer = Buffer.alloc(1 << 20);
      for (let i = 0; i < 10_000; i++) {
        const n = readSync(fd, buffer, 0, buffer.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        const text = this.partial + buffer.subarray(0, n).toString("latin1");
        const lines = text.split("\n");
        this.partial = lines.pop() ?? "";
        for (const line of lines) this.line(line.replace(/\r$/, ""));
      }
    } finally {
      closeSync(fd);
    }
    return this.messages;
  }

  private line(line: string): void {
    const sep = SEPARATOR.exec(line);
    if (sep !== null) {
      const [, y, mo, d, h, mi, s, us] = sep.map(Number) as [number, number, number, number, number, number, number, number];
      this.stamp = new Date(y, mo - 1, d, h, mi, s).getTime() + us / 1000;
      this.state = 0;
      this.received = false;
      return;
    }
    if (/^\s*(?:UDP|TCP|TLS)?\s*message received/.test(line)) {
      this.received = true;
      return;
    }
    if (this.state === 0) {
      if (this.received && line.startsWith("MESSAGE ")) this.state = 1;
      return;
    }
    if (this.state === 1) {
      if (line === "") this.state = 2;
      return;
    }
    this.messages.push({ at: this.stamp, body: line });
    this.state = 0;
  }
}
