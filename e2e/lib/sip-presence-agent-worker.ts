// A SIP presence user agent for tests, built on packages/sip, running inside the test's network
// namespace: PUBLISHes (RFC 3903) and SUBSCRIBEs (RFC 6665) through the SIP proxy, answers NOTIFYs
// 200 and reports them. Talks to sip-presence-agent.ts over JSON lines on stdin/stdout.
import { createInterface } from "node:readline";
import { SipEndpoint, SipHeaders, createResponse, generateCallId, generateTag, type SipRequest } from "../../packages/sip/src/index.ts";
import { UdpTransport } from "../../packages/sip/src/io.ts";

export interface AgentSettings {
  address: string;
  port: number;
  proxy: { host: string; port: number };
}

export type AgentCommand =
  | { id: number; op: "publish"; aor: string; pidf: string | null; expires: number }
  | {
      id: number;
      op: "subscribe";
      from: string;
      to: string;
      expires: number;
      event?: string;
      /** In-dialog: the dialog's Call-ID, the remote tag, the next CSeq, the remote target and the route set. */
      callId?: string;
      toTag?: string;
      cseq?: number;
      target?: string;
      route?: string;
      body?: string;
      contentType?: string;
    }
  | { id: number; op: "notify"; from: string; to: string; body: string; contentType: string }
  | { id: number; op: "stop" };

export type AgentEvent =
  | { event: "ready" }
  | { event: "reply"; id: number; status: number; reason: string; callId?: string; toTag?: string; etag?: string; headers?: Record<string, string> }
  | { event: "notify"; callId: string; state: string; contentType: string; body: string; from: string };

const settings = JSON.parse(process.env.PSTEST_SIP_AGENT ?? "{}") as AgentSettings;
const emit = (event: AgentEvent): void => void process.stdout.write(`${JSON.stringify(event)}\n`);
const etags = new Map<string, string>();
const contact = `<sip:agent@${settings.address}:${settings.port}>`;

const endpoint = new SipEndpoint({ times: { t1: 100, t2: 800, t4: 1000 } });
const transport = await UdpTransport.listen({ host: settings.address, port: settings.port }, endpoint.transportEvents);
endpoint.attach(transport);
endpoint.onRequest((request, respond) => {
  if (request.method === "NOTIFY") {
    emit({
      event: "notify",
      callId: request.headers.get("call-id") ?? "",
      state: request.headers.get("subscription-state") ?? "",
      contentType: request.headers.get("content-type") ?? "",
      body: request.body.toString("utf8"),
      from: request.headers.get("from") ?? "",
    });
    void respond(createResponse(request, 200)).catch(() => undefined);
    return;
  }
  void respond(createResponse(request, 405)).catch(() => undefined);
});
const proxy = { host: settings.proxy.host, port: settings.proxy.port };

function request(method: string, uri: string, lines: [string, string][], body = ""): SipRequest {
  return { kind: "request", method, uri, headers: new SipHeaders([["Max-Forwards", "70"], ...lines]), body: Buffer.from(body, "utf8") };
}

async function run(command: AgentCommand): Promise<void> {
  switch (command.op) {
    case "publish": {
      // RFC 3903 §4: the first PUBLISH creates an entity tag; later ones (and the removal) carry SIP-If-Match.
      const etag = etags.get(command.aor);
      const lines: [string, string][] = [
        ["From", `<${command.aor}>;tag=${generateTag()}`],
        ["To", `<${command.aor}>`],
        ["Call-ID", generateCallId(settings.address)],
        ["CSeq", "1 PUBLISH"],
        ["Event", "presence"],
        ["Expires", String(command.expires)],
      ];
      if (etag !== undefined) lines.push(["SIP-If-Match", etag]);
      if (command.pidf !== null) lines.push(["Content-Type", "application/pidf+xml"]);
      const answer = await endpoint.request(request("PUBLISH", command.aor, lines, command.pidf ?? ""), proxy);
      const newTag = answer.response.headers.get("sip-etag");
      if (newTag !== undefined) etags.set(command.aor, newTag);
      if (command.expires === 0) etags.delete(command.aor);
      emit({ event: "reply", id: command.id, status: answer.response.status, reason: answer.response.reason, ...(newTag ? { etag: newTag } : {}) });
      return;
    }
    case "subscribe": {
      const callId = command.callId ?? generateCallId(settings.address);
      const lines: [string, string][] = [
        ["From", `<${command.from}>;tag=w${callId.slice(0, 8)}`],
        ["To", command.toTag === undefined ? `<${command.to}>` : `<${command.to}>;tag=${command.toTag}`],
        ["Call-ID", callId],
        ["CSeq", `${command.cseq ?? 1} SUBSCRIBE`],
        ["Contact", contact],
        ["Event", command.event ?? "presence"],
        ["Accept", "application/pidf+xml"],
        ["Expires", String(command.expires)],
      ];
      if (command.contentType !== undefined) lines.push(["Content-Type", command.contentType]);
      if (command.route !== undefined) lines.push(["Route", command.route]);
      const answer = await endpoint.request(request("SUBSCRIBE", command.target ?? command.to, lines, command.body ?? ""), proxy);
      const to = answer.response.headers.get("to") ?? "";
      const toTag = /;\s*tag=([^;>\s]+)/i.exec(to)?.[1];
      const headers: Record<string, string> = {};
      for (const line of answer.response.headers.entries()) headers[line.name.toLowerCase()] = line.value;
      emit({ event: "reply", id: command.id, status: answer.response.status, reason: answer.response.reason, callId, ...(toTag ? { toTag } : {}), headers });
      return;
    }
    case "notify": {
      // An out-of-dialog NOTIFY (bad input for whoever receives it).
      const lines: [string, string][] = [
        ["From", `<${command.from}>;tag=${generateTag()}`],
        ["To", `<${command.to}>`],
        ["Call-ID", generateCallId(settings.address)],
        ["CSeq", "1 NOTIFY"],
        ["Contact", contact],
        ["Event", "presence"],
        ["Subscription-State", "active;expires=60"],
        ["Content-Type", command.contentType],
      ];
      const answer = await endpoint.request(request("NOTIFY", command.to, lines, command.body), proxy);
      emit({ event: "reply", id: command.id, status: answer.response.status, reason: answer.response.reason });
      return;
    }
    case "stop":
      emit({ event: "reply", id: command.id, status: 0, reason: "stopped" });
      endpoint.shutdown();
      await transport.close();
      process.exit(0);
  }
}

createInterface({ input: process.stdin }).on("line", (line) => {
  let command: AgentCommand;
  try {
    command = JSON.parse(line) as AgentCommand;
  } catch {
    return;
  }
  run(command).catch((err: unknown) => emit({ event: "reply", id: command.id, status: 0, reason: String(err) }));
});
process.stdin.on("end", () => process.exit(0));
emit({ event: "ready" });
