// Real SIP user agents with sipp 3.6: a UAS that REGISTERs its own port as Contact at
// Kamailio and answers every MESSAGE with 200 (each received MESSAGE is read back from
// sipp's -trace_msg file), and a one-shot UAC that sends one MESSAGE and reports the final
// response code. PEERS.md: replies match only with `Call-ID: [call_id]` verbatim; a UAC
// scenario cannot receive out-of-dialog MESSAGEs (hence the separate UAS).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Netns } from "./netns.ts";
import { spawnProcess } from "./processes.ts";
import type { RunningProcess } from "./processes.ts";
import { sleep } from "./run-command.ts";
import type { Scope } from "./scope.ts";

export interface SipProxyAddress {
  readonly address: string;
  readonly port: number;
  /** The SIP domain of AORs registered there. */
  readonly domain: string;
}

export interface SipMessage {
  /** Request line (`MESSAGE sip:… SIP/2.0`) or status line (`SIP/2.0 200 OK`). */
  readonly startLine: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
  /** "received" or "sent", from the trace. */
  readonly direction: "received" | "sent";
}

export interface SipUas {
  /** `sip:user@domain` */
  readonly aor: string;
  readonly address: string;
  readonly port: number;
  readonly process: RunningProcess;
  /** Every MESSAGE request received so far. */
  messages(): SipMessage[];
  /** The first MESSAGE whose body matches, within the bound. */
  waitForMessage(body: string | RegExp, timeoutMs?: number): Promise<SipMessage>;
  stop(): Promise<void>;
}

export interface SipUasOptions {
  readonly netns: Netns;
  /** Local address of the agent (e.g. 127.0.0.5). */
  readonly address: string;
  readonly port: number;
  /** User part of the AOR; give each test its own (PEERS.md). */
  readonly user: string;
  readonly proxy: SipProxyAddress;
  readonly expires?: number;
}

export interface SipMessageOptions {
  readonly netns: Netns;
  readonly address: string;
  readonly port: number;
  /** `sip:alice@sip.test` */
  readonly from: string;
  /** Request-URI and To, e.g. `sip:bob@ejabberd.test`. */
  readonly to: string;
  readonly body: string;
  readonly contentType?: string;
  readonly proxy: { readonly address: string; readonly port: number };
  readonly timeoutMs?: number;
}

export interface SipMessageResult {
  /** Final response code, or undefined if none arrived within the bound. */
  readonly code: number | undefined;
  readonly responses: readonly SipMessage[];
}

const CRLF_BLOCK = (text: string, closeOnLastLine = false): string =>
  closeOnLastLine ? `<![CDATA[\n${text}]]>` : `<![CDATA[\n${text}\n]]>`;

function cdataSafe(value: string): string {
  if (value.includes("]]>")) throw new Error("sipp scenarios cannot carry ']]>' in a body");
  return value;
}

const UAS_SCENARIO = `<?xml version="1.0" encoding="UTF-8"?>
<scenario name="passerelle-uas-message">
  <recv request="MESSAGE" crlf="true"/>
  <send>
    ${CRLF_BLOCK(`      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
`)}
  </send>
</scenario>
`;

