// A minimal Chrome DevTools Protocol client for a process started with --inspect: forces a full
// garbage collection and reads process.memoryUsage() inside it, so memory figures are not GC
// noise. Needs the WebSocket global (Node 20: run with --experimental-websocket). Every call is
// bounded by a timeout.

import { createWriteStream } from "node:fs";

export interface MemoryUsage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export class InspectorClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private onEvent: ((method: string, params: Record<string, unknown>) => void) | undefined;

  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener("message", (event) => {
      const msg = JSON.parse(String(event.data)) as { id?: number; method?: string; params?: Record<string, unknown>; result?: unknown; error?: { message: string } };
      if (msg.id === undefined) {
        if (msg.method !== undefined) this.onEvent?.(msg.method, msg.params ?? {});
        return;
      }
      const waiter = this.pending.get(msg.id);
      if (waiter === undefined) return;
      this.pending.delete(msg.id);
      if (msg.error !== undefined) waiter.reject(new Error(msg.error.message));
      else waiter.resolve(msg.result);
    });
    ws.addEventListener("close", () => {
      for (const w of this.pending.values()) w.reject(new Error("inspector connection closed"));
      this.pending.clear();
    });
  }

  static available(): boolean {
    return typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function";
  }

  /** Connects to the first target of the inspector listening on host:port. */
  static async connect(host: string, port: number, timeoutMs = 10_000): Promise<InspectorClient> {
    const deadline = Date.now() + timeoutMs;
    let last = "no answer";
    while (Date.now() < deadline) {
      try {
        const list = (await (await fetch(`http://${host}:${port}/json/list`, { signal: AbortSignal.timeout(2000) })).json()) as { webSocketDebuggerUrl: string }[];
        const url = list[0]?.webSocketDebuggerUrl;
        if (url !== undefined) {
          const ws = new WebSocket(url);
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error("inspector WebSocket did not open")), 5000);
            ws.addEventListener("open", () => {
              clearTimeout(timer);
              resolve();
            });
            ws.addEventListener("error", () => {
              clearTimeout(timer);
              reject(new Error("inspector WebSocket error"));
            });
          });
          return new InspectorClient(ws);
        }
        last = "no target";
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`inspector at ${host}:${port} not reachable: ${last}`);
  }

  call(method: string, params: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method} timed out`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** A full GC, then process.memoryUsage() of the inspected process. */
  async memoryAfterGc(): Promise<MemoryUsage> {
    await this.call("HeapProfiler.collectGarbage");
    await this.call("HeapProfiler.collectGarbage");
    const result = (await this.call("Runtime.evaluate", { expression: "JSON.stringify(process.memoryUsage())", returnByValue: true })) as {
      result: { value: string };
    };
    return JSON.parse(result.result.value) as MemoryUsage;
  }

  /** A heap snapshot of the inspected process, written to `file` (open it in Chrome DevTools). */
  async writeHeapSnapshot(file: string): Promise<void> {
    const out = createWriteStream(file);
    this.onEvent = (method, params) => {
      if (method === "HeapProfiler.addHeapSnapshotChunk") out.write(String(params.chunk));
    };
    try {
      await this.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false }, 600_000);
    } finally {
      this.onEvent = undefined;
      await new Promise<void>((resolve) => out.end(() => resolve()));
    }
  }

  close(): void {
    this.ws.close();
  }
}
