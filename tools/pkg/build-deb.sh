#!/bin/sh
# Builds liqolet_<version>_<arch>.deb from a board's static build (docs/packaging.md).
#   build-deb.sh ARCH BINDIR OUTDIR
# ARCH: amd64, arm64 or armhf; BINDIR holds liqolet.stripped and liqoletctl.stripped (the
# `make firmware` output). Environment: VERSION (the project's VERSION), SOURCE_DATE_EPOCH
# (every mtime and the changelog date; the .deb is then byte-for-byte reproducible).
set -eu
arch=$1 bindir=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
: "${VERSION:?}" "${SOURCE_DATE_EPOCH:?}"
# Debian orders 0.1.0~dev before 0.1.0; a '-' would start a Debian revision.
dver=$(printf '%s' "$VERSION" | tr '-' '~')
export LC_ALL=C TZ=UTC
umask 022

stage="$out/liqolet_${dver}_${arch}"
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/etc/liqolet" \
    "$stage/usr/share/doc/liqolet" "$stage/usr/share/man/man8" "$stage/usr/share/man/man1" \
    "$stage/usr/share/lintian/overrides"

install -m 0755 "$bindir/liqolet.stripped" "$stage/usr/bin/liqolet"
install -m 0755 "$bindir/liqoletctl.stripped" "$stage/usr/bin/liqoletctl"
install -m 0644 "$here/liqolet.service" "$stage/lib/systemd/system/liqolet.service"
python3 "$here/sample-config.py" "$top/docs/configuration.md" > "$stage/etc/liqolet/config"
chmod 0644 "$stage/etc/liqolet/config"
install -m 0644 "$here/copyright" "$stage/usr/share/doc/liqolet/copyright"
install -m 0644 "$top/docs/packaging.md" "$stage/usr/share/doc/liqolet/README.packaging"
gzip -9n < "$stage/usr/share/doc/liqolet/README.packaging" > "$stage/usr/share/doc/liqolet/README.packaging.gz"
rm "$stage/usr/share/doc/liqolet/README.packaging"
for m in liqolet.8:man8 liqoletctl.1:man1; do
    page=${m%%:*} sec=${m##*:}
    sed "s/@VERSION@/$VERSION/" "$here/$page" | gzip -9n > "$stage/usr/share/man/$sec/$page.gz"
done
date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
{
    printf 'liqolet (%s) unstable; urgency=medium\n\n' "$dver"
    printf '  * Release %s of liqolet, built from the project'"'"'s sources\n' "$VERSION"
    printf '    (its git history is the full change log).\n\n'
    printf ' -- liqolet maintainers <liqolet@users.noreply.github.com>  %s\n' "$date"
} | gzip -9n > "$stage/usr/share/doc/liqolet/changelog.gz"
install -m 0644 "$here/lintian-overrides" "$stage/usr/share/lintian/overrides/liqolet"
for s in postinst prerm postrm; do install -m 0755 "$here/$s" "$stage/DEBIAN/$s"; done
echo /etc/liqolet/config > "$stage/DEBIAN/conffiles"
chmod 0644 "$stage/DEBIAN/conffiles"

# Installed-Size as dpkg-gencontrol counts it: KiB per file, rounded up.
isize=$(find "$stage" -path "$stage/DEBIAN" -prune -o -type f -printf '%s\n' |
        awk '{ s += int(($1 + 1023) / 1024) } END { print s + 0 }')
cat > "$stage/DEBIAN/control" <<CTL
Package: liqolet
Version: $dver
Architecture: $arch
Maintainer: liqolet maintainers <liqolet@users.noreply.github.com>
Installed-Size: $isize
Depends: adduser
Section: net
Priority: optional
Homepage: https://liqo.io
Description: foreign Kubernetes cluster as a virtual node (Liqo-compatible agent)
 liqolet makes a foreign (provider) Kubernetes cluster appear as a virtual
 node in a home (consumer) cluster, as Liqo's virtual kubelet does: pods
 scheduled on the node run in the foreign cluster with their status reflected
 back, and the Services, EndpointSlices, ConfigMaps, Secrets and Ingresses of
 offloaded namespaces are reflected too.
 .
 This package holds the static agent, liqoletctl (its management CLI) and a
 hardened systemd service (Type=notify with a watchdog) for gateways.
CTL
chmod 0644 "$stage/DEBIAN/control"

(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | sort | xargs md5sum) \
    > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums"
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
deb="$out/liqolet_${dver}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz -z9 --build "$stage" "$deb" >/dev/null
rm -rf "$stage"
echo "built $deb ($(stat -c %s "$deb") bytes)"
