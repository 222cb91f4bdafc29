/**
 * Presence across the gateway (RFC 8048 §6): an XMPP <presence/> (available or unavailable, with
 * show, status and priority) ↔ a PIDF document (RFC 3863, application/pidf+xml) carrying RPID
 * activities (RFC 4480) in a data-model person (RFC 4479). Pure: no sockets, no clocks.
 *
 * The PIDF is built with the xmpp package's xml() builder and read with its restricted stream
 * parser (no DTD, no entities, no processing instructions, bounded size and depth).
 *
 * NOT verified against RFC 8048: every stored copy of RFC 8048, RFC 7248 and their drafts shows
 * only the opening pages, so the <show/> ↔ RPID rows, "chat" carrying no activity, xa → away, the
 * priority scaling and the tuple-id rule are our reading. Only the RPID activity names used below
 * were seen in a list of the RFC 4480 activities (a third party's, not the RFC text).
 */
import { createHash } from "node:crypto";
import type { PartnerType } from "@passerelle/config";
import { NS, parseElements, STREAM_CLOSE, xml, type Element } from "@passerelle/xmpp";

export const PIDF_CONTENT_TYPE = "application/pidf+xml";
export const NS_PIDF = "urn:ietf:params:xml:ns:pidf";
export const NS_DM = "urn:ietf:params:xml:ns:pidf:data-model";
export const NS_RPID = "urn:ietf:params:xml:ns:pidf:rpid";
const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

/** Largest PIDF body read by default (bytes). */
export const DEFAULT_MAX_PIDF_BYTES = 64 * 1024;
/** Longest status note carried either way (UTF-16 units); longer ones are cut. */
export const MAX_NOTE_CHARS = 1024;

// RFC 6121 §4.7.2.1: the four defined <show/> values.
export type PresenceShow = "away" | "chat" | "dnd" | "xa";
const SHOWS: readonly PresenceShow[] = ["away", "chat", "dnd", "xa"];

/** Presence as both sides understand it. */
export interface PresenceInfo {
  available: boolean;
  show?: PresenceShow;
  status?: string;
  /** XMPP priority, an integer in -128..127 (RFC 6121 §4.7.2.3). */
  priority?: number;
}

// Partner-type rule (MISSION §1): only Federated partners see an internal user's status note.
/** The includeNote option for presence going to (or coming from) a partner of this type. */
export function noteVisibleTo(partnerType: PartnerType): boolean {
  return partnerType === "federated";
}

/** A PIDF body that could not be read; the SIP side answers it with 400. */
export class PidfError extends Error {
  override readonly name = "PidfError";
}

// RFC 6121 §4.7.1: no 'type' means available; 'unavailable' is the only other presence-state type.
/** Reads the presence state of an XMPP <presence/> stanza; null when the stanza is not about availability. */
export function readXmppPresence(stanza: Element): PresenceInfo | null {
  if (stanza.getName() !== "presence") return null;
  const type = stanza.attrs.type;
  if (type !== undefined && type !== "unavailable") return null;
  const info: PresenceInfo = { available: type === undefined };
  // RFC 6121 §4.7.2.1: an unknown <show/> value is treated as absent (plain available).
  const show = stanza.getChildText("show")?.trim();
  if (info.available && show !== undefined && (SHOWS as readonly string[]).includes(show)) info.show = show as PresenceShow;
  const status = pickStatus(stanza);
  if (status !== undefined) info.status = status;
  // RFC 6121 §4.7.2.3: priority is an integer -128..127; anything else is ignored.
  const priority = stanza.getChildText("priority")?.trim();
  if (priority !== undefined && /^[+-]?\d{1,3}$/.test(priority)) {
    const n = Number(priority);
    if (n >= -128 && n <= 127) info.priority = n;
  }
  return info;
}

// RFC 6121 §4.7.2.2: several <status/> may differ by xml:lang; take the one without xml:lang, else the first.
function pickStatus(stanza: Element): string | undefined {
  const all = stanza.getChildren("status");
  const chosen = all.find((s) => s.attrs["xml:lang"] === undefined) ?? all[0];
  const text = chosen?.getText();
  return text === undefined || text === "" ? undefined : text.slice(0, MAX_NOTE_CHARS);
}

/** Builds the XMPP <presence/> for a presence state read from SIP. */
export function buildXmppPresence(
  info: PresenceInfo,
  addr: { from: string; to: string; id?: string },
  options: { includeNote: boolean },
): Element {
  const status = options.includeNote && info.status !== undefined ? info.status.slice(0, MAX_NOTE_CHARS) : undefined;
  return xml(
    "presence",
    { from: addr.from, to: addr.to, id: addr.id, type: info.available ? undefined : "unavailable" },
    info.available && info.show !== undefined ? xml("show", {}, info.show) : undefined,
    status !== undefined ? xml("status", {}, status) : undefined,
    info.available && info.priority !== undefined && info.priority !== 0 ? xml("priority", {}, String(info.priority)) : undefined,
  );
}

