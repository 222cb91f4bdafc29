/**
 * A `fetch` over node:https with a client certificate and a CA of our choosing (the admin API's
 * TLS listener authenticates callers by certificate). Node 20's global fetch takes no TLS
 * options without the undici package; node:https does, and this is all the admin client needs:
 * one request, the status, the headers and a streamed body.
 */
import { request } from "node:https";
import { Readable } from "node:stream";

export interface ClientTls {
  /** PEM: the client certificate (and its chain), its key. */
  cert?: string;
  key?: string;
  /** PEM: the CA(s) that signed the server's certificate; Node's CAs when absent. */
  ca?: string;
}

/** undici's shape for a network failure: TypeError("fetch failed") with the cause (its code) attached. */
function fetchFailed(cause: unknown): TypeError {
  return Object.assign(new TypeError("fetch failed"), { cause });
}

export function tlsFetch(tls: ClientTls): typeof fetch {
  const fetchImpl = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.protocol !== "https:") return Promise.reject(fetchFailed(new Error(`a client certificate needs https://, not ${url.protocol}`)));
    const signal = init.signal ?? undefined;
    const headers = new Headers(init.headers);
    return new Promise<Response>((resolve, reject) => {
      const req = request(
        url,
        {
          method: init.method ?? "GET",
          headers: Object.fromEntries(headers.entries()),
          ...(tls.cert === undefined ? {} : { cert: tls.cert }),
          ...(tls.key === undefined ? {} : { key: tls.key }),
          ...(tls.ca === undefined ? {} : { ca: tls.ca }),
          minVersion: "TLSv1.2",
          ...(signal === undefined ? {} : { signal }),
        },
        (res) => {
          const answer = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value === undefined) continue;
            for (const v of Array.isArray(value) ? value : [value]) answer.append(name, v);
          }
          const status = res.statusCode ?? 502;
          const empty = status === 204 || status === 304 || (init.method ?? "GET") === "HEAD";
          if (empty) res.resume();
          try {
            resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, headers: answer }));
          } catch (err) {
            res.destroy();
            reject(fetchFailed(err));
          }
        },
      );
      req.on("error", (err) => reject(signal?.aborted === true ? signal.reason : fetchFailed(err)));
      const body = init.body;
      if (body === undefined || body === null) req.end();
      else if (typeof body === "string") req.end(body);
      else {
        req.destroy();
        reject(fetchFailed(new Error("only string bodies are supported")));
      }
    });
  };
  return fetchImpl as typeof fetch;
}
