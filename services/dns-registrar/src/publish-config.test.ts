// The `dns.publish` block of the shared configuration, as the dns-registrar reads it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { validateConfig } from "@passerelle/config";

const base = {
  domains: [{ xmpp: "contoso.com" }],
  gateway: { edgeFqdn: "xmpp.contoso.com", dialback: { secret: "0123456789abcdef0123" } },
  sip: { proxy: { host: "127.0.0.4" } },
};

test("dns.publish: defaults filled in; optional altogether", () => {
  assert.equal(validateConfig(base).dns.publish, undefined);
  const config = validateConfig({ ...base, dns: { publish: { server: "127.0.0.53", tsig: { name: "Passerelle-Key", secretFile: "/run/secrets/tsig" } } } });
  assert.deepEqual(config.dns.publish, {
    server: "127.0.0.53",
    zones: {},
    tsig: { name: "passerelle-key", algorithm: "hmac-sha256", secretFile: "/run/secrets/tsig" },
    ttl: 300,
    priority: 0,
    weight: 5,
    checkInterval: 300,
  });
});

test("dns.publish: an inline secret or another algorithm is refused", () => {
  assert.throws(() => validateConfig({ ...base, dns: { publish: { server: "127.0.0.53", tsig: { name: "k", secretFile: "/x", secret: "c2VjcmV0" } } } }), /secret/);
  assert.throws(() => validateConfig({ ...base, dns: { publish: { server: "127.0.0.53", tsig: { name: "k", secretFile: "/x", algorithm: "hmac-md5" } } } }), /algorithm|hmac-sha256/);
  assert.throws(() => validateConfig({ ...base, dns: { publish: { server: "127.0.0.53", tsig: { name: "k" } } } }), /secretFile/);
});