// RFC 8048 §6.2 maps the XMPP resource to the tuple 'id'; an id must be an XML NCName, so it is derived.
/** A stable tuple id (an XML NCName) for an XMPP resource. */
export function tupleIdForResource(resource: string | undefined): string {
  return "r" + createHash("sha256").update(resource ?? "", "utf8").digest("hex").slice(0, 16);
}

// RFC 4480 §3.2: the RPID activity that stands for each <show/> value (none for plain available and chat).
const SHOW_TO_ACTIVITY: Record<PresenceShow, string | undefined> = {
  away: "away",
  xa: "away",
  dnd: "busy",
  chat: undefined,
};

// RFC 4480 §3.2: RPID activities read back as <show/>; the first match in this order wins (dnd over xa over away).
const ACTIVITY_TO_SHOW: readonly (readonly [PresenceShow, readonly string[]])[] = [
  ["dnd", ["busy", "on-the-phone", "meeting", "presentation", "performance", "appointment", "worship"]],
  ["xa", ["vacation", "holiday", "permanent-absence", "sleeping"]],
  ["away", ["away", "meal", "breakfast", "lunch", "dinner", "in-transit", "travel", "shopping", "steering"]],
];

// XMPP priority -128..127 ↔ PIDF contact priority 0..1 (RFC 3863 §4.1.5); negative priorities become 0.
function priorityToPidf(priority: number): string {
  const q = Math.min(127, Math.max(0, priority)) / 127;
  return String(Math.round(q * 1000) / 1000);
}
function priorityFromPidf(q: string): number | undefined {
  if (!/^(0(\.\d{1,3})?|1(\.0{1,3})?)$/.test(q.trim())) return undefined;
  return Math.round(Number(q) * 127);
}

export interface PidfBuildOptions {
  /** The presentity, e.g. sip:juliet@sip.contoso.com (RFC 3863 §4.1.1 'entity'). */
  entity: string;
  /** The tuple id (an XML NCName), e.g. tupleIdForResource(resource). */
  tupleId: string;
  /** The contact URI of the tuple; the priority is only carried with it (RFC 3863 §4.1.5). */
  contact?: string;
  /** False drops the status note (partners other than Federated never see it). */
  includeNote: boolean;
}

// RFC 8048 §6.2 (XMPP to SIP): availability → <basic/>, show → RPID activities, status → <note/>.
/** The PIDF body for an XMPP presence state. */
export function presenceToPidf(info: PresenceInfo, options: PidfBuildOptions): string {
  const activity = info.available && info.show !== undefined ? SHOW_TO_ACTIVITY[info.show] : undefined;
  const note = options.includeNote && info.status !== undefined && info.status !== "" ? info.status.slice(0, MAX_NOTE_CHARS) : undefined;
  const contact =
    options.contact !== undefined
      ? xml("contact", { priority: info.priority !== undefined ? priorityToPidf(info.priority) : undefined }, options.contact)
      : undefined;
  const doc = xml(
    "presence",
    { xmlns: NS_PIDF, "xmlns:dm": NS_DM, "xmlns:rpid": NS_RPID, entity: options.entity },
    xml(
      "tuple",
      { id: options.tupleId },
      xml("status", {}, xml("basic", {}, info.available ? "open" : "closed")),
      contact,
      note !== undefined ? xml("note", {}, note) : undefined,
    ),
    activity !== undefined
      ? xml("dm:person", { id: `p${options.tupleId}` }, xml("rpid:activities", {}, xml(`rpid:${activity}`)))
      : undefined,
  );
  return XML_DECLARATION + doc.toString();
}

export interface PidfReadOptions {
  /** False drops the status note. */
  includeNote: boolean;
  /** Largest body accepted, in bytes (default DEFAULT_MAX_PIDF_BYTES). */
  maxBytes?: number;
}

