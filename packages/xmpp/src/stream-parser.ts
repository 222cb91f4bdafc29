import type { SaxesAttributeNS, SaxesTagNS } from "saxes";
import { Element } from "./element.ts";
import { FastSaxesParser } from "./fast-sax.ts";
import { NS } from "./namespaces.ts";
import { StreamError, type StreamErrorCondition } from "./stream-error.ts";
import { Utf8Input } from "./utf8-input.ts";

export interface StreamParserLimits {
  /** Largest top-level stanza, in bytes from its "<" to its final ">". */
  maxStanzaBytes: number;
  /** Deepest nesting inside a stanza; the stanza itself is at depth 1. */
  maxDepth: number;
  maxAttributesPerElement: number;
  /** Largest stream header, XML declaration included. */
  maxHeaderBytes: number;
}

export interface StreamHeader {
  /** The root's attributes other than namespace declarations (to, from, id, version, xml:lang…). */
  attrs: Record<string, string>;
  /** prefix → namespace declared on the root ("" for the default namespace). */
  namespaces: Record<string, string>;
}

export interface StreamParserEvents {
  onStreamStart(header: StreamHeader): void;
  onElement(el: Element, bytes: number): void;
  onStreamEnd(): void;
  onError(err: StreamError): void;
}

export interface StreamParserOptions {
  /** Also accept jabber:client as the content namespace (RFC 6120 §4.8.2); default: jabber:server only. */
  acceptClientNamespace?: boolean;
}

type Sax = FastSaxesParser;

/** saxes' S_TEXT (saxes 6.x): the state between markup. */
const SAXES_TEXT_STATE = 13;

/** Thrown out of a saxes handler to stop parsing the current chunk at once. */
const ABORT = Symbol("abort");
/** Text goes to saxes in slices of at most this many UTF-16 units, so the size limits bite inside a big chunk. */
const MAX_SLICE = 16384;
const MIN_SLICE = 1024;
const WHITESPACE = /^[ \t\r\n]*$/;

type State = "header" | "open" | "closed" | "failed";

// RFC 6120 §11.1, §4.9.3: which stream error answers which saxes well-formedness failure.
function conditionFor(message: string): StreamErrorCondition {
  if (message.includes("unbound namespace prefix")) return "bad-namespace-prefix";
  if (message.includes("undefined entity")) return "restricted-xml";
  if (message.includes("doctype") || message.includes("comment")) return "restricted-xml";
  if (message.includes("must be at the start of the document")) return "restricted-xml";
  return "not-well-formed";
}

/**
 * An XMPP stream parser for untrusted input: saxes does the XML, this class builds ltx elements
 * for each top-level stanza and enforces RFC 6120 §11 (restricted XML) and the size limits.
 */
export class StreamParser {
  private readonly limits: StreamParserLimits;
  private readonly events: StreamParserEvents;
  private readonly acceptClient: boolean;
  private readonly sliceChars: number;

  private sax!: Sax;
  private utf8!: Utf8Input;
  private state: State = "header";
  /** Open elements including the root (1 = inside the root only). */
  private level = 0;
  private attributes = 0;
  /** Open elements of the current stanza; [0] is the stanza. */
  private stack: Element[] = [];
  /** A stanza or the stream end, held until saxes shows its close tag matched (see closetag). */
  private pending: Element | null = null;
  private pendingBytes = 0;
  private pendingEnd = false;
  private pendingAt = -1;
  /** Byte accounting: the region is the header, then each stanza (and the whitespace before it). */
  private regionStart = 0;
  private regionBytes = 0;
  private fed = 0;
  private sliceBase = 0;
  private slice = "";
  private sliceAscii = true;
  private writing = false;
  private resetRequested = false;
  /** Characters of saxes' pending text between stanzas already found to be whitespace. */
  private looseChecked = 0;

  constructor(limits: StreamParserLimits, events: StreamParserEvents, options: StreamParserOptions = {}) {
    this.limits = limits;
    this.events = events;
    this.acceptClient = options.acceptClientNamespace === true;
    this.sliceChars = Math.min(MAX_SLICE, Math.max(MIN_SLICE, limits.maxStanzaBytes));
    this.init();
  }