function registerScenario(options: SipUasOptions): string {
  const aor = `sip:${options.user}@${options.proxy.domain}`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<scenario name="passerelle-register">
  <send retrans="500">
    ${CRLF_BLOCK(`      REGISTER sip:${options.proxy.domain} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <${aor}>;tag=[pid]reg[call_number]
      To: <${aor}>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:${options.user}@${options.address}:${options.port}>
      Expires: ${options.expires ?? 3600}
      Max-Forwards: 70
      Content-Length: 0
`)}
  </send>
  <recv response="100" optional="true"/>
  <recv response="200"/>
</scenario>
`;
}

function messageScenario(options: SipMessageOptions): string {
  const body = cdataSafe(options.body);
  return `<?xml version="1.0" encoding="UTF-8"?>
<scenario name="passerelle-uac-message">
  <send retrans="500">
    ${CRLF_BLOCK(`      MESSAGE ${options.to} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <${options.from}>;tag=[pid]msg[call_number]
      To: <${options.to}>
      Call-ID: [call_id]
      CSeq: 1 MESSAGE
      Max-Forwards: 70
      Content-Type: ${options.contentType ?? "text/plain;charset=utf-8"}
      Content-Length: [len]

${body}`, true)}
  </send>
  <recv response="100" optional="true"/>
  <recv response="200"/>
</scenario>
`;
}

/** Parses sipp's -trace_msg file into the SIP messages it recorded. */
export function parseSippTrace(text: string): SipMessage[] {
  const result: SipMessage[] = [];
  const blocks = text.split(/^-{20,}.*$/m);
  for (const block of blocks) {
    const header = /^\s*(?:UDP|TCP|TLS)?\s*message (received|sent)[^\n]*:\s*\n/m.exec(block);
    if (header === null) continue;
    const direction = header[1] === "received" ? "received" : "sent";
    const raw = block.slice(header.index + header[0].length).replace(/^\s*\n/, "");
    const split = raw.indexOf("\r\n\r\n");
    const head = split >= 0 ? raw.slice(0, split) : raw;
    let body = split >= 0 ? raw.slice(split + 4) : "";
    const [startLine = "", ...headerLines] = head.split("\r\n");
    const headers = new Map<string, string>();
    for (const line of headerLines) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const length = Number(headers.get("content-length") ?? headers.get("l") ?? "NaN");
    if (Number.isInteger(length)) body = Buffer.from(body, "utf8").subarray(0, length).toString("utf8");
    result.push({ startLine: startLine.trim(), headers, body, direction });
  }
  return result;
}

function readTrace(file: string): SipMessage[] {
  try {
    return parseSippTrace(readFileSync(file, "utf8"));
  } catch {
    return [];
  }
}

function sippArgs(scenario: string, traceFile: string, address: string, port: number, extra: readonly string[]): string[] {
  return ["-sf", scenario, "-i", address, "-p", String(port), "-t", "u1", "-trace_msg", "-message_file", traceFile, "-nostdin", ...extra];
}

/** Runs a one-shot sipp UAC scenario and returns the trace (bounded). */
async function runUac(
  scope: Scope,
  name: string,
  netns: Netns,
  scenarioXml: string,
  local: { address: string; port: number },
  proxy: { address: string; port: number },
  timeoutMs: number,
): Promise<SipMessage[]> {
  const scenario = join(scope.workDir, `${name}.xml`);
  const traceFile = join(scope.workDir, `${name}.trace`);
  writeFileSync(scenario, scenarioXml);
  const child = spawnProcess(scope, {
    name,
    command: "sipp",
    args: sippArgs(scenario, traceFile, local.address, local.port, [
      "-m", "1", "-timeout", `${Math.ceil(timeoutMs / 1000)}s`, "-timeout_error", "-recv_timeout", String(timeoutMs),
      `${proxy.address}:${proxy.port}`,
    ]),
    netns,
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([child.exited, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs + 2_000)))]);
  clearTimeout(timer);
  await child.stop();
  return readTrace(traceFile);
}

let uacCounter = 0;

/** Sends one MESSAGE through the proxy; returns the final response code (bounded). */
export async function sendSipMessage(scope: Scope, options: SipMessageOptions): Promise<SipMessageResult> {
  uacCounter += 1;
  const trace = await runUac(
    scope,
    `sipp-uac-message-${uacCounter}`,
    options.netns,
    messageScenario(options),
    options,
    options.proxy,
    options.timeoutMs ?? 10_000,
  );
  const responses = trace.filter((m) => m.direction === "received" && m.startLine.startsWith("SIP/2.0 "));
  const finals = responses.map((m) => Number(m.startLine.split(" ")[1])).filter((code) => code >= 200);
  return { code: finals[0], responses };
}

/** Starts a UAS on address:port, registers it at the proxy, and keeps answering MESSAGEs. */
export async function startSipUas(scope: Scope, options: SipUasOptions): Promise<SipUas> {
  const name = `sipp-uas-${options.user}`;
  const scenario = join(scope.workDir, `${name}.xml`);
  const traceFile = join(scope.workDir, `${name}.trace`);
  writeFileSync(scenario, UAS_SCENARIO);
  const child = spawnProcess(scope, {
    name,
    command: "sipp",
    args: sippArgs(scenario, traceFile, options.address, options.port, []),
    netns: options.netns,
    stopSignal: "SIGUSR1",
    stopTimeoutMs: 3_000,
  });
  await sleep(200);
  if (child.exitInfo() !== undefined) throw new Error(`sipp UAS exited at start:\n${child.logTail()}`);

  // Register from another port: this agent's listening port is the Contact.
  const registration = await runUac(
    scope,
    `sipp-register-${options.user}`,
    options.netns,
    registerScenario(options),
    { address: options.address, port: options.port + 1 },
    options.proxy,
    10_000,
  );
  const ok = registration.some((m) => m.direction === "received" && m.startLine.startsWith("SIP/2.0 200"));
  if (!ok) {
    throw new Error(`REGISTER of ${options.user}@${options.proxy.domain} got no 200:\n${registration.map((m) => m.startLine).join("\n")}`);
  }

  const messages = (): SipMessage[] =>
    readTrace(traceFile).filter((m) => m.direction === "received" && m.startLine.startsWith("MESSAGE "));
  return {
    aor: `sip:${options.user}@${options.proxy.domain}`,
    address: options.address,
    port: options.port,
    process: child,
    messages,
    waitForMessage: async (body, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages().find((m) => (typeof body === "string" ? m.body === body : body.test(m.body)));
        if (found !== undefined) return found;
        if (Date.now() > deadline) {
          throw new Error(`${options.user} received no MESSAGE with body ${String(body)} within ${timeoutMs} ms; got: ${JSON.stringify(messages().map((m) => m.body))}`);
        }
        await sleep(100);
      }
    },
    stop: async () => {
      await child.stop();
    },
  };
}
