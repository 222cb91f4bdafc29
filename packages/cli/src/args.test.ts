// Option parsing and the mapping of flags to API bodies, without a server.
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { parseArgs, type OptionSpecs } from "./args.ts";
import { run } from "./cli.ts";
import type { CommandGroup } from "./command.ts";
import { partnerBody, partnerFieldOptions } from "./commands/partner.ts";
import { parseAssignments } from "./commands/settings.ts";
import { accessValue } from "./commands/user.ts";
import { CliError } from "./errors.ts";
import { recordingContext } from "./test-support.ts";

const specs: OptionSpecs = {
  name: { type: "string", description: "" },
  count: { type: "number", description: "" },
  san: { type: "string", multiple: true, description: "" },
  dialback: { type: "boolean", negatable: true, description: "" },
  yes: { type: "boolean", short: "y", description: "" },
};

const refusal = (argv: string[], message: RegExp) => assert.throws(() => parseArgs(argv, specs), (e: unknown) => e instanceof CliError && message.test(e.message));

describe("parseArgs", () => {
  it("reads --k v, --k=v, numbers, repeatable options, negations, short flags and positionals", () => {
    const parsed = parseArgs(["a.example", "--name", "x", "--count=42", "--san", "one", "--san=two", "--no-dialback", "-y", "--", "--not-an-option"], specs);
    assert.deepEqual(parsed.options, { name: "x", count: 42, san: ["one", "two"], dialback: false, yes: true });
    assert.deepEqual(parsed.positionals, ["a.example", "--not-an-option"]);
    assert.equal(parseArgs(["--dialback"], specs).options.dialback, true);
    assert.equal(parseArgs(["--dialback=false"], specs).options.dialback, false);
  });

  it("refuses unknown options, missing values, bad numbers and repeats, naming the option", () => {
    refusal(["--nope"], /unknown option --nope/);
    refusal(["--no-yes"], /unknown option --no-yes/);
    refusal(["--name"], /--name needs a value/);
    refusal(["--name", "--count"], /--name needs a value/);
    refusal(["--count", "12abc"], /--count: expected a whole number, got "12abc"/);
    refusal(["--count", "99999999999999999999"], /--count: number out of range/);
    refusal(["--name", "a", "--name", "b"], /--name given twice/);
    refusal(["--no-dialback=true"], /--no-dialback takes no value/);
    refusal(["--yes=maybe"], /expected true or false/);
    refusal(["-z"], /unknown option -z/);
    refusal(["--name", "x".repeat(9000)], /longer than 8192/);
  });
});

describe("partner flags → API body", () => {
  const body = (argv: string[], mode: "new" | "set") => partnerBody(parseArgs(argv, partnerFieldOptions), mode);

  it("names each field as the API does", () => {
    assert.deepEqual(
      body(["--type", "public-unverified", "--tls", "optional", "--sasl", "not-supported", "--no-dialback", "--description", "Fabrikam", "--additional-domain", "Chat.Fabrikam.example", "--additional-domain", "im.fabrikam.example", "--connection-limit", "5", "--no-keepalive", "--proxy-fqdn", "proxy.fabrikam.example", "--proxy-port", "5270"], "new"),
      {
        type: "public-unverified",
        tls: "optional",
        sasl: "not-supported",
        dialback: false,
        description: "Fabrikam",
        additionalDomains: ["chat.fabrikam.example", "im.fabrikam.example"],
        connectionLimit: 5,
        keepalive: false,
        proxyFqdn: "proxy.fabrikam.example",
        proxyPort: 5270,
      },
    );
  });

  it("set sends only what is given; null clears the proxy, [] the additional domains", () => {
    assert.deepEqual(body(["--keepalive"], "set"), { keepalive: true });
    assert.deepEqual(body(["--no-proxy-fqdn", "--clear-additional-domains"], "set"), { proxyFqdn: null, additionalDomains: [] });
  });

  it("refuses bad values before asking the server", () => {
    const refused = (argv: string[], mode: "new" | "set", message: RegExp) => assert.throws(() => body(argv, mode), (e: unknown) => e instanceof CliError && message.test(e.message));
    refused([], "new", /--type is required/);
    refused(["--type", "partner"], "new", /--type: expected one of federated, public-verified, public-unverified/);
    refused(["--tls", "maybe"], "set", /--tls: expected one of required, optional, not-supported/);
    refused(["--connection-limit", "0"], "set", /--connection-limit: expected 1 to 10000/);
    refused(["--proxy-port", "70000"], "set", /--proxy-port: expected 1 to 65535/);
    refused(["--proxy-fqdn", "a.example", "--no-proxy-fqdn"], "set", /choose one/);
    refused(["--type", "federated", "--no-proxy-fqdn"], "new", /--no-proxy-fqdn is for set/);
  });
});

describe("settings and user arguments", () => {
  it("key=value: booleans and numbers as JSON, the rest as text", () => {
    assert.deepEqual(parseAssignments(["xmppAccessDefault=false", "limit=3", "note=hello world"]), { xmppAccessDefault: false, limit: 3, note: "hello world" });
    assert.throws(() => parseAssignments([]), /at least one key=value/);
    assert.throws(() => parseAssignments(["novalue"]), /expected key=value/);
    assert.throws(() => parseAssignments(["a=1", "a=2"]), /a given twice/);
    assert.throws(() => parseAssignments(["bad key=1"]), /not a setting name/);
  });

  it("access on|off|default", () => {
    assert.equal(accessValue("on"), true);
    assert.equal(accessValue("OFF"), false);
    assert.equal(accessValue("default"), null);
    assert.throws(() => accessValue("maybe"), /expected on, off or default/);
  });
});

describe("dispatcher", () => {
  const echo: CommandGroup = {
    name: "echo",
    summary: "test group",
    commands: [{ name: "say", summary: "says", options: { loud: { type: "boolean", description: "" } }, run: async (args, ctx) => (ctx.out(`${args.positionals.join(" ")}${args.options.loud === true ? "!" : ""}`), 0) }],
  };
  const solo: CommandGroup = { name: "solo", summary: "own command", commands: [{ name: "", usage: "[x]", summary: "runs itself", options: {}, run: async (args, ctx) => (ctx.out(`solo ${args.positionals.join(",")}`), 0) }] };

  it("runs a sub-command, a group's own command, and prints usage with exit 2 on mistakes", async () => {
    const ctx = recordingContext("/");
    assert.equal(await run(["echo", "say", "hi", "--loud"], ctx, [echo, solo]), 0);
    assert.equal(await run(["solo", "a.example"], ctx, [echo, solo]), 0);
    assert.deepEqual(ctx.stdout, ["hi!", "solo a.example"]);
    assert.equal(await run([], ctx, [echo, solo]), 2);
    assert.equal(await run(["nope"], ctx, [echo, solo]), 2);
    assert.equal(await run(["echo", "shout"], ctx, [echo, solo]), 2);
    assert.match(ctx.stderr.join("\n"), /unknown command "nope"/);
    assert.match(ctx.stderr.join("\n"), /passerelle echo: unknown command "shout"/);
    const help = recordingContext("/");
    assert.equal(await run(["echo", "say", "--help"], help, [echo, solo]), 0);
    assert.match(help.stdout.join("\n"), /usage: passerelle echo say \[options\][\s\S]*--loud/);
  });

  it("registers every command group of the real CLI", async () => {
    const ctx = recordingContext("/");
    assert.equal(await run(["--help"], ctx), 0);
    for (const g of ["cert", "partner", "settings", "user"]) assert.match(ctx.stdout.join("\n"), new RegExp(`^  ${g} `, "m"));
  });
});
