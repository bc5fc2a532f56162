#!/usr/bin/env bash
# mkdeb.sh ROOT OUTDIR BINARY: packs ROOT (what `make install DESTDIR=ROOT
# PREFIX=/usr` wrote) as OUTDIR/raftvip_VERSION_ARCH.deb with dpkg-deb.
# No network, no root: files are owned by root in the package
# (--root-owner-group); the maintainer scripts are dist/debian/*.
set -euo pipefail
root=$1 out=$2 bin=$3
here=$(cd "$(dirname "$0")" && pwd)

# The Debian version must start with a digit and sort in commit order: a
# tag vX.Y.Z gives X.Y.Z (X.Y.Z+N.gHASH N commits after it), an untagged
# commit 0~gitYYYYMMDDHHMMSS.HASH (its commit time, UTC).
if [ -z "${DEB_VERSION:-}" ]; then
	if d=$(git -C "$here" describe --tags --match 'v[0-9]*' 2>/dev/null); then
		DEB_VERSION=$(printf '%s\n' "${d#v}" | sed -e 's/-\([0-9]*\)-g/+\1.g/' -e 's/-/./g')
	elif t=$(TZ=UTC git -C "$here" log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S 2>/dev/null); then
		DEB_VERSION=0~git$t.$(git -C "$here" rev-parse --short HEAD)
	else
		DEB_VERSION=0~dev
	fi
fi
case $(go env GOARCH) in
amd64) arch=amd64 ;; arm64) arch=arm64 ;; 386) arch=i386 ;; arm) arch=armhf ;;
ppc64le) arch=ppc64el ;; *) arch=$(go env GOARCH) ;;
esac

# libc6 only for a binary linked against it (cgo: os/user through NSS).
depends=adduser
if LC_ALL=C readelf -l "$bin" 2>/dev/null | grep -q 'program interpreter' ||
	grep -aq 'ld-linux' "$bin"; then
	depends="libc6, $depends"
fi

chmod 0755 "$root"
mkdir -p "$root/DEBIAN"
# Every file under /etc is the admin's: dpkg keeps their edits on upgrade
# and removal (purge removes them).
(cd "$root" && find etc -type f | sort | sed 's|^|/|') >"$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: raftvip
Version: $DEB_VERSION
Architecture: $arch
Maintainer: raftvip developers <raftvip@localhost>
Installed-Size: $size
Depends: $depends
Suggests: mariadb-server | default-mysql-server
Section: net
Priority: optional
Description: MySQL/MariaDB virtual IP held by a Raft leader
 raftvip moves a MySQL/MariaDB VIP between two database hosts, like
 keepalived with a dual-master pair, but a Raft group of three (two
 database hosts and a witness) decides who holds it, a kernel lease
 removes it from a holder that lost the quorum, and health is a real
 query. Runs as the systemd unit raftvip.service (not enabled on install:
 edit /etc/raftvip/raftvip.hcl first).
CONTROL
for s in postinst prerm postrm; do
	install -m 0755 "$here/debian/$s" "$root/DEBIAN/$s"
done
mkdir -p "$out"
deb="$out/raftvip_${DEB_VERSION}_${arch}.deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESS:-xz}" --build "$root" "$deb" >/dev/null
echo "$deb"
