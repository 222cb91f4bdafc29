export { NS } from "./namespaces.ts";
export { Element, xml, serialize, xmlSafe } from "./element.ts";
export { Jid, JidError, escapeLocal, unescapeLocal } from "./jid.ts";
export { StreamError, streamErrorElement, type StreamErrorCondition } from "./stream-error.ts";
export { stanzaErrorReply, type StanzaErrorType, type StanzaErrorCondition } from "./stanza-error.ts";
export { streamHeader, STREAM_CLOSE } from "./stream-header.ts";
export { streamFeatures } from "./features.ts";
export {
  StreamParser,
  type StreamParserLimits,
  type StreamHeader,
  type StreamParserEvents,
  type StreamParserOptions,
} from "./stream-parser.ts";
export { dialbackKey, keysEqual } from "./dialback-key.ts";
export { parseElements, type ParsedElements } from "./parse-elements.ts";
