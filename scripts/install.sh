#!/usr/bin/env bash
# Installs what Passerelle needs on this machine, and nothing twice:
#   - Node dependencies (pnpm pinned in tools/pnpm, then the workspace from the lock file);
#   - nats-server and redis-server from Debian's packages when absent;
#   - with --peers: the real peers the tests run against (scripts/install-peers.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x tools/pnpm/node_modules/.bin/pnpm ]; then
  (cd tools/pnpm && npm ci --no-audit --no-fund --loglevel=error)
fi
tools/pnpm/node_modules/.bin/pnpm install --frozen-lockfile --reporter=silent

need_apt=""
command -v nats-server >/dev/null 2>&1 || need_apt="$need_apt nats-server"
command -v redis-server >/dev/null 2>&1 || need_apt="$need_apt redis-server"
command -v openssl >/dev/null 2>&1 || need_apt="$need_apt openssl"
if [ -n "$need_apt" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: please install:$need_apt (as root: apt-get install$need_apt)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  # shellcheck disable=SC2086
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $need_apt >/dev/null
fi

if [ "${1:-}" = "--peers" ]; then
  sh scripts/install-peers.sh
fi
