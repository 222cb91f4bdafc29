import { test } from "node:test";
import assert from "node:assert/strict";
import type { SrvRecord } from "../domain/srv.ts";
import { XmppServerResolver, type DnsClient } from "./xmpp-server-resolver.ts";

type Answer<T> = T | { code: string };

/** A fake DNS: a table of answers per name, counting the questions asked. */
function fakeDns(table: { srv?: Record<string, Answer<SrvRecord[]>>; a?: Record<string, Answer<{ address: string; ttl: number }[]>> }) {
  const asked: string[] = [];
  const answer = <T>(value: Answer<T> | undefined): Promise<T> => {
    if (value === undefined) return Promise.reject(Object.assign(new Error("not found"), { code: "ENOTFOUND" }));
    if (typeof value === "object" && value !== null && "code" in value) return Promise.reject(Object.assign(new Error(value.code), { code: value.code }));
    return Promise.resolve(value);
  };
  const dns: DnsClient = {
    resolveSrv: (name) => (asked.push(`SRV ${name}`), answer(table.srv?.[name])),
    resolve4: (name) => (asked.push(`A ${name}`), answer(table.a?.[name])),
    resolve6: (name) => (asked.push(`AAAA ${name}`), answer<{ address: string; ttl: number }[]>(undefined)),
  };
  return { dns, asked };
}

test("SRV answers are used, cached, and asked once for concurrent requests", async () => {
  const { dns, asked } = fakeDns({ srv: { "_xmpp-server._tcp.partner.example": [{ name: "s2s.partner.example", port: 5269, priority: 0, weight: 0 }] } });
  let now = 0;
  const resolver = new XmppServerResolver({ dns, now: () => now });
  const [a, b] = await Promise.all([resolver.resolve("Partner.Example"), resolver.resolve("partner.example")]);
  assert.equal(a.outcome, "srv");
  assert.deepEqual(a.reply, { v: 1, targets: [{ host: "s2s.partner.example", port: 5269, directTls: false, priority: 0, weight: 0 }] });
  assert.deepEqual(b.reply, a.reply);
  assert.equal(asked.length, 2);
  assert.equal((await resolver.resolve("partner.example")).outcome, "cache");
  now = 301_000;
  assert.equal((await resolver.resolve("partner.example")).outcome, "srv");
});

test("no SRV: the domain's own address on 5269, cached for the A record's TTL (capped at 1 h)", async () => {
  const { dns } = fakeDns({ a: { "plain.example": [{ address: "127.0.0.2", ttl: 7200 }] } });
  let now = 0;
  const resolver = new XmppServerResolver({ dns, now: () => now });
  const first = await resolver.resolve("plain.example");
  assert.equal(first.outcome, "fallback");
  assert.deepEqual(first.reply.targets, [{ host: "plain.example", port: 5269, directTls: false, priority: 0, weight: 0 }]);
  now = 3_599_000;
  assert.equal((await resolver.resolve("plain.example")).outcome, "cache");
  now = 3_600_000;
  assert.equal((await resolver.resolve("plain.example")).outcome, "fallback");
});

test("nothing at all: an empty answer, cached for 30 s", async () => {
  const { dns } = fakeDns({});
  let now = 0;
  const resolver = new XmppServerResolver({ dns, now: () => now });
  assert.deepEqual(await resolver.resolve("nowhere.example"), { reply: { v: 1, targets: [] }, outcome: "none" });
  now = 29_000;
  assert.equal((await resolver.resolve("nowhere.example")).outcome, "cache");
  now = 30_000;
  assert.equal((await resolver.resolve("nowhere.example")).outcome, "none");
});

test("a failing DNS server is reported and not cached", async () => {
  const { dns } = fakeDns({ srv: { "_xmpp-server._tcp.broken.example": { code: "ESERVFAIL" } } });
  const resolver = new XmppServerResolver({ dns });
  const first = await resolver.resolve("broken.example");
  assert.equal(first.outcome, "error");
  assert.match(first.reply.error ?? "", /ESERVFAIL/);
  assert.equal((await resolver.resolve("broken.example")).outcome, "error");
});

test("hostile answers: bad targets are dropped and reported", async () => {
  const reports: string[] = [];
  const { dns } = fakeDns({
    srv: {
      "_xmpp-server._tcp.hostile.example": [
        { name: "evil name\n", port: 5269, priority: 0, weight: 0 },
        { name: "ok.hostile.example", port: 0, priority: 0, weight: 0 },
      ],
    },
  });
  const resolver = new XmppServerResolver({ dns, onRejected: (_domain, reasons) => reports.push(...reasons) });
  const result = await resolver.resolve("hostile.example");
  assert.equal(result.outcome, "error");
  assert.deepEqual(result.reply.targets, []);
  assert.equal(reports.length, 2);
});

test("a partner's proxy FQDN overrides DNS; invalid domains are refused", async () => {
  const { dns, asked } = fakeDns({});
  const resolver = new XmppServerResolver({ dns, proxyFor: (d) => (d === "partner.example" ? { host: "proxy.partner.example", port: 5999 } : undefined) });
  assert.deepEqual(await resolver.resolve("partner.example"), {
    reply: { v: 1, targets: [{ host: "proxy.partner.example", port: 5999, directTls: false, priority: 0, weight: 0 }] },
    outcome: "proxy",
  });
  assert.equal((await resolver.resolve("bad domain")).outcome, "error");
  assert.deepEqual(asked, []);
});
