/** Settings of the dns-registrar beyond the shared configuration file, checked once at start. */
import { isIP } from "node:net";

/**
 * `dns.server` is "host:port" (or a bare IP, port 53); node:dns wants an IP address: a host name
 * here is a configuration error, reported at start rather than on the first lookup.
 */
export function parseDnsServer(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  const plain = /^([^:]+)(?::(\d+))?$/.exec(value);
  const host = bracketed?.[1] ?? plain?.[1] ?? (isIP(value) === 6 ? value : undefined);
  const port = Number(bracketed?.[2] ?? plain?.[2] ?? 53);
  if (host === undefined || isIP(host) === 0) throw new Error(`dns.server: ${JSON.stringify(value)} is not an IP address (with an optional :port)`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`dns.server: bad port in ${JSON.stringify(value)}`);
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `dns.publish.server`: the same "IP[:port]" form, split for the UDP/TCP update client. */
export function parsePublishServer(value: string): { host: string; port: number } {
  let normalized: string;
  try {
    normalized = parseDnsServer(value) ?? value;
  } catch (err) {
    throw new Error((err as Error).message.replace(/^dns\.server/, "dns.publish.server"));
  }
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(normalized);
  if (match?.[1] === undefined || match[2] === undefined) throw new Error(`dns.publish.server: ${JSON.stringify(value)} is not an IP address (with an optional :port)`);
  return { host: match[1], port: Number(match[2]) };
}
