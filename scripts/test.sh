#!/usr/bin/env bash
# The one test command (README quick start; .ci/run calls exactly this): installs what is
# missing, then type-checks, lints and runs every test — unit, integration and e2e against
# real Prosody, ejabberd, Kamailio, sipp, bind9, NATS and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --peers
tools/pnpm/node_modules/.bin/pnpm run --silent typecheck
tools/pnpm/node_modules/.bin/pnpm run --silent lint
node scripts/run-tests.mjs all
