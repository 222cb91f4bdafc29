import { JidError } from "./jid-error.ts";

// XEP-0106 §3.2: the characters a localpart cannot hold, and their escapes (lower-case hex).
const ESCAPES: Record<string, string> = {
  " ": "\\20",
  '"': "\\22",
  "&": "\\26",
  "'": "\\27",
  "/": "\\2f",
  ":": "\\3a",
  "<": "\\3c",
  ">": "\\3e",
  "@": "\\40",
  "\\": "\\5c",
};
const UNESCAPES: Record<string, string> = Object.fromEntries(Object.entries(ESCAPES).map(([c, e]) => [e, c]));

/**
 * XEP-0106 §3.2 escaping of a localpart. Every backslash is escaped, as in the examples of
 * XEP-0106 §5.1 (e.g. "c:\net" → "c\3a\5cnet"); unescaping undoes it exactly.
 * Throws JidError on a leading or trailing space (XEP-0106 §4.1 rule 6).
 */
export function escapeLocal(s: string): string {
  if (s.startsWith(" ") || s.endsWith(" "))
    throw new JidError("a localpart cannot start or end with a space");
  return s.replace(/[ "&'/:<>@\\]/g, (c) => ESCAPES[c] ?? c);
}

// XEP-0106 §3.3 + §4.3: only the ten defined sequences are unescaped; partial or unknown ones stay.
export function unescapeLocal(s: string): string {
  return s.replace(/\\(?:20|22|26|27|2f|3a|3c|3e|40|5c)/g, (e) => UNESCAPES[e] ?? e);
}