  /**
   * Feeds bytes (UTF-8, decoded across chunk boundaries) or already decoded text. Events are
   * delivered synchronously from inside write(); an exception thrown by a handler propagates and
   * leaves the parser unusable.
   */
  write(chunk: Buffer | string): void {
    if (this.writing) throw new Error("StreamParser.write() called from one of its own event handlers");
    if (this.state === "failed" || this.state === "closed") return;
    let text = "";
    let valid = true;
    if (typeof chunk === "string") text = chunk;
    else ({ text, valid } = this.utf8.decode(chunk));
    this.writing = true;
    try {
      for (let offset = 0; offset < text.length;) {
        let end = Math.min(text.length, offset + this.sliceChars);
        const last = text.charCodeAt(end - 1);
        if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
        if (!this.run(offset === 0 && end === text.length ? text : text.slice(offset, end))) break;
        offset = end;
      }
    } finally {
      this.writing = false;
    }
    if (this.resetRequested) this.init();
    // RFC 6120 §4.9.3.22: bytes that violate UTF-8 are an unsupported encoding (after what came before them).
    else if (!valid && !this.done()) this.fail("unsupported-encoding", "invalid UTF-8");
  }

  /**
   * Forget everything (stream restart after STARTTLS / SASL): the next bytes are a new stream header.
   * Called from an event handler, it also drops the rest of the chunk being parsed: bytes that came
   * with a <starttls/> before TLS was up must not be read as part of the protected stream.
   */
  reset(): void {
    if (this.writing) this.resetRequested = true;
    else this.init();
  }

  /**
   * True when the parser stands between two stanzas with nothing held back: the stream open, no
   * element open or pending, and saxes in its text state with no buffered text or carried
   * character. Only then may more input be fed as if it were a fresh document after the header
   * (parseElements reuses parsers this way). Reads saxes internals; if they are not there, false.
   */
  betweenStanzas(): boolean {
    if (this.state !== "open" || this.level !== 1 || this.stack.length !== 0 || this.pending !== null || this.pendingEnd || this.resetRequested) return false;
    const sax = this.sax as unknown as { state?: unknown; text?: unknown; carriedFromPrevious?: unknown; tags?: unknown[] };
    return sax.state === SAXES_TEXT_STATE && sax.text === "" && sax.carriedFromPrevious === undefined && Array.isArray(sax.tags) && sax.tags.length === 1;
  }

  private init(): void {
    this.sax = this.makeSax();
    this.utf8 = new Utf8Input();
    this.state = "header";
    this.level = 0;
    this.stack = [];
    this.pending = null;
    this.pendingEnd = false;
    this.regionStart = 0;
    this.regionBytes = 0;
    this.fed = 0;
    this.resetRequested = false;
    this.looseChecked = 0;
  }

  private done(): boolean {
    return this.state === "failed" || this.state === "closed";
  }

  /** Parses one slice; false when parsing must stop (error, end, reset). */
  private run(slice: string): boolean {
    this.slice = slice;
    this.sliceAscii = Buffer.byteLength(slice, "utf8") === slice.length;
    this.sliceBase = this.fed;
    this.fed += slice.length;
    try {
      this.sax.write(slice);
    } catch (err) {
      if (err !== ABORT) throw err;
      return false;
    }
    if (this.flush()) return false;
    if (this.level === 1 && this.state === "open" && this.looseText()) {
      this.fail("bad-format", "text between stanzas");
      return false;
    }
    this.regionBytes = this.bytesUpTo(this.fed);
    if (this.state === "header" && this.regionBytes > this.limits.maxHeaderBytes) {
      this.fail("policy-violation", "stream header too big");
      return false;
    }
    if (this.state === "open" && this.regionBytes > this.limits.maxStanzaBytes) {
      this.fail("policy-violation", "stanza too big", "stanza-too-big");
      return false;
    }
    return true;
  }

