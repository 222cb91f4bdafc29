// The element model (ltx) and a builder that never lets a caller's string break the XML.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- ltx ships no types; this pulls ours in for every consumer's program
/// <reference path="./vendor-types.d.ts" />
import { Element } from "ltx";

export { Element };

// XML 1.0 §2.2 Char: anything outside it (controls, lone surrogates, U+FFFE/U+FFFF) cannot be sent at all.
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Replaces characters that XML 1.0 cannot carry (even escaped) with U+FFFD. */
export function xmlSafe(s: string): string {
  NOT_XML_CHAR.lastIndex = 0;
  return NOT_XML_CHAR.test(s) ? s.replace(NOT_XML_CHAR, "\uFFFD") : s;
}

/**
 * Builds an element. Attributes whose value is undefined are left out; undefined children are
 * skipped; strings become text. ltx escapes markup characters when serializing, and characters
 * XML cannot carry are replaced here, so no caller-provided string can alter the structure.
 */
export function xml(
  name: string,
  attrs?: Record<string, string | undefined>,
  ...children: (Element | string | undefined)[]
): Element {
  const el = new Element(name);
  if (attrs !== undefined) {
    for (const key of Object.keys(attrs)) {
      const value = attrs[key];
      if (value !== undefined) el.attrs[key] = xmlSafe(value);
    }
  }
  for (const child of children) {
    if (child === undefined) continue;
    el.cnode(typeof child === "string" ? xmlSafe(child) : child);
  }
  return el;
}

/** The element as XML text. */
export function serialize(el: Element): string {
  return el.toString();
}
