// A SIP MESSAGE load generator on top of sipp: `count` MESSAGE transactions from internal users
// (round robin over `senders` AORs, through an injection file) to one XMPP address, at most
// `concurrency` outstanding, as fast as the far end answers (or at `rate` per second).
// Each body is `<prefix> #<n>` so the receiving XMPP client can count distinct messages.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnProcess, type Netns, type RunningProcess, type Scope } from "@passerelle/testkit";

export interface SipLoadOptions {
  readonly netns: Netns;
  readonly address: string;
  readonly port: number;
  /** SIP domain of the senders, e.g. gateway.test. */
  readonly senderDomain: string;
  /** User parts of the senders, taken in turn. */
  readonly senders: readonly string[];
  /** Request-URI and To, e.g. sip:alice@prosody.test. */
  readonly to: string;
  readonly proxy: { readonly address: string; readonly port: number };
  readonly count: number;
  readonly concurrency: number;
  /** Calls per second; a high value means "as fast as the answers allow". */
  readonly rate: number;
  readonly prefix: string;
  readonly timeoutMs: number;
}

export interface SipLoad {
  readonly process: RunningProcess;
  /** Resolves with sipp's exit code once all transactions ended (or the bound passed). */
  readonly done: Promise<number | undefined>;
}

function scenario(o: SipLoadOptions): string {
  const lines = [
    `MESSAGE ${o.to} SIP/2.0`,
    "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
    `From: <sip:[field0]@${o.senderDomain}>;tag=[pid]load[call_number]`,
    `To: <${o.to}>`,
    "Call-ID: [call_id]",
    "CSeq: 1 MESSAGE",
    "Max-Forwards: 70",
    "Content-Type: text/plain;charset=utf-8",
    "Content-Length: [len]",
    "",
    `${o.prefix} #[call_number]`,
  ];
  return `<?xml version="1.0" encoding="UTF-8"?>
<scenario name="passerelle-message-load">
  <send retrans="500">
    <![CDATA[
${lines.join("\n")}]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200"/>
</scenario>
`;
}

export function startSipLoad(scope: Scope, name: string, o: SipLoadOptions): SipLoad {
  if (o.senders.length === 0) throw new Error("at least one sender is needed");
  const scenarioFile = join(scope.workDir, `${name}.xml`);
  const injection = join(scope.workDir, `${name}.csv`);
  writeFileSync(scenarioFile, scenario(o));
  writeFileSync(injection, ["SEQUENTIAL", ...o.senders.map((s) => `${s};`)].join("\n") + "\n");
  const child = spawnProcess(scope, {
    name,
    command: "sipp",
    args: [
      "-sf", scenarioFile, "-inf", injection,
      "-i", o.address, "-p", String(o.port), "-t", "u1", "-nostdin",
      "-m", String(o.count), "-l", String(o.concurrency), "-r", String(o.rate), "-rp", "1000",
      "-timeout", `${Math.ceil(o.timeoutMs / 1000)}s`, "-timeout_error",
      `${o.proxy.address}:${o.proxy.port}`,
    ],
    netns: o.netns,
  });
  const done = (async () => {
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([
      child.exited.then((e) => e.code ?? undefined),
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), o.timeoutMs + 5_000))),
    ]);
    clearTimeout(timer);
    return exited;
  })();
  return { process: child, done };
}
