#!/bin/sh
# Installs the real peers the e2e tests and benchmarks run against (Debian 12).
# Idempotent: runs `apt-get update` and `apt-get install` only when a package is missing.
# Nothing is started: the testkit starts each peer itself and stops it by PID.
set -eu

PACKAGES="
prosody
lua-unbound
ejabberd
kamailio
kamailio-presence-modules
kamailio-sqlite-modules
sqlite3
sip-tester
bind9
bind9-dnsutils
nats-server
redis-server
openssl
iproute2
procps
"

if [ "$(id -u)" -ne 0 ]; then
  echo "install-peers.sh: must run as root" >&2
  exit 1
fi

missing=""
for pkg in $PACKAGES; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [ "$status" != "installed" ]; then
    missing="$missing $pkg"
  fi
done

if [ -z "$missing" ]; then
  echo "install-peers.sh: all peers already installed"
else
  echo "install-peers.sh: installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update
  # shellcheck disable=SC2086
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends $missing
fi

exit 0
