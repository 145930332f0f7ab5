#!/bin/sh
# liqolet: `make deps`, the one step that needs root.
#
#   - writes /etc/apt/sources.list.d/liqolet-src.sources: deb-src entries
#     for bookworm (+ updates, security) and a deb-src-ONLY entry for trixie
#     (+ security), so trixie's *source* packages can be fetched but no
#     trixie binary can ever be installed;
#   - apt-get update + apt-get install of tools/deps/apt-packages.txt and,
#     if it exists, tools/testbed-apt-packages.txt.
#
# Idempotent and quick: when every package is installed, the sources file is
# as written and the pinned source versions are in apt's index, it does
# nothing (no apt-get update), so `make test` can call it every time.
# Runs through sudo when not root. LQ_DEPS_FORCE=1 forces update + install.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
sources_file=/etc/apt/sources.list.d/liqolet-src.sources

# The bookworm keyring is what signs trixie too (debian-archive-keyring).
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
sources_text() {
    cat <<EOF
# liqolet: Debian *source* packages only (written by tools/deps/install.sh,
# 'make deps'). The dependencies are built from these sources per board;
# trixie appears here as deb-src only, so no trixie binary is installable.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: $keyring

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: $keyring

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: $keyring

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: trixie-security
Components: main
Signed-By: $keyring
EOF
}

# Package list: our file plus the testbed's, comments and blanks removed.
pkgs=$(cat "$here/apt-packages.txt" \
           $( [ -f "$top/tools/testbed-apt-packages.txt" ] && echo "$top/tools/testbed-apt-packages.txt" ) \
       | sed -e 's/#.*//' -e 's/[[:space:]]\+/\n/g' | sed '/^$/d' | sort -u)

missing=
for p in $pkgs; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing="$missing $p"
done

need_sources=0
if [ ! -f "$sources_file" ] || ! sources_text | cmp -s - "$sources_file"; then
    need_sources=1
fi

# Are the pinned source versions in apt's index? (no index before the first
# apt-get update after the deb-src entries were added)
need_update=$need_sources
if [ "$need_update" -eq 0 ]; then
    . "$here/versions"
    for lib in MBEDTLS LIBCOAP CJSON LIBYAML CMOCKA; do
        eval src=\$LQ_${lib}_SRC deb=\$LQ_${lib}_DEB
        if ! apt-cache showsrc --only-source "$src" 2>/dev/null | grep -qx "Version: $deb"; then
            need_update=1
            break
        fi
    done
fi

if [ -z "$missing" ] && [ "$need_update" -eq 0 ] && [ "${LQ_DEPS_FORCE:-0}" != 1 ]; then
    echo "deps: all packages installed, deb-src entries present"
    exit 0
fi

# Something to do: from here on we need root.
if [ "$(id -u)" -eq 0 ]; then
    SUDO=
elif command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
else
    echo "deps: missing:${missing:- (none)}; deb-src entries/index up to date: $([ "$need_update" -eq 0 ] && echo yes || echo no)" >&2
    echo "deps: not root and no sudo; run 'make deps' as root" >&2
    exit 1
fi

if [ "$need_sources" -eq 1 ]; then
    echo "deps: writing $sources_file"
    sources_text | $SUDO tee "$sources_file.tmp" >/dev/null
    $SUDO mv "$sources_file.tmp" "$sources_file"
fi

export DEBIAN_FRONTEND=noninteractive
echo "deps: apt-get update"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
if [ -n "$missing" ] || [ "${LQ_DEPS_FORCE:-0}" = 1 ]; then
    echo "deps: apt-get install$missing"
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $pkgs
fi

# Check what the non-root build will need. Only a warning: sources already
# in the download cache (tools/deps/fetch-src.sh) do not need the archive.
. "$here/versions"
for lib in MBEDTLS LIBCOAP CJSON LIBYAML CMOCKA; do
    eval src=\$LQ_${lib}_SRC deb=\$LQ_${lib}_DEB
    if ! apt-cache showsrc --only-source "$src" | grep -qx "Version: $deb"; then
        echo "deps: WARNING: source package $src=$deb (tools/deps/versions) is not in apt's index;" >&2
        echo "deps: WARNING: see 'apt-cache showsrc $src' and update tools/deps/versions" >&2
    fi
done
echo "deps: done"
