// Runs inside the test's network namespace (`ip netns exec NS node --import tsx …`): one
// @xmpp/client c2s connection driven by JSON lines on stdin, reporting on stdout.
// Started and spoken to only by xmpp-client.ts.
import { createInterface } from "node:readline";
import type { WorkerCommand, WorkerEvent, WorkerSettings } from "./xmpp-client-protocol.ts";

/** The part of ltx's Element that the worker reads. */
interface Element {
  readonly name: string;
  readonly attrs: Record<string, string | undefined>;
  getChildText(name: string, ns?: string): string | null;
  getChild(name: string, ns?: string): Element | undefined;
  toString(): string;
}

interface Client {
  on(event: "stanza", listener: (stanza: Element) => void): void;
  on(event: "online", listener: (address: { toString(): string }) => void): void;
  on(event: "error" | "offline", listener: (error?: Error) => void): void;
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(...elements: Element[]): Promise<void>;
  write(text: string): Promise<void>;
}

interface XmppModule {
  client(options: Record<string, unknown>): Client;
  xml(name: string, attrs?: Record<string, string>, ...children: (Element | string)[]): Element;
}

const settings = JSON.parse(process.env["PSTEST_XMPP_CLIENT"] ?? "{}") as WorkerSettings;
const emit = (event: WorkerEvent): void => {
  process.stdout.write(`${JSON.stringify(event)}\n`);
};

const specifier = "@xmpp/client";
const { client, xml } = (await import(specifier)) as XmppModule;

const xmpp = client({
  service: settings.service,
  domain: settings.domain,
  username: settings.username,
  password: settings.password,
  resource: settings.resource,
});

let received = 0;
let firstAt = 0;
let lastAt = 0;
let countWaiter: { readonly id: number; readonly count: number; readonly timer: NodeJS.Timeout } | undefined;

function settleCount(): void {
  if (countWaiter !== undefined && received >= countWaiter.count) {
    clearTimeout(countWaiter.timer);
    emit({ event: "reply", id: countWaiter.id, ok: true, received, firstAt, lastAt });
    countWaiter = undefined;
  }
}

xmpp.on("error", (error) => emit({ event: "log", message: `error: ${error?.message ?? "unknown"}` }));
xmpp.on("offline", () => emit({ event: "offline" }));
xmpp.on("stanza", (stanza) => {
  if (stanza.name === "message" && stanza.getChild("body") !== undefined) {
    const now = Date.now();
    if (received === 0) firstAt = now;
    lastAt = now;
    received += 1;
  }
  if (settings.forwardStanzas) {
    emit({
      event: "stanza",
      name: stanza.name,
      from: stanza.attrs["from"] ?? "",
      to: stanza.attrs["to"] ?? "",
      type: stanza.attrs["type"] ?? "",
      body: stanza.getChildText("body"),
      xml: stanza.toString(),
    });
  }
  settleCount();
});
xmpp.on("online", (address) => {
  // Available presence, so the server routes messages for the bare JID to this resource.
  void xmpp.send(xml("presence")).then(() => emit({ event: "online", jid: address.toString() }));
});

async function handle(command: WorkerCommand): Promise<void> {
  switch (command.op) {
    case "send": {
      const count = command.count ?? 1;
      for (let i = 0; i < count; i++) {
        const body = count === 1 ? command.body : `${command.body} #${i + 1}`;
        await xmpp.send(xml("message", { to: command.to, type: command.type ?? "chat", id: `m${i + 1}` }, xml("body", {}, body)));
      }
      emit({ event: "reply", id: command.id, ok: true, received });
      return;
    }
    case "raw":
      await xmpp.write(command.xml);
      emit({ event: "reply", id: command.id, ok: true, received });
      return;
    case "waitCount": {
      const timer = setTimeout(() => {
        emit({ event: "reply", id: command.id, ok: false, error: `timeout with ${received} of ${command.count}`, received, firstAt, lastAt });
        countWaiter = undefined;
      }, command.timeoutMs);
      countWaiter = { id: command.id, count: command.count, timer };
      settleCount();
      return;
    }
    case "stop":
      await xmpp.stop().catch(() => undefined);
      emit({ event: "reply", id: command.id, ok: true, received });
      process.exit(0);
  }
}

createInterface({ input: process.stdin }).on("line", (line) => {
  const command = JSON.parse(line) as WorkerCommand;
  handle(command).catch((error: unknown) =>
    emit({ event: "reply", id: command.id, ok: false, error: error instanceof Error ? error.message : String(error), received }),
  );
});
process.stdin.on("end", () => {
  void xmpp.stop().finally(() => process.exit(0));
});

xmpp.start().catch((error: unknown) => {
  emit({ event: "failed", message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
