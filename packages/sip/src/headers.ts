/**
 * SIP header fields: an ordered list of (name, value) lines, looked up case-insensitively, with the
 * compact forms expanded and comma-separated lists split.
 */

// RFC 3261 §7.3.3 and §20 (plus RFC 3265/6665 o, u; RFC 3515 r; RFC 3892 b; RFC 4028 x; RFC 3841 a, j, d; RFC 4474 y, n): compact forms.
const COMPACT: Readonly<Record<string, string>> = {
  i: "call-id",
  m: "contact",
  e: "content-encoding",
  l: "content-length",
  c: "content-type",
  f: "from",
  s: "subject",
  k: "supported",
  t: "to",
  v: "via",
  o: "event",
  u: "allow-events",
  r: "refer-to",
  b: "referred-by",
  x: "session-expires",
  a: "accept-contact",
  j: "reject-contact",
  d: "request-disposition",
  y: "identity",
  n: "identity-info",
};

const SPECIAL_SPELLING: Readonly<Record<string, string>> = {
  "call-id": "Call-ID",
  cseq: "CSeq",
  "www-authenticate": "WWW-Authenticate",
  "mime-version": "MIME-Version",
  "sip-etag": "SIP-ETag",
  "sip-if-match": "SIP-If-Match",
};

// RFC 3261 §7.3.1: headers whose grammar is a comma-separated list, so several lines may be combined in one.
const LIST_HEADERS = new Set([
  "via",
  "contact",
  "route",
  "record-route",
  "allow",
  "supported",
  "require",
  "proxy-require",
  "unsupported",
  "accept",
  "accept-encoding",
  "accept-language",
  "content-encoding",
  "allow-events",
  "path",
  "service-route",
  "alert-info",
  "call-info",
  "error-info",
  "in-reply-to",
  "reply-to",
  "warning",
]);

/** Header names seen (from the wire, so bounded: emptied when full), with their two spellings. */
const MAX_CACHED_NAMES = 512;
const normalized = new Map<string, string>();
const canonical = new Map<string, string>();

function remember(cache: Map<string, string>, key: string, value: string): string {
  if (cache.size >= MAX_CACHED_NAMES) cache.clear();
  cache.set(key, value);
  return value;
}

/** Lower-case long form of a header name ("l" → "content-length"). */
export function normalizeHeaderName(name: string): string {
  const known = normalized.get(name);
  if (known !== undefined) return known;
  const lower = name.toLowerCase();
  return remember(normalized, name, COMPACT[lower] ?? lower);
}

/** The usual spelling of a header name ("call-id" → "Call-ID", "max-forwards" → "Max-Forwards"). */
export function canonicalHeaderName(name: string): string {
  const known = canonical.get(name);
  if (known !== undefined) return known;
  const lower = normalizeHeaderName(name);
  const special = SPECIAL_SPELLING[lower];
  if (special !== undefined) return remember(canonical, name, special);
  return remember(
    canonical,
    name,
    lower
      .split("-")
      .map((part) => (part.length === 0 ? part : part[0]!.toUpperCase() + part.slice(1)))
      .join("-"),
  );
}

export function isListHeader(name: string): boolean {
  return LIST_HEADERS.has(normalizeHeaderName(name));
}

/** Split a header value on the commas that separate list items, not those in quotes or <...>. */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (quoted) {
      if (ch === "\\") i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === "<") depth++;
    else if (ch === ">") depth = Math.max(0, depth - 1);
    else if (ch === "," && depth === 0) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out.filter((v) => v.length > 0);
}

export interface HeaderLine {
  /** Canonical spelling, e.g. "Call-ID". */
  name: string;
  value: string;
}

export class SipHeaders {
  private readonly lines: HeaderLine[] = [];

  constructor(init?: Iterable<readonly [string, string]>) {
    if (init) for (const [name, value] of init) this.append(name, value);
  }

  append(name: string, value: string): this {
    this.lines.push({ name: canonicalHeaderName(name), value });
    return this;
  }

  /** Insert before every other line (e.g. a new top Via). */
  prepend(name: string, value: string): this {
    this.lines.unshift({ name: canonicalHeaderName(name), value });
    return this;
  }

  /** Replace every line of that name with one line, kept where the first one was. */
  set(name: string, value: string): this {
    const key = normalizeHeaderName(name);
    const at = this.lines.findIndex((l) => normalizeHeaderName(l.name) === key);
    this.delete(name);
    const line = { name: canonicalHeaderName(name), value };
    if (at < 0) this.lines.push(line);
    else this.lines.splice(Math.min(at, this.lines.length), 0, line);
    return this;
  }

  /** Replace the first value (for list headers: the first item of the first line), keeping its place. */
  replaceFirst(name: string, value: string): this {
    const key = normalizeHeaderName(name);
    const line = this.lines.find((l) => normalizeHeaderName(l.name) === key);
    if (!line) return this.append(name, value);
    if (LIST_HEADERS.has(key)) {
      const items = splitList(line.value);
      items[0] = value;
      line.value = items.join(", ");
    } else {
      line.value = value;
    }
    return this;
  }

  delete(name: string): this {
    const key = normalizeHeaderName(name);
    for (let i = this.lines.length - 1; i >= 0; i--) {
      if (normalizeHeaderName(this.lines[i]!.name) === key) this.lines.splice(i, 1);
    }
    return this;
  }

  has(name: string): boolean {
    const key = normalizeHeaderName(name);
    return this.lines.some((l) => normalizeHeaderName(l.name) === key);
  }

  /** The first value (for list headers: the first list item). */
  get(name: string): string | undefined {
    return this.getAll(name)[0];
  }

  /** Every value, in order; list headers are split into their items. */
  getAll(name: string): string[] {
    const key = normalizeHeaderName(name);
    const list = LIST_HEADERS.has(key);
    const out: string[] = [];
    for (const line of this.lines) {
      if (normalizeHeaderName(line.name) !== key) continue;
      if (list) out.push(...splitList(line.value));
      else out.push(line.value);
    }
    return out;
  }

  /** The raw lines, in order. */
  entries(): readonly HeaderLine[] {
    return this.lines;
  }

  get size(): number {
    return this.lines.length;
  }

  clone(): SipHeaders {
    const copy = new SipHeaders();
    for (const line of this.lines) copy.lines.push({ ...line });
    return copy;
  }
}
