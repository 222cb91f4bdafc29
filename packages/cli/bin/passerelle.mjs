#!/usr/bin/env node
// The `passerelle` command: runs src/main.ts through tsx, as the rest of the repository runs
// TypeScript directly (no build step).
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
