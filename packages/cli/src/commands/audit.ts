/** `passerelle audit`: who changed what, when (GET /v1/audit, newest first). */
import { bool, num } from "../args.ts";
import { AdminClient, adminOptions } from "../admin-client.ts";
import type { CommandGroup } from "../command.ts";
import { CliError } from "../errors.ts";
import { print, table } from "./partner.ts";

interface AuditEntry {
  at?: unknown;
  actor?: unknown;
  action?: unknown;
  target?: unknown;
}

export const audit: CommandGroup = {
  name: "audit",
  summary: "show the admin audit log: who changed what, when (policy service admin API)",
  commands: [
    {
      name: "",
      summary: "show the newest audit entries (before and after of each change with --json)",
      options: { limit: { type: "number", description: "how many entries, 1 to 1000 (default 20)" }, ...adminOptions },
      async run(args, ctx) {
        if (args.positionals.length > 0) throw new CliError(`unexpected argument "${args.positionals[0]}"`);
        const limit = num(args, "limit") ?? 20;
        if (limit < 1 || limit > 1000) throw new CliError(`--limit: expected 1 to 1000, got ${limit}`);
        const answer = await AdminClient.from(args, ctx).request("GET", "/v1/audit", { query: { limit: String(limit) } });
        if (bool(args, "json") === true) return print(ctx, answer.body);
        const entries = (answer.body as { entries?: unknown }).entries;
        if (!Array.isArray(entries)) throw new CliError("the admin API answered without audit entries");
        if (entries.length === 0) {
          ctx.out("no audit entries");
          return 0;
        }
        const rows = [["AT", "ACTOR", "ACTION", "TARGET"]];
        for (const e of entries as AuditEntry[]) rows.push([String(e.at ?? "-"), String(e.actor ?? "-"), String(e.action ?? "-"), String(e.target ?? "-")]);
        for (const line of table(rows)) ctx.out(line);
        return 0;
      },
    },
  ],
};
