#!/usr/bin/env bash
# Installs what is missing and starts the whole gateway locally (README quick start):
# NATS (JetStream) and Redis on their own ports unless PASSERELLE_NATS_URL / PASSERELLE_REDIS_URL
# are given, then all five services with a sample configuration. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec node --import tsx scripts/start-local.ts "$@"
