// Free TCP ports: asked from the kernel in the root namespace; inside a fresh test
// namespace nothing listens but what the test started, so a not-yet-handed-out port is free.
import { createServer } from "node:net";
import type { Netns } from "./netns.ts";

/** Ports that other servers on this machine use by default: never handed out. */
const RESERVED = new Set([4222, 6222, 8222, 6379, 5222, 5269, 5060, 5061, 53, 4369]);
const handedOut = new Map<string, Set<number>>();

function remember(key: string, port: number): boolean {
  let set = handedOut.get(key);
  if (set === undefined) {
    set = new Set();
    handedOut.set(key, set);
  }
  if (set.has(port)) return false;
  set.add(port);
  return true;
}

function kernelPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A TCP port free on `host` (in `netns` when given), never one of the well-known defaults. */
export async function freePort(host: string, netns?: Netns): Promise<number> {
  const key = netns?.name ?? "root";
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = netns === undefined ? await kernelPort(host) : 20_000 + Math.floor(Math.random() * 20_000);
    if (RESERVED.has(port)) continue;
    if (remember(key, port)) return port;
  }
  throw new Error(`no free port found on ${host}`);
}