// RFC 8048 §6.3 (SIP to XMPP): any open tuple → available, else unavailable; activities → show; note → status.
/** Reads a PIDF body into a presence state; throws PidfError on anything it will not read. */
export function pidfToPresence(body: string, options: PidfReadOptions): PresenceInfo {
  const root = parsePidf(body, options.maxBytes ?? DEFAULT_MAX_PIDF_BYTES);
  const tuples = root.getChildren("tuple", NS_PIDF);
  let best: { tuple: Element; priority: number } | undefined;
  for (const tuple of tuples) {
    const basic = tuple.getChild("status", NS_PIDF)?.getChild("basic", NS_PIDF)?.getText().trim();
    if (basic !== "open") continue;
    const q = tuple.getChild("contact", NS_PIDF)?.attrs.priority;
    const priority = q !== undefined ? (priorityFromPidf(q) ?? 0) : 0;
    if (best === undefined || priority > best.priority) best = { tuple, priority };
  }
  const info: PresenceInfo = { available: best !== undefined };
  if (best !== undefined) {
    const show = showFromActivities(root);
    if (show !== undefined) info.show = show;
    const q = best.tuple.getChild("contact", NS_PIDF)?.attrs.priority;
    if (q !== undefined && priorityFromPidf(q) !== undefined) info.priority = best.priority;
  }
  if (options.includeNote) {
    const note = firstNote(root, best?.tuple ?? tuples[0]);
    if (note !== undefined) info.status = note;
  }
  return info;
}

// RFC 4480 §3.2: activities live in <rpid:activities/>, inside a data-model <dm:person/> (RFC 4479 §3.3).
function showFromActivities(root: Element): PresenceShow | undefined {
  const names = new Set<string>();
  const holders = [root, ...root.getChildren("person", NS_DM)];
  for (const holder of holders)
    for (const acts of holder.getChildren("activities", NS_RPID))
      for (const a of acts.getChildElements()) if (a.getNS() === NS_RPID) names.add(a.getName());
  for (const [show, activities] of ACTIVITY_TO_SHOW) if (activities.some((a) => names.has(a))) return show;
  return undefined;
}

// RFC 3863 §4.1.6 / RFC 4479 §3.3: a note in the chosen tuple, else on the person, else on the document.
function firstNote(root: Element, tuple: Element | undefined): string | undefined {
  const candidates = [
    tuple?.getChild("note", NS_PIDF),
    root.getChild("person", NS_DM)?.getChild("note", NS_DM),
    root.getChild("note", NS_PIDF),
  ];
  for (const c of candidates) {
    const text = c?.getText().trim();
    if (text !== undefined && text !== "") return text.slice(0, MAX_NOTE_CHARS);
  }
  return undefined;
}

const DECLARATION = /^\uFEFF?(<\?xml\s[^?>]*\?>)/;

/**
 * Parses a standalone PIDF document with the restricted stream parser: the document is fed as the
 * only stanza of a synthetic stream, so DTDs, entities, comments and processing instructions are
 * refused exactly as on an s2s stream.
 */
export function parsePidf(body: string, maxBytes: number = DEFAULT_MAX_PIDF_BYTES): Element {
  const bytes = Buffer.byteLength(body, "utf8");
  if (bytes > maxBytes) throw new PidfError(`PIDF body too large (${bytes} bytes, limit ${maxBytes})`);
  let rest = body;
  const m = DECLARATION.exec(body);
  if (m?.[1] !== undefined) {
    // The synthetic stream header carries the only XML declaration; the body's own is checked, then dropped.
    const declaration = m[1];
    // RFC 3863 §3.1: PIDF is UTF-8 (or UTF-16); only UTF-8 is accepted here.
    const enc = /encoding\s*=\s*["']([^"']*)["']/.exec(declaration)?.[1];
    if (enc !== undefined && enc.toLowerCase() !== "utf-8") throw new PidfError(`PIDF encoding ${enc.slice(0, 20)} not supported`);
    rest = body.slice(m[0].length);
  }
  // The closing tag turns an unclosed document into a parse error rather than an empty result.
  const parsed = parseElements(rest + STREAM_CLOSE, { maxStanzaBytes: maxBytes, maxDepth: 16, maxAttributesPerElement: 16, maxHeaderBytes: 512 });
  const failure = parsed.ok ? undefined : parsed.error;
  const elements = parsed.ok ? parsed.elements : [];
  if (failure !== undefined) throw new PidfError(`PIDF refused: ${failure.message}`);
  if (elements.length !== 1) throw new PidfError(elements.length === 0 ? "PIDF body has no document element" : "PIDF body has more than one document element");
  const root = elements[0] as Element;
  // RFC 3863 §4.1: the root is <presence/> in the PIDF namespace.
  const ns = root.getNS();
  if (root.getName() !== "presence" || ns !== NS_PIDF) {
    const where = ns === undefined || ns === NS.server ? "no namespace" : ns.slice(0, 80);
    throw new PidfError(`not a PIDF document: <${root.getName().slice(0, 40)}> in ${where}`);
  }
  return root;
}