  /**
   * RFC 6120 §4.6.1: only whitespace may stand between stanzas. saxes reports text at the next
   * "<"; this looks at the text it holds at the end of a slice, so text nobody follows with a "<"
   * is refused at once. Only the part not yet checked is scanned (keepalives add up to the stanza
   * limit at most). Reads saxes internals; if they are not there, the text is refused at the "<".
   */
  private looseText(): boolean {
    const sax = this.sax as unknown as { state?: unknown; text?: unknown };
    if (sax.state !== SAXES_TEXT_STATE || typeof sax.text !== "string") return false;
    const text = sax.text;
    let i = text.length < this.looseChecked ? 0 : this.looseChecked;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return true;
    }
    this.looseChecked = text.length;
    return false;
  }

  /** Bytes of the current region up to an absolute text position. */
  private bytesUpTo(position: number): number {
    const from = Math.max(this.regionStart - this.sliceBase, 0);
    const to = position - this.sliceBase;
    if (to <= from) return this.regionBytes;
    return (
      this.regionBytes + (this.sliceAscii ? to - from : Buffer.byteLength(this.slice.slice(from, to), "utf8"))
    );
  }

  private startRegion(position: number): void {
    this.regionStart = position;
    this.regionBytes = 0;
  }

  private fail(condition: StreamErrorCondition, text?: string, appCondition?: string): void {
    if (this.state === "failed") return;
    this.state = "failed";
    this.pending = null;
    this.pendingEnd = false;
    this.events.onError(new StreamError(condition, text, appCondition));
  }

  private abort(condition: StreamErrorCondition, text?: string, appCondition?: string): never {
    this.fail(condition, text, appCondition);
    throw ABORT;
  }

  /** Delivers what closetag held back; true when parsing must stop. */
  private flush(): boolean {
    const el = this.pending;
    if (el !== null) {
      this.pending = null;
      this.events.onElement(el, this.pendingBytes);
    }
    if (this.pendingEnd && !this.resetRequested && this.state === "open") {
      this.pendingEnd = false;
      this.state = "closed";
      this.events.onStreamEnd();
      return true;
    }
    return this.resetRequested || this.state === "failed" || this.state === "closed";
  }

  private makeSax(): Sax {
    const sax = new FastSaxesParser();
    const stop = (): void => {
      if ((this.pending !== null || this.pendingEnd) && this.flush()) throw ABORT;
    };

    sax.on("error", (err) => {
      // A mismatched close tag fails right after saxes reported it closed: drop what closetag held.
      if (sax.position === this.pendingAt) {
        this.pending = null;
        this.pendingEnd = false;
      } else {
        stop();
      }
      this.abort(conditionFor(err.message), err.message);
    });

    // RFC 6120 §11.1: no DTD, hence no entity declarations (XML 1.0 §2.8).
    sax.on("doctype", () => {
      stop();
      this.abort("restricted-xml", "DTD");
    });
    // RFC 6120 §11.1: no comments.
    sax.on("comment", () => {
      stop();
      this.abort("restricted-xml", "comment");
    });
    // RFC 6120 §11.1: no processing instructions (the XML declaration alone is allowed, §11.5).
    sax.on("processinginstruction", () => {
      stop();
      this.abort("restricted-xml", "processing instruction");
    });

    // RFC 6120 §11.5 + §11.6: XML 1.0, UTF-8 only.
    sax.on("xmldecl", (decl) => {
      if (decl.version !== undefined && decl.version !== "1.0") this.abort("bad-format", "XML version");
      if (decl.encoding !== undefined && decl.encoding.toLowerCase() !== "utf-8")
        this.abort("unsupported-encoding");
    });

    sax.on("opentagstart", () => {
      stop();
      const level = ++this.level;
      if (level - 1 > this.limits.maxDepth) this.abort("policy-violation", "nesting too deep");
      this.attributes = 0;
    });

    sax.on("attribute", () => {
      if (++this.attributes > this.limits.maxAttributesPerElement)
        this.abort("policy-violation", "too many attributes");
    });

    sax.on("opentag", (tag) => {
      if (this.level === 1) this.openStream(tag, sax.position);
      // RFC 6120 §4.9.3.1: a stream header inside an open stream is XML we cannot process (a
      // restart after STARTTLS or SASL is a new parser or reset(), never a child of the root).
      else if (this.level === 2 && tag.local === "stream" && tag.uri === NS.streams)
        this.abort("bad-format", "stream header inside an open stream");
      else this.openElement(tag);
    });

    sax.on("text", (text) => this.text(text, sax.position));
    sax.on("cdata", (text) => {
      stop();
      if (this.level === 1) this.abort("bad-format", "text between stanzas");
      this.text(text, sax.position);
    });

    sax.on("closetag", () => {
      stop();
      const level = this.level--;
      const position = sax.position;
      this.pendingAt = position;
      if (level === 1) {
        // RFC 6120 §4.4: </stream:stream> closes the stream.
        this.pendingEnd = true;
        return;
      }
      const el = this.stack.pop();
      if (level !== 2 || el === undefined) return;
      const bytes = this.bytesUpTo(position);
      // RFC 6120 §13.12: a stanza bigger than the limit is refused; <stanza-too-big/> is from the XEP-0182 registry.
      if (bytes > this.limits.maxStanzaBytes)
        this.abort("policy-violation", "stanza too big", "stanza-too-big");
      this.pending = el;
      this.pendingBytes = bytes;
      this.startRegion(position);
    });

    return sax;
  }

  // RFC 6120 §4.7 + §4.8: the root is <stream> in the streams namespace, content in jabber:server.
  private openStream(tag: SaxesTagNS, position: number): void {
    if (this.bytesUpTo(position) > this.limits.maxHeaderBytes)
      this.abort("policy-violation", "stream header too big");
    if (tag.local !== "stream" || tag.uri !== NS.streams)
      this.abort("invalid-namespace", "not a stream:stream");
    const content = tag.ns[""];
    if (content !== NS.server && !(this.acceptClient && content === NS.client)) {
      this.abort("invalid-namespace", "content namespace");
    }
    const attrs: Record<string, string> = {};
    for (const name in tag.attributes) {
      const attr = tag.attributes[name];
      if (attr !== undefined && attr.prefix !== "xmlns" && name !== "xmlns") attrs[name] = attr.value;
    }
    this.state = "open";
    this.startRegion(position);
    this.events.onStreamStart({ attrs, namespaces: { ...tag.ns } });
    if (this.resetRequested) throw ABORT;
  }

  private openElement(tag: SaxesTagNS): void {
    const own = tag.attributes;
    const attrs: Record<string, string> = {};
    for (const name in own) {
      const attr = own[name];
      if (attr === undefined) continue;
      attrs[name] = attr.value;
      if (attr.prefix !== "" && attr.prefix !== "xmlns" && attr.prefix !== "xml")
        this.declare(attrs, own, attr.prefix, attr.uri);
    }
    // XML Namespaces §6: a stanza inherits bindings from the root; declare them on the element so
    // the detached ltx element still resolves its namespace.
    if (tag.prefix === "") {
      if (this.level === 2 && attrs.xmlns === undefined && tag.uri !== "") attrs.xmlns = tag.uri;
    } else if (tag.prefix !== "xml") {
      this.declare(attrs, own, tag.prefix, tag.uri);
    }
    const el = new Element(tag.name);
    el.attrs = attrs;
    const parent = this.stack[this.stack.length - 1];
    if (parent !== undefined) {
      parent.children.push(el);
      el.parent = parent;
    }
    this.stack.push(el);
  }

  private declare(
    attrs: Record<string, string>,
    own: Record<string, SaxesAttributeNS>,
    prefix: string,
    uri: string,
  ): void {
    const key = `xmlns:${prefix}`;
    if (own[key] !== undefined || attrs[key] !== undefined) return;
    for (let i = this.stack.length - 1; i >= 0; i--) if (this.stack[i]?.attrs[key] !== undefined) return;
    attrs[key] = uri;
  }

  private text(text: string, position: number): void {
    this.looseChecked = 0;
    if (this.pending !== null || this.pendingEnd) {
      if (this.flush()) throw ABORT;
    }
    const top = this.stack[this.stack.length - 1];
    if (top !== undefined) {
      const children = top.children;
      const last = children.length - 1;
      const prev = children[last];
      if (typeof prev === "string") children[last] = prev + text;
      else children.push(text);
      return;
    }
    if (this.level !== 1) return;
    // RFC 6120 §4.6.1: whitespace between stanzas is a keepalive; other text has no place there.
    if (!WHITESPACE.test(text)) this.abort("bad-format", "text between stanzas");
    // saxes reports the text once it has read the next "<": the stanza region starts there.
    this.startRegion(position - 1);
  }
}
