// The JSON lines spoken between xmpp-client.ts (test process) and xmpp-client-worker.ts
// (inside the namespace).
export interface WorkerSettings {
  readonly service: string;
  readonly domain: string;
  readonly username: string;
  readonly password: string;
  readonly resource: string;
  /** Report every stanza on stdout (off for benchmarks: they only count). */
  readonly forwardStanzas: boolean;
}

export type WorkerCommand =
  | { readonly id: number; readonly op: "send"; readonly to: string; readonly body: string; readonly type?: string; readonly count?: number }
  | { readonly id: number; readonly op: "raw"; readonly xml: string }
  | { readonly id: number; readonly op: "waitCount"; readonly count: number; readonly timeoutMs: number }
  | { readonly id: number; readonly op: "stop" };

export interface ReceivedStanza {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly type: string;
  readonly body: string | null;
  readonly xml: string;
}

export type WorkerEvent =
  | { readonly event: "online"; readonly jid: string }
  | { readonly event: "offline" }
  | { readonly event: "failed"; readonly message: string }
  | { readonly event: "log"; readonly message: string }
  | ({ readonly event: "stanza" } & ReceivedStanza)
  | {
      readonly event: "reply";
      readonly id: number;
      readonly ok: boolean;
      readonly error?: string;
      readonly received: number;
      readonly firstAt?: number;
      readonly lastAt?: number;
    };
