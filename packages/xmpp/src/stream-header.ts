import { escapeXML } from "ltx";
import { xmlSafe } from "./element.ts";
import { NS } from "./namespaces.ts";

function attr(name: string, value: string | undefined): string {
  return value === undefined ? "" : ` ${name}='${escapeXML(xmlSafe(value))}'`;
}

/**
 * The opening stream header of a server-to-server stream (RFC 6120 §4.7), with the XML declaration.
 * `version` defaults to "1.0" (RFC 6120 §4.7.5); pass `dialback: true` to declare the db prefix
 * (XEP-0220 §2.1).
 */
export function streamHeader(opts: {
  from?: string;
  to?: string;
  id?: string;
  version?: string;
  lang?: string;
  dialback?: boolean;
}): string {
  return (
    "<?xml version='1.0'?><stream:stream" +
    attr("xmlns", NS.server) +
    attr("xmlns:stream", NS.streams) +
    (opts.dialback === true ? attr("xmlns:db", NS.dialback) : "") +
    attr("from", opts.from) +
    attr("to", opts.to) +
    attr("id", opts.id) +
    attr("version", opts.version ?? "1.0") +
    attr("xml:lang", opts.lang) +
    ">"
  );
}

// RFC 6120 §4.4: closing the stream.
export const STREAM_CLOSE = "</stream:stream>";
