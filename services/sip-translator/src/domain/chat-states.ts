/**
 * Chat states across the gateway: XEP-0085 on the XMPP side, RFC 3994 isComposing on the SIP side.
 * RFC 3994 knows two states (active: composing; idle: not), XEP-0085 five; the mapping is below.
 * Pure: documents are built with the xmpp package's builder and read with its restricted parser.
 *
 * Checked: the XEP-0085 side against XEP-0085 v2.1 itself (§2 Definitions, §5.3 Repetition, §5.6
 * Syntax of Notifications; the stored xsf/xeps source). NOT verified: the RFC 3994 side (states,
 * refresh, schema): every stored copy of RFC 3994 shows only its opening pages; the section numbers
 * cited for it below are from memory (a secondary summary of the RFC agrees on the 60 s minimum
 * refresh and the 120 s default).
 */
import { NS, parseElements, serialize, xml, type Element, type StreamParserLimits } from "@passerelle/xmpp";

// RFC 3994 §7.1: the MIME type of an isComposing document.
export const ISCOMPOSING_CONTENT_TYPE = "application/im-iscomposing+xml";
// RFC 3994 §7.2: the namespace of the isComposing document.
export const ISCOMPOSING_NS = "urn:ietf:params:xml:ns:im-iscomposing";
/** Seconds we ask the SIP side to keep showing "composing" without a refresh (RFC 3994 §3: refresh ≥ 60 recommended, 120 default timeout). */
export const COMPOSING_REFRESH_SECONDS = 90;

// XEP-0085 §2 (table "Chat States"): the five chat states.
export type ChatState = "active" | "composing" | "paused" | "inactive" | "gone";
// RFC 3994 §3: the two isComposing states.
export type IsComposingState = "active" | "idle";

const CHAT_STATES: readonly ChatState[] = ["active", "composing", "paused", "inactive", "gone"];

/** The XEP-0085 chat state a message carries, if any (XEP-0085 §5.6 rule 1: at most one per message; the first is taken). */
export function chatStateOf(stanza: Element): ChatState | undefined {
  for (const child of stanza.children) {
    if (typeof child === "string") continue;
    if (child.getNS() !== NS.chatStates) continue;
    const name = child.getName();
    if ((CHAT_STATES as readonly string[]).includes(name)) return name as ChatState;
  }
  return undefined;
}

/**
 * XEP-0085 → RFC 3994. Only <composing/> ("User is composing a message", XEP-0085 §2) is "active"
 * (RFC 3994: active = composing); <paused/> ("had been composing but now has stopped"), <active/>
 * ("actively participating", not typing), <inactive/> and <gone/> (not participating) are all
 * "idle" (RFC 3994: idle = not composing).
 */
export function isComposingStateFor(state: ChatState): IsComposingState {
  return state === "composing" ? "active" : "idle";
}

/** RFC 3994 → XEP-0085: active → <composing/>; idle → <paused/> (XEP-0085 §2: "had been composing but now has stopped"). */
export function chatStateFor(state: IsComposingState): ChatState {
  return state === "active" ? "composing" : "paused";
}

// RFC 3994 §5 (schema): isComposing = state, lastactive?, contenttype?, refresh?; refresh only with state active (§3).
export function buildIsComposing(state: IsComposingState, options: { refresh?: number; contentType?: string } = {}): string {
  const refresh = state === "active" ? (options.refresh ?? COMPOSING_REFRESH_SECONDS) : undefined;
  return serialize(
    xml(
      "isComposing",
      { xmlns: ISCOMPOSING_NS },
      xml("state", {}, state),
      options.contentType === undefined ? undefined : xml("contenttype", {}, options.contentType),
      refresh === undefined ? undefined : xml("refresh", {}, String(refresh)),
    ),
  );
}

export interface IsComposingDocument {
  state: IsComposingState;
  refresh?: number;
  lastactive?: string;
  contentType?: string;
}

export class IsComposingError extends Error {
  override name = "IsComposingError";
  constructor(
    readonly status: 400 | 415,
    message: string,
  ) {
    super(message);
  }
}

/** An isComposing document is tiny (RFC 3994 §5); anything bigger or deeper is refused. */
export const ISCOMPOSING_LIMITS: StreamParserLimits = { maxStanzaBytes: 2048, maxDepth: 4, maxAttributesPerElement: 4, maxHeaderBytes: 512 };
const MAX_FIELD = 256;
const utf8 = new TextDecoder("utf-8", { fatal: true });
// XML 1.0 §2.8: an optional declaration at the very start; RFC 3994 §5 documents are UTF-8.
const DECLARATION = /^\uFEFF?<\?xml\s+version\s*=\s*["']1\.0["'](?:\s+encoding\s*=\s*["']([A-Za-z0-9._-]+)["'])?(?:\s+standalone\s*=\s*["'](?:yes|no)["'])?\s*\?>/;

/** RFC 3994 §5: read an isComposing document, with the restricted XML parser and small limits. Throws IsComposingError. */
export function parseIsComposing(body: Buffer): IsComposingDocument {
  if (body.length > ISCOMPOSING_LIMITS.maxStanzaBytes) throw new IsComposingError(400, "isComposing document too large");
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new IsComposingError(400, "isComposing document is not UTF-8");
  }
  const decl = DECLARATION.exec(text);
  if (decl !== null) {
    const encoding = decl[1]?.toLowerCase();
    if (encoding !== undefined && encoding !== "utf-8" && encoding !== "us-ascii") throw new IsComposingError(415, "isComposing document not in UTF-8");
    text = text.slice(decl[0].length);
  } else if (text.startsWith("\uFEFF")) {
    text = text.slice(1);
  }
  const parsed = parseElements(text, ISCOMPOSING_LIMITS);
  if (!parsed.ok) {
    const failure = `${parsed.error.condition}${parsed.error.text ? ": " + parsed.error.text : ""}`;
    throw new IsComposingError(400, `bad isComposing document (${failure.slice(0, 80)})`);
  }
  const found = parsed.elements;
  // Only whitespace may follow the root; text outside it would be dropped silently by the stream parser.
  if (found.length !== 1) throw new IsComposingError(400, `expected one isComposing document, found ${found.length}`);
  const root = found[0]!;
  if (root.getName() !== "isComposing" || root.getNS() !== ISCOMPOSING_NS) throw new IsComposingError(400, "not an isComposing document");

  const field = (name: string): string | undefined => {
    const els = root.getChildren(name).filter((c) => c.getNS() === ISCOMPOSING_NS);
    if (els.length > 1) throw new IsComposingError(400, `more than one <${name}>`);
    const value = els[0]?.getText().trim();
    if (value !== undefined && value.length > MAX_FIELD) throw new IsComposingError(400, `<${name}> too long`);
    return value;
  };
  const state = field("state");
  if (state === undefined) throw new IsComposingError(400, "isComposing without <state>");
  // RFC 3994 §3 defines only "active" and "idle".
  if (state !== "active" && state !== "idle") throw new IsComposingError(400, "unknown isComposing state");
  const doc: IsComposingDocument = { state };
  const refresh = field("refresh");
  if (refresh !== undefined) {
    // RFC 3994 §5: refresh is a positive integer (seconds).
    if (!/^[0-9]{1,9}$/.test(refresh) || Number(refresh) === 0) throw new IsComposingError(400, "bad <refresh>");
    doc.refresh = Number(refresh);
  }
  const lastactive = field("lastactive");
  if (lastactive !== undefined) doc.lastactive = lastactive;
  const contentType = field("contenttype");
  if (contentType !== undefined) doc.contentType = contentType;
  return doc;
}
