// The partner, settings and user commands against a small local HTTP server that implements the
// admin REST contract in memory (services/policy/README.md; the real server is tested in the
// policy service). What is checked: the requests the CLI makes (method, path, token, body), what
// it prints, and that every refusal prints the server's reason and exits non-zero.
import { strict as assert } from "node:assert";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { parse as parseYaml, stringify } from "yaml";
import { run } from "./cli.ts";
import { recordingContext, tempDir, type RecordingContext } from "./test-support.ts";

const TOKEN = "test-token-0123456789";

interface Partner {
  domain: string;
  description: string;
  additionalDomains: string[];
  type: string;
  tls: string;
  sasl: string;
  dialback: boolean;
  connectionLimit: number;
  keepalive: boolean;
  proxyFqdn?: string;
  proxyPort: number;
}

/** The contract, in memory: enough of it to answer as the policy service does. */
class FakeAdmin {
  partners = new Map<string, Partner>();
  settings: Record<string, unknown> = { xmppAccessDefault: true };
  users = new Map<string, { xmppAccess: boolean | null; allowed: Set<string> }>();
  requests: { method: string; url: string; auth: string | undefined; type: string | undefined; body: string }[] = [];
  revision = 1;

  private static defaults(input: Record<string, unknown>): Partner {
    return { description: "", additionalDomains: [], tls: "required", sasl: "optional", dialback: true, connectionLimit: 20, keepalive: true, proxyPort: 5269, ...input } as unknown as Partner;
  }

  /** A stand-in for the negotiation matrix: one invalid row, one warned row. */
  private static check(p: Partner): { error?: { status: number; body: Record<string, unknown> }; warnings: string[] } {
    if (p.tls === "not-supported" && !p.dialback) {
      return { error: { status: 400, body: { error: "invalid-combination", reason: "without TLS and without dialback the partner cannot be authenticated", row: "R7" } }, warnings: [] };
    }
    return { warnings: p.type === "public-verified" ? [`partner ${p.domain}: Public verified lets its users reach internal users without their approval (not recommended)`] : [] };
  }

  private find(domain: string): Partner | undefined {
    for (const p of this.partners.values()) if (p.domain === domain || p.additionalDomains.includes(domain)) return p;
    return undefined;
  }

