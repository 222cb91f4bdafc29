#!/usr/bin/env node
// Finds the test files and runs them with node's test runner (through tsx), one file at a
// time: e2e tests start real peers in their own network namespaces and need the machine's two
// cores to themselves. Usage: node scripts/run-tests.mjs [unit|e2e|all] [extra node --test args]
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const which = process.argv[2] ?? "all";
const extra = process.argv.slice(3);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith(".test.ts")) out.push(relative(root, path));
  }
  return out;
}

const all = ["packages", "services", "e2e", "bench", "deploy"].flatMap((d) => walk(join(root, d), []));
const isE2e = (f) => f.startsWith("e2e/") || f.includes(".integration.test.ts");
const files = all.filter((f) => (which === "unit" ? !isE2e(f) : which === "e2e" ? isE2e(f) : true)).sort((a, b) => Number(isE2e(a)) - Number(isE2e(b)) || a.localeCompare(b));
if (files.length === 0) {
  console.error(`run-tests: no ${which} test files found`);
  process.exit(1);
}
console.log(`run-tests: ${files.length} ${which} test file(s)`);
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=1", "--test-reporter=spec", ...extra, ...files],
  { cwd: root, stdio: "inherit" },
);
process.exit(result.status ?? 1);
