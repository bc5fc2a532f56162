#!/usr/bin/env bash
# Installs the Debian packages raftvip's lab, demo, tests and benchmarks need,
# only those that are missing. Safe to run again. Needs root (or sudo) when
# something is missing.
set -euo pipefail
pkgs=(mariadb-server mariadb-client keepalived iproute2 tcpdump procps)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# policy-rc.d keeps Debian from starting the system-wide mariadb/keepalived:
# the lab starts its own instances inside namespaces.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