  handle(method: string, url: URL, body: string, type: string | undefined): { status: number; json?: unknown; text?: string } {
    const parts = url.pathname.split("/").slice(1).map(decodeURIComponent);
    const json = (): Record<string, unknown> => JSON.parse(body) as Record<string, unknown>;
    if (parts[0] !== "v1") return { status: 404, json: { error: "not-found", reason: `no route ${method} ${url.pathname}` } };
    const [, what, key, sub, contact] = parts;
    if (what === "partners" && key === undefined && method === "GET") return { status: 200, json: { revision: this.revision, partners: [...this.partners.values()] } };
    if (what === "partners" && key === undefined && method === "POST") {
      const p = FakeAdmin.defaults(json());
      if (this.find(p.domain) !== undefined) return { status: 409, json: { error: "exists", reason: `${p.domain} already belongs to partner ${p.domain}` } };
      const c = FakeAdmin.check(p);
      if (c.error !== undefined) return { status: c.error.status, json: c.error.body };
      this.partners.set(p.domain, p);
      return { status: 201, json: { partner: p, warnings: c.warnings } };
    }
    if (what === "partners" && key !== undefined) {
      const p = this.find(key);
      if (p === undefined) return { status: 404, json: { error: "not-found", reason: `no partner ${key}` } };
      if (method === "GET") return { status: 200, json: p };
      if (method === "DELETE") {
        this.partners.delete(p.domain);
        return { status: 204 };
      }
      if (method === "PATCH") {
        const merged: Record<string, unknown> = { ...p, ...json() };
        for (const [k, v] of Object.entries(json())) if (v === null) delete merged[k];
        const next = FakeAdmin.defaults(merged);
        const c = FakeAdmin.check(next);
        if (c.error !== undefined) return { status: c.error.status, json: c.error.body };
        this.partners.set(p.domain, next);
        return { status: 200, json: { partner: next, warnings: c.warnings } };
      }
    }
    if (what === "settings" && method === "GET") return { status: 200, json: this.settings };
    if (what === "settings" && method === "PATCH") {
      const patch = json();
      for (const [k, v] of Object.entries(patch)) {
        if (k !== "xmppAccessDefault") return { status: 400, json: { error: "bad-body", reason: `(settings): Unrecognized key: "${k}"` } };
        if (typeof v !== "boolean") return { status: 400, json: { error: "bad-body", reason: "xmppAccessDefault: Invalid input: expected boolean" } };
      }
      this.settings = { ...this.settings, ...patch };
      return { status: 200, json: this.settings };
    }
    if (what === "export" && method === "GET") return { status: 200, text: stringify({ partners: [...this.partners.values()], settings: this.settings }) };
    if (what === "import" && method === "POST") {
      if (type?.startsWith("text/yaml") !== true) return { status: 415, json: { error: "unsupported-media-type", reason: "send the YAML document with Content-Type: text/yaml" } };
      const doc = parseYaml(body) as { partners?: Record<string, unknown>[] };
      const problems: string[] = [];
      const next = new Map<string, Partner>();
      for (const [i, raw] of (doc.partners ?? []).entries()) {
        const p = FakeAdmin.defaults(raw);
        const c = FakeAdmin.check(p);
        if (c.error !== undefined) problems.push(`partners[${i}] (${p.domain}): ${String(c.error.body.reason)}`);
        next.set(p.domain, p);
      }
      if (problems.length > 0) return { status: 400, json: { error: "invalid-import", reason: `${problems.length} problem(s); nothing was changed`, problems } };
      const added = [...next.keys()].filter((d) => !this.partners.has(d));
      const removed = [...this.partners.keys()].filter((d) => !next.has(d));
      const changed = [...next.keys()].filter((d) => this.partners.has(d) && JSON.stringify(this.partners.get(d)) !== JSON.stringify(next.get(d)));
      if (url.searchParams.get("dryRun") !== "true") this.partners = next;
      return { status: 200, json: { added, changed, removed, warnings: [] } };
    }
    if (what === "users" && key !== undefined) {
      if (!key.endsWith("@contoso.example")) return { status: 400, json: { error: "bad-user", reason: `${key.split("@")[1] ?? key} is not one of our domains` } };
      const u = this.users.get(key) ?? { xmppAccess: null, allowed: new Set<string>() };
      this.users.set(key, u);
      const view = () => ({ user: key, xmppAccess: u.xmppAccess ?? (this.settings.xmppAccessDefault as boolean), allowed: [...u.allowed] });
      if (sub === undefined && method === "GET") return { status: 200, json: view() };
      if (sub === "xmpp-access" && method === "PUT") {
        const allowed = json().allowed;
        if (allowed !== true && allowed !== false && allowed !== null) return { status: 400, json: { error: "bad-body", reason: 'expected { "allowed": true | false | null }' } };
        u.xmppAccess = allowed;
        return { status: 200, json: { user: key, xmppAccess: view().xmppAccess } };
      }
      if (sub === "allowed" && contact !== undefined && method === "PUT") {
        const added = !u.allowed.has(contact);
        u.allowed.add(contact);
        return { status: added ? 201 : 200, json: { user: key, allowed: contact } };
      }
      if (sub === "allowed" && contact !== undefined && method === "DELETE") {
        if (!u.allowed.delete(contact)) return { status: 404, json: { error: "not-found", reason: `${contact} is not on ${key}'s allow-list` } };
        return { status: 204 };
      }
    }
    return { status: 404, json: { error: "not-found", reason: `no route ${method} ${url.pathname}` } };
  }

  listener = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      this.requests.push({ method: req.method ?? "", url: req.url ?? "", auth: req.headers.authorization, type: req.headers["content-type"], body });
      let answer: { status: number; json?: unknown; text?: string };
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        answer = { status: 401, json: { error: "unauthorized", reason: req.headers.authorization === undefined ? "no bearer token" : "unknown token" } };
      } else {
        answer = this.handle(req.method ?? "GET", new URL(req.url ?? "/", "http://x"), body, req.headers["content-type"]);
      }
      if (answer.json !== undefined) {
        res.writeHead(answer.status, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(answer.json));
      } else if (answer.text !== undefined) {
        res.writeHead(answer.status, { "content-type": "text/yaml; charset=utf-8" }).end(answer.text);
      } else {
        res.writeHead(answer.status).end();
      }
    });
  };
}

