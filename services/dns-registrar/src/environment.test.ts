import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDnsServer, parsePublishServer } from "./environment.ts";

test("dns.server accepts an IP with an optional port", () => {
  assert.equal(parseDnsServer(undefined), undefined);
  assert.equal(parseDnsServer("127.0.0.53"), "127.0.0.53:53");
  assert.equal(parseDnsServer("127.0.0.53:5353"), "127.0.0.53:5353");
  assert.equal(parseDnsServer("[::1]:5353"), "[::1]:5353");
  assert.equal(parseDnsServer("::1"), "[::1]:53");
  assert.throws(() => parseDnsServer("ns.example:53"), /not an IP address/);
  assert.throws(() => parseDnsServer("127.0.0.1:99999"), /bad port/);
});

test("dns.publish.server splits into host and port", () => {
  assert.deepEqual(parsePublishServer("127.0.0.53"), { host: "127.0.0.53", port: 53 });
  assert.deepEqual(parsePublishServer("[::1]:5353"), { host: "::1", port: 5353 });
  assert.throws(() => parsePublishServer("ns.example:53"), /dns\.publish\.server/);
});
