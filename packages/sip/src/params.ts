/**
 * Header parameters (RFC 3261 §25.1 generic-param = token [ EQUAL gen-value ], gen-value = token / host /
 * quoted-string), as found after a name-addr or a Via.
 */
import { SipParseError } from "./errors.ts";

/** Parameter names lower-cased; a value-less parameter is null; quoted values keep their quotes. */
export type HeaderParams = Map<string, string | null>;

const PARAM_NAME = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const PARAM_VALUE = /^(?:[A-Za-z0-9\-.!%*_+`'~:]+|\[[0-9A-Fa-f:.]+\])$/;

/** Parse ";a=b;c;d="q s"" (text starting at the first ';', or empty). */
export function parseParams(text: string, what: string): HeaderParams {
  const params: HeaderParams = new Map();
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === " " || text[i] === "\t")) i++;
    if (i >= n) break;
    if (text[i] !== ";") throw new SipParseError("bad-header", `${what}: expected ';' at ${JSON.stringify(text.slice(i, i + 20))}`);
    i++;
    let j = i;
    while (j < n && text[j] !== "=" && text[j] !== ";") j++;
    const name = text.slice(i, j).trim().toLowerCase();
    if (!PARAM_NAME.test(name)) throw new SipParseError("bad-header", `${what}: bad parameter name ${JSON.stringify(name.slice(0, 40))}`);
    let value: string | null = null;
    if (text[j] === "=") {
      j++;
      while (j < n && (text[j] === " " || text[j] === "\t")) j++;
      if (text[j] === '"') {
        const end = quotedEnd(text, j);
        value = text.slice(j, end);
        j = end;
      } else {
        let k = j;
        while (k < n && text[k] !== ";") k++;
        value = text.slice(j, k).trim();
        if (!PARAM_VALUE.test(value)) throw new SipParseError("bad-header", `${what}: bad value for ${name}`);
        j = k;
      }
    }
    if (params.has(name)) throw new SipParseError("bad-header", `${what}: parameter ${name} repeated`);
    params.set(name, value);
    i = j;
  }
  return params;
}

/** Index just past the closing quote of the quoted-string starting at `start`. */
export function quotedEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return i + 1;
  }
  throw new SipParseError("bad-header", "unterminated quoted string");
}

export function formatParams(params: HeaderParams): string {
  let s = "";
  for (const [name, value] of params) s += `;${name}${value === null ? "" : "=" + value}`;
  return s;
}

/** Quote a string as a quoted-string (RFC 3261 §25.1), escaping '"' and '\'. */
export function quote(s: string): string {
  return '"' + s.replace(/[\\"]/g, (c) => "\\" + c).replace(/[\r\n]/g, " ") + '"';
}

export function unquote(s: string): string {
  if (!s.startsWith('"')) return s;
  return s.slice(1, -1).replace(/\\(.)/g, "$1");
}