let server: Server;
let fake: FakeAdmin;
let url: string;
let dir: string;

before(async () => {
  dir = tempDir("admin");
  server = createServer((req, res) => fake.listener(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  fake = new FakeAdmin();
});

function ctxWith(env: NodeJS.ProcessEnv = { PASSERELLE_ADMIN_URL: url, PASSERELLE_ADMIN_TOKEN: TOKEN }, interactive = false): RecordingContext {
  return recordingContext(dir, { env, interactive });
}

async function cli(argv: string[], ctx = ctxWith()): Promise<{ code: number; out: string; err: string; ctx: RecordingContext }> {
  const code = await run(argv, ctx);
  return { code, out: ctx.stdout.join("\n"), err: ctx.stderr.join("\n"), ctx };
}

describe("passerelle partner", () => {
  it("new: POSTs the partner with the bearer token, prints it and the server's warnings", async () => {
    const r = await cli(["partner", "new", "Fabrikam.example", "--type", "public-verified", "--additional-domain", "chat.fabrikam.example", "--connection-limit", "5", "--no-keepalive", "--description", "Fabrikam Inc."]);
    assert.equal(r.code, 0, r.err);
    const req = fake.requests[0];
    assert.ok(req);
    assert.equal(req.method, "POST");
    assert.equal(req.url, "/v1/partners");
    assert.equal(req.auth, `Bearer ${TOKEN}`);
    assert.match(req.type ?? "", /^application\/json/);
    assert.deepEqual(JSON.parse(req.body), { domain: "fabrikam.example", type: "public-verified", description: "Fabrikam Inc.", additionalDomains: ["chat.fabrikam.example"], connectionLimit: 5, keepalive: false });
    assert.match(r.out, /partner fabrikam\.example created/);
    assert.match(r.out, /connection limit: {3}5/);
    assert.match(r.out, /tls: {16}required/, "Lync's default, filled in by the server");
    assert.match(r.err, /^warning: partner fabrikam\.example: Public verified lets its users reach/m);
    assert.equal(fake.partners.get("fabrikam.example")?.keepalive, false);
  });

  it("new: an invalid combination exits 1 with the server's reason and the matrix row; a duplicate with 409's reason", async () => {
    const bad = await cli(["partner", "new", "plain.example", "--type", "federated", "--tls", "not-supported", "--no-dialback"]);
    assert.equal(bad.code, 1);
    assert.equal(bad.err, "passerelle partner new: without TLS and without dialback the partner cannot be authenticated (invalid-combination, row R7)");
    assert.equal(fake.partners.size, 0);
    await cli(["partner", "new", "a.example", "--type", "federated"]);
    const dup = await cli(["partner", "new", "a.example", "--type", "federated"]);
    assert.equal(dup.code, 1);
    assert.match(dup.err, /a\.example already belongs to partner a\.example \(exists\)/);
  });

  it("set PATCHes only the given fields (null clears the proxy); get and list show the result; --json prints the answer", async () => {
    await cli(["partner", "new", "b.example", "--type", "federated", "--proxy-fqdn", "proxy.b.example", "--proxy-port", "5270"]);
    const set = await cli(["partner", "set", "b.example", "--type", "public-unverified", "--no-proxy-fqdn", "--sasl", "required"]);
    assert.equal(set.code, 0, set.err);
    const patch = fake.requests.at(-1);
    assert.equal(patch?.method, "PATCH");
    assert.equal(patch?.url, "/v1/partners/b.example");
    assert.deepEqual(JSON.parse(patch?.body ?? ""), { type: "public-unverified", sasl: "required", proxyFqdn: null });
    assert.equal(fake.partners.get("b.example")?.proxyFqdn, undefined);
    assert.match(set.out, /partner b\.example changed[\s\S]*type: {15}public-unverified[\s\S]*proxy: {14}- \(SRV records\)/);

    const get = await cli(["partner", "get", "b.example", "--json"]);
    assert.equal(get.code, 0);
    assert.equal((JSON.parse(get.out) as Partner).sasl, "required");

    await cli(["partner", "new", "c.example", "--type", "federated", "--additional-domain", "im.c.example"]);
    const list = await cli(["partner", "list"]);
    assert.equal(list.code, 0);
    const lines = list.out.split("\n");
    assert.match(lines[0] ?? "", /^DOMAIN\s+TYPE\s+TLS\s+SASL\s+DIALBACK\s+LIMIT\s+KEEPALIVE\s+PROXY\s+ADDITIONAL$/);
    assert.match(lines[1] ?? "", /^b\.example\s+public-unverified\s+required\s+required\s+yes\s+20\s+yes\s+-\s+-$/);
    assert.match(lines[2] ?? "", /^c\.example\s+federated\s+required\s+optional\s+yes\s+20\s+yes\s+-\s+im\.c\.example$/);

    const nothing = await cli(["partner", "set", "b.example"]);
    assert.equal(nothing.code, 1);
    assert.match(nothing.err, /nothing to change/);
    const missing = await cli(["partner", "get", "nobody.example"]);
    assert.equal(missing.code, 1);
    assert.equal(missing.err, "passerelle partner get: no partner nobody.example (not-found)");
  });

  it("remove asks on a terminal, needs --yes without one, and DELETEs", async () => {
    await cli(["partner", "new", "d.example", "--type", "federated"]);
    const noTty = await cli(["partner", "remove", "d.example"]);
    assert.equal(noTty.code, 1);
    assert.match(noTty.err, /pass --yes/);
    const tty = ctxWith(undefined, true);
    tty.answers.push(false);
    assert.equal((await cli(["partner", "remove", "d.example"], tty)).code, 1);
    assert.equal(fake.partners.has("d.example"), true);
    const yes = await cli(["partner", "remove", "d.example", "--yes"]);
    assert.equal(yes.code, 0, yes.err);
    assert.equal(fake.requests.at(-1)?.method, "DELETE");
    assert.equal(fake.partners.has("d.example"), false);
    assert.match(yes.out, /partner d\.example removed/);
  });

  it("export writes the YAML; import previews (dry run), then replaces; an invalid file lists every problem", async () => {
    await cli(["partner", "new", "e.example", "--type", "federated"]);
    await cli(["partner", "new", "f.example", "--type", "federated"]);
    const file = join(dir, "export.yaml");
    const exp = await cli(["partner", "export", "--out", file, "--force"]);
    assert.equal(exp.code, 0, exp.err);
    const doc = parseYaml(readFileSync(file, "utf8")) as { partners: Partner[] };
    assert.deepEqual(doc.partners.map((p) => p.domain), ["e.example", "f.example"]);

    // GitOps: edit the file (drop f, change e, add g) and import it.
    doc.partners = [{ ...doc.partners[0], connectionLimit: 3 } as Partner, { domain: "g.example", type: "federated" } as Partner];
    writeFileSync(file, stringify(doc));
    const dry = await cli(["partner", "import", file, "--dry-run"]);
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /dry run[\s\S]*added: {3}g\.example\n {2}changed: e\.example\n {2}removed: f\.example/);
    assert.equal(fake.partners.has("f.example"), true, "a dry run changes nothing");
    const last = fake.requests.at(-1);
    assert.equal(last?.url, "/v1/import?dryRun=true");
    assert.match(last?.type ?? "", /^text\/yaml/);

    const refused = await cli(["partner", "import", file]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /pass --yes/);
    const applied = await cli(["partner", "import", file, "--yes"]);
    assert.equal(applied.code, 0, applied.err);
    assert.match(applied.out, /^imported:/m);
    assert.deepEqual([...fake.partners.keys()], ["e.example", "g.example"]);

    writeFileSync(file, stringify({ partners: [{ domain: "h.example", type: "federated", tls: "not-supported", dialback: false }, { domain: "i.example", type: "federated", tls: "not-supported", dialback: false }] }));
    const invalid = await cli(["partner", "import", file, "--yes"]);
    assert.equal(invalid.code, 1);
    assert.equal(
      invalid.err,
      [
        "passerelle partner import: 2 problem(s); nothing was changed (invalid-import)",
        "  - partners[0] (h.example): without TLS and without dialback the partner cannot be authenticated",
        "  - partners[1] (i.example): without TLS and without dialback the partner cannot be authenticated",
      ].join("\n"),
    );
  });
});

describe("passerelle settings and user", () => {
  it("settings get/set", async () => {
    const set = await cli(["settings", "set", "xmppAccessDefault=false"]);
    assert.equal(set.code, 0, set.err);
    assert.deepEqual(JSON.parse(fake.requests.at(-1)?.body ?? ""), { xmppAccessDefault: false });
    assert.match(set.out, /^xmppAccessDefault {2}false$/m);
    const one = await cli(["settings", "get", "xmppAccessDefault", "--json"]);
    assert.deepEqual(JSON.parse(one.out), { xmppAccessDefault: false });
    const bad = await cli(["settings", "set", "colour=blue"]);
    assert.equal(bad.code, 1);
    assert.equal(bad.err, 'passerelle settings set: (settings): Unrecognized key: "colour" (bad-body)');
  });

  it("user access, allow, get, disallow", async () => {
    assert.equal((await cli(["user", "access", "juliet@contoso.example", "off"])).code, 0);
    assert.deepEqual(JSON.parse(fake.requests.at(-1)?.body ?? ""), { allowed: false });
    assert.equal(fake.requests.at(-1)?.url, "/v1/users/juliet%40contoso.example/xmpp-access");
    assert.equal((await cli(["user", "allow", "juliet@contoso.example", "romeo@public.example"])).code, 0);
    const get = await cli(["user", "get", "juliet@contoso.example"]);
    assert.match(get.out, /xmpp access: no\nallowed: {5}romeo@public\.example/);
    assert.equal((await cli(["user", "access", "juliet@contoso.example", "default"])).code, 0);
    assert.deepEqual(JSON.parse(fake.requests.at(-1)?.body ?? ""), { allowed: null });
    assert.equal((await cli(["user", "disallow", "juliet@contoso.example", "romeo@public.example"])).code, 0);
    const again = await cli(["user", "disallow", "juliet@contoso.example", "romeo@public.example"]);
    assert.equal(again.code, 1);
    assert.match(again.err, /romeo@public\.example is not on juliet@contoso\.example's allow-list \(not-found\)/);
    const foreign = await cli(["user", "get", "x@elsewhere.example"]);
    assert.equal(foreign.code, 1);
    assert.match(foreign.err, /elsewhere\.example is not one of our domains \(bad-user\)/);
  });
});

describe("connection and credentials", () => {
  it("no token: refused before any request", async () => {
    const r = await cli(["partner", "list"], ctxWith({ PASSERELLE_ADMIN_URL: url }));
    assert.equal(r.code, 1);
    assert.equal(r.err, "passerelle partner list: no admin credentials: set PASSERELLE_ADMIN_TOKEN, pass --token-file, or --cert and --key for the TLS listener");
    assert.equal(fake.requests.length, 0);
  });

  it("a wrong token gets the server's 401 reason; --token-file and --url are used", async () => {
    const wrong = await cli(["partner", "list"], ctxWith({ PASSERELLE_ADMIN_URL: url, PASSERELLE_ADMIN_TOKEN: "nope" }));
    assert.equal(wrong.code, 1);
    assert.equal(wrong.err, "passerelle partner list: unknown token (unauthorized)");
    writeFileSync(join(dir, "token"), `${TOKEN}\n`);
    const ok = await cli(["partner", "list", "--token-file", "token", "--url", url], ctxWith({}));
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.out, "no partners");
  });

  it("an unreachable server or a bad URL is one clear line", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await cli(["settings", "get"], ctxWith({ PASSERELLE_ADMIN_URL: `http://127.0.0.1:${port}`, PASSERELLE_ADMIN_TOKEN: TOKEN }));
    assert.equal(r.code, 1);
    assert.equal(r.err, `passerelle settings get: cannot reach the admin API at http://127.0.0.1:${port}: ECONNREFUSED`);
    const bad = await cli(["settings", "get", "--url", "ftp://x"]);
    assert.match(bad.err, /--url: expected http:\/\/ or https:\/\//);
  });
});
