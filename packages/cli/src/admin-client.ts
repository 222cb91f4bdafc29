/**
 * A client of the policy service's admin REST API (docs: services/policy/README.md): bearer
 * token, or a client certificate on the API's TLS listener (--cert/--key/--ca), JSON in and out (YAML for export/import), every failure a CliError carrying the
 * server's reason — plus the matrix row or the list of problems when the server names them.
 */
import { resolve } from "node:path";
import type { OptionSpecs, ParsedArgs } from "./args.ts";
import { str } from "./args.ts";
import type { CliContext } from "./command.ts";
import { CliError } from "./errors.ts";
import { readBounded } from "./files.ts";
import { tlsFetch, type ClientTls } from "./tls-fetch.ts";

export const DEFAULT_ADMIN_URL = "http://127.0.0.1:9103";
/** Answers larger than this are refused (an export of thousands of partners is well below). */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const TIMEOUT_MS = 15_000;

export const adminOptions: OptionSpecs = {
  url: { type: "string", placeholder: "URL", description: `the policy service's admin API (default: $PASSERELLE_ADMIN_URL, else ${DEFAULT_ADMIN_URL})` },
  "token-file": { type: "string", placeholder: "FILE", description: "a file holding the bearer token (default: $PASSERELLE_ADMIN_TOKEN)" },
  cert: { type: "string", placeholder: "FILE", description: "client certificate (PEM) for the admin API's TLS listener, instead of a token (default: $PASSERELLE_ADMIN_CERT)" },
  key: { type: "string", placeholder: "FILE", description: "the client certificate's unencrypted private key (PEM) (default: $PASSERELLE_ADMIN_KEY)" },
  ca: { type: "string", placeholder: "FILE", description: "CA (PEM) that signed the admin API's server certificate (default: $PASSERELLE_ADMIN_CA, else the system's CAs)" },
  json: { type: "boolean", description: "print the server's answer as JSON" },
};

export interface AdminResponse {
  status: number;
  /** Parsed JSON when the answer is JSON, else the text. */
  body: unknown;
  text: string;
}

export interface RequestOptions {
  json?: unknown;
  yaml?: string;
  query?: Record<string, string>;
}

/** The server's error document: { error, reason, ...extra }. */
interface ErrorBody {
  error?: unknown;
  reason?: unknown;
  row?: unknown;
  problems?: unknown;
}

export class AdminClient {
  constructor(
    readonly baseUrl: string,
    /** undefined: the client certificate authenticates. */
    private readonly token: string | undefined,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  /** Build from --url / --token-file and the environment. */
  static from(args: ParsedArgs, ctx: CliContext): AdminClient {
    const raw = str(args, "url") ?? ctx.env.PASSERELLE_ADMIN_URL ?? DEFAULT_ADMIN_URL;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new CliError(`--url: not a URL: "${raw}"`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new CliError(`--url: expected http:// or https://, got "${raw}"`);
    const tls = clientTls(args, ctx);
    if (tls !== undefined && url.protocol !== "https:") throw new CliError(`--cert/--key/--ca need an https:// --url (the admin API's TLS listener), got "${raw}"`);
    const tokenFile = str(args, "token-file");
    let token: string | undefined;
    if (tokenFile === undefined && tls?.cert !== undefined && (ctx.env.PASSERELLE_ADMIN_TOKEN ?? "").trim() === "") {
      // The certificate is the credential.
    } else if (tokenFile !== undefined) {
      const path = resolve(ctx.cwd, tokenFile);
      token = readBounded(path, "--token-file", 16 * 1024).split(/\r?\n/, 1)[0]?.trim();
      if (token === undefined || token.length === 0) throw new CliError(`--token-file: ${path} holds no token`);
    } else {
      token = ctx.env.PASSERELLE_ADMIN_TOKEN?.trim();
      if (token === undefined || token.length === 0) throw new CliError("no admin credentials: set PASSERELLE_ADMIN_TOKEN, pass --token-file, or --cert and --key for the TLS listener");
    }
    if (token !== undefined && (/[\r\n\0]/.test(token) || token.length > 4096)) throw new CliError("the admin token is not usable (control characters or longer than 4096)");
    return new AdminClient(url.toString().replace(/\/+$/, ""), token, tls === undefined ? fetch : tlsFetch(tls));
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<AdminResponse> {
    const query = options.query === undefined ? "" : `?${new URLSearchParams(options.query).toString()}`;
    const url = `${this.baseUrl}${path}${query}`;
    const headers: Record<string, string> = { accept: "application/json, text/yaml" };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    let body: string | undefined;
    if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.yaml !== undefined) {
      headers["content-type"] = "text/yaml";
      body = options.yaml;
    }
    let response: Response;
    try {
      response = await this.fetchImpl(url, { method, headers, ...(body === undefined ? {} : { body }), signal: AbortSignal.timeout(TIMEOUT_MS), redirect: "error" });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === "TimeoutError" ? `no answer within ${TIMEOUT_MS / 1000} s` : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new CliError(`cannot reach the admin API at ${this.baseUrl}: ${why}`);
    }
    if (response.status >= 300 && response.status < 400) throw new CliError(`the admin API answered ${response.status} (a redirect, not followed)`);
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > MAX_RESPONSE_BYTES) throw new CliError(`the admin API answered ${declared} bytes, more than the ${MAX_RESPONSE_BYTES} accepted`);
    const text = await readLimited(response);
    const type = response.headers.get("content-type") ?? "";
    let parsed: unknown = text;
    if (type.includes("json") && text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new CliError(`the admin API answered ${response.status} with malformed JSON`);
      }
    }
    if (response.status >= 400) throw errorFrom(response.status, parsed, text);
    return { status: response.status, body: parsed, text };
  }
}

