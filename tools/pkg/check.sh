#!/bin/sh
# The checks of `make pkg-check` (docs/packaging.md): the .debs (contents, lintian,
# systemd-analyze verify, a real dpkg install/upgrade/remove/purge in a throw-away
# overlay of this machine), the OCI image (skopeo: index, platforms, entrypoint, user,
# blobs, the binary in each layer), the dist tarballs, and reproducibility (a second
# build in AGAIN must be byte-for-byte the same).
#   check.sh OUT AGAIN      (environment: VERSION)
set -u
out=$1 again=$2
: "${VERSION:?}"
dver=$(printf '%s' "$VERSION" | tr '-' '~')
export LC_ALL=C
pass=0 fail=0 skip=0
ok()   { pass=$((pass + 1)); echo "  ok    $*"; }
bad()  { fail=$((fail + 1)); echo "  FAIL  $*"; }
skipped() { skip=$((skip + 1)); echo "  SKIP  $*"; }
check() { # check DESCRIPTION COMMAND...
    d=$1; shift
    if "$@" >/dev/null 2>&1; then ok "$d"; else bad "$d"; fi
}
tmp=$(mktemp -d /tmp/liqolet-pkg-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

boards="host:amd64:linux/amd64:X86-64: rpi4-aarch64:arm64:linux/arm64:AArch64:qemu-aarch64 armv7-gateway:armhf:linux/arm/v7:ARM:qemu-arm:cortex-r5f"

echo "== reproducibility (two builds, same SOURCE_DATE_EPOCH)"
for f in $(cd "$out" && find deb image dist -type f | sort); do
    if cmp -s "$out/$f" "$again/$f"; then :; else bad "$f differs between the two builds"; fi
done
n=$(cd "$out" && find deb image dist -type f | wc -l)
a=$(cd "$again" && find deb image dist -type f | wc -l)
[ "$n" = "$a" ] && [ "$fail" = 0 ] && ok "$n files identical in both builds (.debs, image blobs, tarballs)"
idx1=$(sha256sum "$out/image/liqolet-oci/index.json" | cut -d' ' -f1)
idx2=$(sha256sum "$again/image/liqolet-oci/index.json" | cut -d' ' -f1)
[ "$idx1" = "$idx2" ] && ok "image index.json digest sha256:$idx1 twice" || bad "image index digests differ"

echo "== .deb contents"
for spec in $boards; do
    IFS=: read -r board arch plat machine qemu cpu <<EOT
$spec
EOT
    deb="$out/deb/liqolet_${dver}_${arch}.deb"
    [ -f "$deb" ] || { bad "$deb missing"; continue; }
    [ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] && [ "$(dpkg-deb -f "$deb" Version)" = "$dver" ] \
        && ok "$arch: control says $arch $dver" || bad "$arch: control fields"
    x="$tmp/x-$arch"; dpkg-deb -x "$deb" "$x"; dpkg-deb -e "$deb" "$x/DEBIAN"
    miss=""
    for p in usr/bin/liqolet usr/bin/liqoletctl lib/systemd/system/liqolet.service etc/liqolet/config \
             usr/share/doc/liqolet/copyright usr/share/doc/liqolet/changelog.gz \
             usr/share/man/man8/liqolet.8.gz usr/share/man/man1/liqoletctl.1.gz; do
        [ -f "$x/$p" ] || miss="$miss $p"
    done
    [ -z "$miss" ] && ok "$arch: binaries, unit, config, copyright, changelog, man pages" || bad "$arch: missing$miss"
    [ "$(cat "$x/DEBIAN/conffiles")" = /etc/liqolet/config ] && ok "$arch: /etc/liqolet/config is a conffile" || bad "$arch: conffiles"
    for b in liqolet liqoletctl; do
        if readelf -h "$x/usr/bin/$b" | grep -q "Machine:.*$machine" && ! readelf -l "$x/usr/bin/$b" | grep -q INTERP; then
            ok "$arch: $b is a static $machine executable"
        else bad "$arch: $b is not a static $machine executable"; fi
    done
    cmp -s "$x/usr/bin/liqolet" "build/$board-static/liqolet.stripped" && ok "$arch: the packaged agent is build/$board-static's" || bad "$arch: packaged agent differs from the firmware build"
done

echo "== lintian (errors fail; accepted tags: tools/pkg/lintian-overrides)"
if command -v lintian >/dev/null; then
    lintian --fail-on error --display-info "$out"/deb/*.deb > "$tmp/lintian" 2>&1
    rc=$?
    grep -v "^N:\|running with root" "$tmp/lintian" | sed 's/^/        /'
    e=$(grep -c '^E:' "$tmp/lintian"); w=$(grep -c '^W:' "$tmp/lintian")
    [ "$rc" = 0 ] && [ "$e" = 0 ] && ok "lintian: 0 errors, $w warnings on 3 packages" || bad "lintian: $e errors (exit $rc)"
else bad "lintian is not installed (make deps)"; fi

echo "== install, verify, upgrade, remove, purge (amd64 .deb, dpkg in an overlay of this machine)"
# A mount namespace with an overlay of / (this machine's files below, writes in $tmp):
# dpkg, adduser and deb-systemd-helper run for real and nothing reaches the machine.
deb="$out/deb/liqolet_${dver}_amd64.deb"
mkdir -p "$tmp/u/root" "$tmp/w" "$tmp/m"
cp "$deb" "$tmp/u/root/liqolet.deb"
cp tools/pkg/in-root.sh "$tmp/u/root/in-root.sh"
if unshare -m sh -c "mount -t overlay overlay -o lowerdir=/,upperdir=$tmp/u,workdir=$tmp/w $tmp/m &&
        mount -t proc proc $tmp/m/proc && mount --rbind /dev $tmp/m/dev &&
        chroot $tmp/m sh /root/in-root.sh" > "$tmp/inroot" 2>&1; then :; fi
cat "$tmp/inroot" | sed -n 's/^RESULT //p' > "$tmp/results"
if [ -s "$tmp/results" ]; then
    while read -r verdict text; do
        case $verdict in ok) ok "$text" ;; skip) skipped "$text" ;; *) bad "$text" ;; esac
    done < "$tmp/results"
    grep -q "^RESULT .*all steps ran" "$tmp/inroot" || { bad "the install test stopped early:"; tail -20 "$tmp/inroot"; }
else
    skipped "no mount namespace/overlay here: dpkg install not exercised"; tail -5 "$tmp/inroot"
fi

echo "== OCI image (skopeo)"
oci="$out/image/liqolet-oci"
tarball="$out/image/liqolet-$VERSION-oci.tar"
if command -v skopeo >/dev/null; then
    skopeo inspect --raw "oci:$oci:$VERSION" > "$tmp/index.json" 2>"$tmp/err" || cat "$tmp/err"
    plats=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join(sorted("/".join(filter(None,[m["platform"]["os"],m["platform"]["architecture"],m["platform"].get("variant")])) for m in d["manifests"])))' "$tmp/index.json" 2>/dev/null)
    [ "$plats" = "linux/amd64 linux/arm/v7 linux/arm64" ] && ok "index lists $plats" || bad "index platforms: '$plats'"
    check "skopeo copies all platforms (every blob digest verified)" \
        skopeo copy --all "oci:$oci:$VERSION" "oci:$tmp/copy:$VERSION"
    check "the oci-archive tarball parses" skopeo inspect --raw "oci-archive:$tarball:$VERSION"
    for spec in $boards; do
        IFS=: read -r board arch plat machine qemu cpu <<EOT
$spec
EOT
        a=$(echo "$plat" | cut -d/ -f2); v=$(echo "$plat" | cut -d/ -f3)
        skopeo inspect --override-os linux --override-arch "$a" ${v:+--override-variant "$v"} --config \
            "oci:$oci:$VERSION" > "$tmp/cfg-$a.json" 2>"$tmp/err" || cat "$tmp/err"
        got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c=d["config"]; print(d["architecture"], d.get("variant",""), c["User"], " ".join(c["Entrypoint"]), c.get("Cmd"))' "$tmp/cfg-$a.json" 2>/dev/null)
        [ "$got" = "$a $v 65532:65532 /liqolet run None" ] && ok "$plat: user 65532:65532, entrypoint /liqolet run" || bad "$plat: config says '$got'"
        rm -rf "$tmp/img"
        skopeo copy --override-os linux --override-arch "$a" ${v:+--override-variant "$v"} \
            "oci:$oci:$VERSION" "dir:$tmp/img" >/dev/null 2>&1 || bad "$plat: skopeo copy"
        layer=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["layers"][0]["digest"].split(":")[1]) if len(m["layers"])==1 else print("")' "$tmp/img/manifest.json" 2>/dev/null)
        size=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["config"]["size"]+sum(l["size"] for l in m["layers"]))' "$tmp/img/manifest.json" 2>/dev/null)
        list=$(tar tvzf "$tmp/img/$layer" 2>/dev/null | awk '{print $1, $2, $6}')
        [ "$list" = "-rwxr-xr-x 0/0 liqolet" ] && ok "$plat: one layer holding only /liqolet (0755, 0:0)" || bad "$plat: layer holds '$list'"
        mkdir -p "$tmp/root-$a"; tar xzf "$tmp/img/$layer" -C "$tmp/root-$a" 2>/dev/null
        cmp -s "$tmp/root-$a/liqolet" "build/$board-static/liqolet.stripped" && ok "$plat: /liqolet is build/$board-static's static binary" || bad "$plat: /liqolet differs"
        if [ -n "$qemu" ] && ! command -v "$qemu" >/dev/null; then skipped "$plat: $qemu missing, /liqolet version not run"
        elif $qemu ${cpu:+-cpu $cpu} "$tmp/root-$a/liqolet" version 2>/dev/null | grep -q "^board: *$board"; then ok "$plat: /liqolet version runs${qemu:+ (under $qemu${cpu:+ -cpu $cpu})} and says board $board"
        else bad "$plat: /liqolet version"; fi
        echo "        $plat: image size $size bytes (config + compressed layer)"
    done
        echo "        oci-archive $(basename "$tarball"): $(stat -c %s "$tarball") bytes; image $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$oci/index.json")"
else bad "skopeo is not installed (make deps)"; fi

echo "== dist tarballs"
for spec in $boards; do
    IFS=: read -r board arch plat machine qemu cpu <<EOT
$spec
EOT
    t="$out/dist/liqolet-$VERSION-$board.tar.gz"
    [ -f "$t" ] || { bad "$t missing"; continue; }
    rm -rf "$tmp/d"; mkdir -p "$tmp/d"; tar xzf "$t" -C "$tmp/d"
    dir="$tmp/d/liqolet-$VERSION-$board"
    [ "$(ls "$dir" | tr '\n' ' ')" = "README SHA256SUMS config liqolet liqolet.service liqoletctl " ] \
        && ok "$board: README, SHA256SUMS, config, liqolet, liqolet.service, liqoletctl" || bad "$board: contents $(ls "$dir" | tr '\n' ' ')"
    (cd "$dir" && sha256sum -c --quiet SHA256SUMS) >/dev/null 2>&1 && ok "$board: SHA256SUMS verifies" || bad "$board: SHA256SUMS"
    owners=$(tar tvzf "$t" | awk '{print $2}' | sort -u)
    [ "$owners" = "0/0" ] && ok "$board: members owned by 0/0" || bad "$board: owners $owners"
done
(cd "$out/dist" && sha256sum -c --quiet SHA256SUMS) >/dev/null 2>&1 && ok "dist/SHA256SUMS verifies the tarballs" || bad "dist/SHA256SUMS"

echo "pkg-check: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
