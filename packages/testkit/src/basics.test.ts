// Self-test of the harness basics: namespaces, processes, NATS, Redis, PKI.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { createNetns, sweepStaleNetns } from "./netns.ts";
import type { Netns } from "./netns.ts";
import { createTestCa, createSelfSigned } from "./pki.ts";
import { probeTcp, spawnProcess } from "./processes.ts";
import { startNats } from "./nats.ts";
import { startRedis } from "./redis.ts";
import { runCommand } from "./run-command.ts";
import { createScope } from "./scope.ts";

const scope = createScope("testkit-basics");
let netns: Netns;

before(async () => {
  sweepStaleNetns();
  netns = await createNetns(scope, { addresses: ["127.0.0.2", "127.0.0.53"], nameserver: "127.0.0.53", hosts: { "x.test": "127.0.0.2" }, label: "basics" });
});
after(() => scope.close());

describe("netns", () => {
  it("has lo up with the addresses, its own hosts and resolv.conf", async () => {
    const addr = await netns.exec("ip", ["-4", "addr", "show", "dev", "lo"]);
    assert.match(addr.stdout, /127\.0\.0\.2\/8/);
    assert.match(addr.stdout, /127\.0\.0\.53\/8/);
    const hosts = await netns.exec("cat", ["/etc/hosts", "/etc/resolv.conf"]);
    assert.match(hosts.stdout, /127\.0\.0\.2\tx\.test/);
    assert.match(hosts.stdout, /nameserver 127\.0\.0\.53/);
  });

  it("kills what runs inside and disappears on destroy", async () => {
    const scratch = createScope("testkit-netns-destroy");
    const ns = await createNetns(scratch, { addresses: ["127.0.0.9"] });
    const sleeper = spawnProcess(scratch, { name: "sleeper", command: "sleep", args: ["300"], netns: ns });
    await new Promise((r) => setTimeout(r, 200));
    assert.ok((await ns.pids()).length >= 1);
    await scratch.close();
    const info = await sleeper.exited;
    assert.ok(info.signal !== null || info.code !== 0);
    const list = await runCommand("ip", ["netns", "list"]);
    assert.ok(!list.stdout.includes(ns.name));
    assert.ok(!existsSync(`/etc/netns/${ns.name}`));
  });
});

describe("processes", () => {
  it("reports the log tail when a process dies before it is ready", async () => {
    const p = spawnProcess(scope, { name: "dies", command: "sh", args: ["-c", "echo about to fail; exit 3"] });
    await assert.rejects(p.waitForLog("never", 5_000), /about to fail/);
  });
});

describe("nats and redis", () => {
  it("start on free non-default ports in the root namespace", async () => {
    const nats = await startNats(scope);
    const redis = await startRedis(scope);
    assert.notEqual(nats.port, 4222);
    assert.notEqual(redis.port, 6379);
    assert.ok(await probeTcp(nats.host, nats.port));
    const pong = await runCommand("redis-cli", ["-h", redis.host, "-p", String(redis.port), "PING"]);
    assert.equal(pong.stdout.trim(), "PONG");
  });

  it("start inside a namespace", async () => {
    const nats = await startNats(scope, { host: "127.0.0.2", netns, name: "nats-ns" });
    const redis = await startRedis(scope, { host: "127.0.0.2", netns, name: "redis-ns" });
    await nats.process.waitForPort(nats.host, nats.port, 5_000);
    const pong = await netns.exec("redis-cli", ["-h", redis.host, "-p", String(redis.port), "PING"]);
    assert.equal(pong.stdout.trim(), "PONG");
  });
});

describe("pki", () => {
  it("issues leaf certificates with DNS-ID, xmppAddr and SRV-ID that verify against the CA", async () => {
    const ca = await createTestCa(scope.dir("pki"));
    const leaf = await ca.issue({ domains: ["prosody.test"], xmppIdentifiers: true });
    const text = (await runCommand("openssl", ["x509", "-in", leaf.certFile, "-noout", "-text"])).stdout;
    assert.match(text, /DNS:prosody\.test/);
    assert.match(text, /othername: (1\.3\.6\.1\.5\.5\.7\.8\.5|XmppAddr)[^,\n]*prosody\.test/i);
    assert.match(text, /othername: (1\.3\.6\.1\.5\.5\.7\.8\.7|SRVName)[^,\n]*_xmpp-server\.prosody\.test/i);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    await runCommand("openssl", ["verify", "-CAfile", ca.certFile, leaf.certFile]);
    assert.match(readFileSync(leaf.pemFile, "utf8"), /PRIVATE KEY[\s\S]*CERTIFICATE[\s\S]*CERTIFICATE/);

    const expired = await ca.issueExpired(["prosody.test"]);
    const verifyExpired = await runCommand("openssl", ["verify", "-CAfile", ca.certFile, expired.certFile], { allowFailure: true });
    assert.match(verifyExpired.stdout + verifyExpired.stderr, /expired/);

    const wrong = await ca.issueWrongName("prosody.test");
    const checkHost = await runCommand("openssl", ["x509", "-in", wrong.certFile, "-noout", "-checkhost", "prosody.test"]);
    assert.match(checkHost.stdout, /does NOT match/);

    const self = await createSelfSigned(scope.dir("pki"), ["prosody.test"]);
    const verifySelf = await runCommand("openssl", ["verify", "-CAfile", ca.certFile, self.certFile], { allowFailure: true });
    assert.notEqual(verifySelf.code, 0);
  });
});