/** PEM files are small; a bundle of CAs is the largest. */
const MAX_PEM_BYTES = 1024 * 1024;

/** --cert/--key/--ca (or $PASSERELLE_ADMIN_CERT/_KEY/_CA), read; undefined when none is given. */
function clientTls(args: ParsedArgs, ctx: CliContext): ClientTls | undefined {
  const pick = (option: string, variable: string): string | undefined => {
    const value = str(args, option) ?? ctx.env[variable];
    return value === undefined || value.trim() === "" ? undefined : resolve(ctx.cwd, value);
  };
  const certFile = pick("cert", "PASSERELLE_ADMIN_CERT");
  const keyFile = pick("key", "PASSERELLE_ADMIN_KEY");
  const caFile = pick("ca", "PASSERELLE_ADMIN_CA");
  if (certFile === undefined && keyFile === undefined && caFile === undefined) return undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new CliError("--cert and --key go together: the client certificate and its private key");
  const tls: ClientTls = {};
  const pem = (path: string, what: string, marker: RegExp, expected: string): string => {
    const text = readBounded(path, what, MAX_PEM_BYTES);
    if (!marker.test(text)) throw new CliError(`${what}: ${path} holds no PEM ${expected}`);
    return text;
  };
  if (certFile !== undefined) tls.cert = pem(certFile, "--cert", /-----BEGIN CERTIFICATE-----/, "certificate");
  if (keyFile !== undefined) {
    tls.key = pem(keyFile, "--key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/, "private key");
    if (tls.key.includes("ENCRYPTED")) throw new CliError(`--key: ${keyFile} is encrypted; give an unencrypted key (e.g. openssl pkey -in key.pem -out plain.pem)`);
  }
  if (caFile !== undefined) tls.ca = pem(caFile, "--ca", /-----BEGIN CERTIFICATE-----/, "certificate");
  return tls;
}

async function readLimited(response: Response): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await reader.cancel();
      throw new CliError(`the admin API's answer is larger than ${MAX_RESPONSE_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The server's refusal as one CliError: "<reason> (<code>)", the matrix row, each listed problem. */
function errorFrom(status: number, body: unknown, text: string): CliError {
  if (typeof body === "object" && body !== null) {
    const e = body as ErrorBody;
    const reason = typeof e.reason === "string" ? e.reason : `HTTP ${status}`;
    const code = typeof e.error === "string" ? e.error : String(status);
    // The matrix row, unless the reason already names it.
    const row = typeof e.row === "string" && !reason.includes(e.row) ? `, row ${e.row}` : "";
    const lines = [`${reason} (${code}${row})`];
    if (Array.isArray(e.problems)) for (const p of e.problems) lines.push(`  - ${typeof p === "string" ? p : JSON.stringify(p)}`);
    return new CliError(lines.join("\n"));
  }
  const snippet = text.trim().slice(0, 200);
  return new CliError(`the admin API answered ${status}${snippet.length > 0 ? `: ${snippet}` : ""}`);
}

/** A path segment (a domain, a user, a JID), percent-encoded. */
export function segment(value: string, what: string): string {
  if (value.length === 0) throw new CliError(`${what}: empty`);
  if (value.length > 3071) throw new CliError(`${what}: longer than 3071 characters`);
  return encodeURIComponent(value);
}
