#!/bin/sh
# liqolet: fetch one pinned Debian source package into the download cache
# and extract it (Debian patches applied) into a work directory. No root.
#
#   fetch-src.sh LIB DESTDIR
#
# LIB is MBEDTLS, LIBCOAP, CJSON, LIBYAML or CMOCKA (see tools/deps/versions).
# The cache ($LQ_SRC_CACHE, default $HOME/.cache/liqolet/src) is shared by all
# boards and all clones, so each source package is downloaded once. apt-get
# source checks the files against the archive's signed index; here the .dsc
# is also checked against the hash pinned in tools/deps/versions, and
# dpkg-source -x checks the tarballs against the .dsc.
# DESTDIR/<lib> is the extracted tree (recreated every time).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
lib=$1
dest=$2
. "$here/versions"
eval src=\$LQ_${lib}_SRC deb=\$LQ_${lib}_DEB dsc_sha=\$LQ_${lib}_DSC

cache=${LQ_SRC_CACHE:-${HOME:-/tmp}/.cache/liqolet/src}
mkdir -p "$cache"
# dpkg-source names the .dsc without the epoch; none of ours has one.
dsc="$cache/${src}_${deb}.dsc"

dsc_ok() {
    [ -f "$dsc" ] && [ "$(sha256sum < "$dsc" | cut -d' ' -f1)" = "$dsc_sha" ]
}

# One downloader at a time (several boards may be built in parallel).
exec 9>"$cache/.lock"
flock 9
if ! dsc_ok; then
    tmp=$(mktemp -d "$cache/.dl.XXXXXX")
    echo "deps: downloading source $src=$deb"
    if ! (cd "$tmp" && apt-get source -q --download-only "$src=$deb") > "$tmp/apt.log" 2>&1; then
        cat "$tmp/apt.log" >&2
        echo "deps: 'apt-get source $src=$deb' failed. Has 'make deps' (root) added the deb-src" >&2
        echo "deps: entries and run apt-get update? Is $deb still in the archive (apt-cache showsrc $src)?" >&2
        rm -rf "$tmp"
        exit 1
    fi
    got=$(sha256sum < "$tmp/${src}_${deb}.dsc" | cut -d' ' -f1)
    if [ "$got" != "$dsc_sha" ]; then
        echo "deps: ${src}_${deb}.dsc has SHA-256 $got, tools/deps/versions pins $dsc_sha" >&2
        rm -rf "$tmp"
        exit 1
    fi
    # The .dsc last, so that a present, correct .dsc means a complete set.
    for f in "$tmp"/*; do
        case $f in *.dsc|*/apt.log) ;; *) mv -f "$f" "$cache/" ;; esac
    done
    mv -f "$tmp/${src}_${deb}.dsc" "$dsc"
    rm -rf "$tmp"
fi
flock -u 9

mkdir -p "$dest"
rm -rf "$dest/$src"
# Checks the tarballs' checksums against the .dsc and applies Debian's patch
# series. (An "unknown signature" warning only means no keyring is installed.)
if ! dpkg-source -q -x "$dsc" "$dest/$src" > "$dest/$src.extract.log" 2>&1; then
    cat "$dest/$src.extract.log" >&2
    echo "deps: dpkg-source -x $dsc failed" >&2
    exit 1
fi
