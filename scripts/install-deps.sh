#!/usr/bin/env bash
# Installs the Debian packages that provide the programs raftvip's lab, demo,
# tests and benchmarks run, only for programs that are missing. Safe to run
# again. Needs root (or sudo) when something is missing.
set -euo pipefail

# The one list: every program the code runs, and the Debian package it comes
# from. scripts/deps_test.go (in `go test ./...`) fails when the Go code runs
# a program that is not here.
deps='
ip                  iproute2
bridge              iproute2
mariadbd            mariadb-server
mariadb-install-db  mariadb-server
mariadb             mariadb-client
mariadb-admin       mariadb-client
mariadb-slap        mariadb-client  # lab: the load of TestNoFalseFailover
keepalived          keepalived
ping                iputils-ping  # lab network test
tcpdump             tcpdump       # captures in docs and vrrpcompat/testdata
timeout             coreutils     # in the keepalived check script of the lab
cp                  coreutils
uname               coreutils
nproc               coreutils
sleep               coreutils     # internal/sched test: a child process
groupadd            passwd        # admin_group test: a temporary group
groupdel            passwd
chromium            chromium      # status page test: headless, in the client namespace
curl                curl          # status page test: /metrics as an operator fetches it
make                make          # make deb, in the package test
bash                bash
dpkg-deb            dpkg          # make deb; the package test installs it with dpkg
dpkg                dpkg
dpkg-query          dpkg
adduser             adduser       # postinst of the package (and its Depends)
setpriv             util-linux    # package test: validate as the user of the unit
'

# have PROGRAM: on PATH or in an sbin directory (sudo and some CI shells
# leave /usr/sbin off PATH).
have() {
  command -v "$1" >/dev/null 2>&1 && return 0
  local d
  for d in /usr/sbin /sbin /usr/bin /bin; do [ -x "$d/$1" ] && return 0; done
  return 1
}

missing=()
while read -r prog pkg _; do
  case $prog in ''|'#'*) continue ;; esac
  have "$prog" && continue
  case " ${missing[*]-} " in *" $pkg "*) ;; *) missing+=("$pkg") ;; esac
done <<<"$deps"
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

# A package that installed but did not bring its program means the table is
# wrong: say so here rather than in a test much later.
bad=()
while read -r prog pkg _; do
  case $prog in ''|'#'*) continue ;; esac
  have "$prog" || bad+=("$prog (from $pkg)")
done <<<"$deps"
if [ ${#bad[@]} -gt 0 ]; then
  echo "install-deps: still missing after the install: ${bad[*]}: fix the deps table in $0" >&2
  exit 1
fi
