#!/bin/sh
# liqolet: build one board's dependency sysroot from Debian source packages.
# No root needed. Called by mk/deps.mk (rule for $(SYSROOT_STAMP)); all
# inputs come from the environment:
#
#   LQ_BOARD        board name (boards/<board>)
#   LQ_SYSROOT      output: <sysroot>/include, <sysroot>/lib (recreated)
#   LQ_CC, LQ_AR, LQ_RANLIB   the board's toolchain (e.g. aarch64-linux-gnu-gcc)
#   LQ_TRIPLET      GNU triplet when cross-compiling, empty for the host
#   LQ_CFLAGS       the board's CFLAGS (CPU and optimisation flags)
#   LQ_MBEDTLS_CONFIG       the mbedTLS config chosen for the board
#   LQ_MBEDTLS_CONFIG_BASE  boards/mbedtls_config.h
#   LQ_LIBC         glibc (default: the toolchain's own C library) or musl: build
#                   musl from source first and compile everything against it, for
#                   the static firmware build (no cmocka: unit tests use glibc)
#   LQ_JOBS         parallel jobs (default 2)
#   LQ_SRC_CACHE    download cache (default $HOME/.cache/liqolet/src)
#   LQ_SYSROOT_CACHE  finished sysroots, keyed by a hash of every input
#                   (default $HOME/.cache/liqolet/sysroot; "off" disables), so
#                   a fresh clone on the same machine (CI) unpacks instead of
#                   rebuilding
#
# Produces static libraries only: libmbedtls.a libmbedx509.a libmbedcrypto.a
# libcoap-3-mbedtls.a libcjson.a libyaml.a libcmocka.a, their headers, the
# mbedTLS config as include/liqolet_mbedtls_config.h, include/liqolet_deps.h
# (versions) and build-report.txt (seconds and sizes per library).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions"

# Nothing from the caller's make or environment leaks into the dependency
# builds (a sanitizer LDFLAGS, a parent make's jobserver, ...).
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES CFLAGS CPPFLAGS CXXFLAGS LDFLAGS LIBS \
      CC AR RANLIB CPP LD PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR || true

: "${LQ_BOARD:?}" "${LQ_SYSROOT:?}" "${LQ_CC:?}" "${LQ_AR:?}" "${LQ_RANLIB:?}"
: "${LQ_MBEDTLS_CONFIG:?}" "${LQ_MBEDTLS_CONFIG_BASE:?}"
LQ_TRIPLET=${LQ_TRIPLET:-}
LQ_CFLAGS=${LQ_CFLAGS:-}
LQ_LIBC=${LQ_LIBC:-glibc}
case $LQ_LIBC in glibc|musl) ;; *) echo "deps: LQ_LIBC must be glibc or musl, not '$LQ_LIBC'" >&2; exit 1 ;; esac
# The name of this sysroot in the cache: the static one apart from the glibc one.
cache_name=$LQ_BOARD
[ "$LQ_LIBC" = musl ] && cache_name=$LQ_BOARD-static
jobs=${LQ_JOBS:-2}

mkdir -p "$LQ_SYSROOT"
sysroot=$(cd "$LQ_SYSROOT" && pwd)
work="$(dirname "$sysroot")/deps-work"
rm -rf "$sysroot" "$work"
mkdir -p "$sysroot/include" "$sysroot/lib" "$work"

# The board's toolchain must be installed ('make deps').
for t in LQ_CC LQ_AR LQ_RANLIB; do
    eval prog=\$$t
    if ! command -v "$prog" >/dev/null 2>&1; then
        echo "deps: $prog not found (board $LQ_BOARD); run 'make deps' (root) first" >&2
        exit 1
    fi
done
CC=$LQ_CC AR=$LQ_AR RANLIB=$LQ_RANLIB
# Section-per-function so the agent's link can --gc-sections what it does not
# use; no build directory in the objects (__FILE__), so they do not depend on
# where the clone is.
CFLAGS="$LQ_CFLAGS -ffunction-sections -fdata-sections -ffile-prefix-map=$work/="
MBEDTLS_DEF="-DMBEDTLS_CONFIG_FILE=<liqolet_mbedtls_config.h>"

# ---------------------------------------------------------------- cache
# Everything that goes into the sysroot, hashed; the path of the clone is not.
sysroot_cache=${LQ_SYSROOT_CACHE:-${HOME:-/tmp}/.cache/liqolet/sysroot}
key=$( {
    echo "board=$LQ_BOARD triplet=$LQ_TRIPLET cflags=$LQ_CFLAGS libc=$LQ_LIBC"
    "$CC" --version 2>&1 | head -n 1
    "$AR" --version 2>&1 | head -n 1
    cmake --version 2>&1 | head -n 1
    cat "$here/versions" "$here/build-sysroot.sh" "$here/fetch-src.sh" \
        "$LQ_MBEDTLS_CONFIG" "$LQ_MBEDTLS_CONFIG_BASE"
    for p in "$here"/patches/*.patch; do [ ! -f "$p" ] || cat "$p"; done
} | sha256sum | cut -c1-20)
cached="$sysroot_cache/$cache_name-$key.tar.gz"
if [ "$sysroot_cache" != off ] && [ -f "$cached" ]; then
    if tar -xzf "$cached" -C "$sysroot" 2>/dev/null && [ -f "$sysroot/include/liqolet_deps.h" ]; then
        # musl's gcc specs name the sysroot it was built in: point them at this one.
        if [ -f "$sysroot/musl/.prefix" ]; then
            old=$(cat "$sysroot/musl/.prefix")
            sed -i "s|$old|$sysroot|g" "$sysroot/musl/lib/musl-gcc.specs"
            echo "$sysroot" > "$sysroot/musl/.prefix"
        fi
        echo "deps[$LQ_BOARD]: sysroot unpacked from $cached (built earlier on this machine)"
        rm -rf "$work"
        exit 0
    fi
    echo "deps[$LQ_BOARD]: $cached is unusable; rebuilding" >&2
    rm -f "$cached"
    rm -rf "$sysroot"
    mkdir -p "$sysroot/include" "$sysroot/lib"
fi

cp "$LQ_MBEDTLS_CONFIG" "$sysroot/include/liqolet_mbedtls_config.h"
cp "$LQ_MBEDTLS_CONFIG_BASE" "$sysroot/include/liqolet_mbedtls_config_base.h"

report="$work/report.txt"
: > "$report"
now() { date +%s.%N; }
# cpu: sets $_cpu to the CPU seconds (user + system) used so far by this
# script's children. The builtin `times` must not run in a subshell.
cpu() {
    times > "$work/.times"
    _cpu=$(awk 'NR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); n += a[1] * 60 + a[2] } printf "%.2f", n }' "$work/.times")
}
# step NAME FUNCTION: runs FUNCTION with its output in $work/NAME.log, times it.
step() {
    name=$1; fn=$2
    t0=$(now); cpu; c0=$_cpu
    echo "deps[$LQ_BOARD]: building $name"
    # Not in an `if`: errexit must stay in force inside the function.
    set +e
    ( set -e; "$fn" ) > "$work/$name.log" 2>&1
    rc=$?
    set -e
    if [ "$rc" -ne 0 ]; then
        tail -n 60 "$work/$name.log" >&2
        echo "deps[$LQ_BOARD]: building $name failed; full log: $work/$name.log" >&2
        exit 1
    fi
    t1=$(now); cpu; c1=$_cpu
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    cpus=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.1f", b - a }')
    echo "deps[$LQ_BOARD]: $name done in ${secs}s (${cpus}s CPU)"
    printf '%-8s %6ss wall %6ss CPU\n' "$name" "$secs" "$cpus" >> "$report"
}

# ---------------------------------------------------------------- musl
# The static firmware build's C library, into <sysroot>/musl. Its gcc specs file
# (musl-gcc.specs, what the musl-gcc wrapper uses) points the board's own gcc at
# musl's headers, start files and libc.a; every later step compiles with it.
build_musl() {
    sh "$here/fetch-src.sh" MUSL "$work"
    s="$work/$LQ_MUSL_SRC"
    target_opt=
    [ -n "$LQ_TRIPLET" ] && target_opt="--target=$LQ_TRIPLET"
    (cd "$s" && ./configure $target_opt --prefix="$sysroot/musl" \
        --disable-shared --enable-static --enable-wrapper=gcc \
        CC="$CC" AR="$AR" RANLIB="$RANLIB" CROSS_COMPILE="${LQ_TRIPLET:+$LQ_TRIPLET-}" \
        CFLAGS="$LQ_CFLAGS")
    make -C "$s" -j"$jobs"
    make -C "$s" install
    test -f "$sysroot/musl/lib/musl-gcc.specs"
    # The specs hold absolute paths; a sysroot unpacked from the cache elsewhere (another
    # clone) rewrites them from this record.
    echo "$sysroot" > "$sysroot/musl/.prefix"
}

# ---------------------------------------------------------------- mbedTLS
build_mbedtls() {
    sh "$here/fetch-src.sh" MBEDTLS "$work"
    s="$work/$LQ_MBEDTLS_SRC"
    for p in "$here"/patches/mbedtls-*.patch; do
        [ -f "$p" ] || continue
        echo "applying $p"
        patch -d "$s" -p1 --forward --batch < "$p"
    done
    # The library Makefile only (no programs, no tests, no generated files:
    # the release tarball ships them). Our config from the sysroot.
    make -C "$s/library" -j"$jobs" static \
        CC="$CC" AR="$AR" \
        CFLAGS="$CFLAGS -I$sysroot/include '$MBEDTLS_DEF'"
    cp -R "$s/include/mbedtls" "$s/include/psa" "$sysroot/include/"
    cp "$s/library/libmbedtls.a" "$s/library/libmbedx509.a" \
       "$s/library/libmbedcrypto.a" "$sysroot/lib/"
}

# ---------------------------------------------------------------- libcoap
build_libcoap() {
    sh "$here/fetch-src.sh" LIBCOAP "$work"
    s="$work/$LQ_LIBCOAP_SRC"
    for p in "$here"/patches/libcoap-*.patch; do
        [ -f "$p" ] || continue
        echo "applying $p"
        patch -d "$s" -p1 --forward --batch < "$p"
    done
    host_opt=
    [ -n "$LQ_TRIPLET" ] && host_opt="--host=$LQ_TRIPLET"
    # PKG_CONFIG=false: never pick up a system GnuTLS/OpenSSL by accident.
    # Only what the management endpoint and liqoletctl use: CoAP over UDP and DTLS,
    # client and server; no CoAP over TCP/TLS, no separate (async) responses.
    (cd "$s" && ./configure $host_opt \
        --prefix="$sysroot" \
        --disable-shared --enable-static \
        --enable-dtls --with-mbedtls \
        --disable-tcp --disable-async \
        --disable-documentation --disable-doxygen --disable-manpages \
        --disable-examples --disable-examples-source --disable-tests \
        --disable-license-install --disable-dependency-tracking \
        CC="$CC" AR="$AR" RANLIB="$RANLIB" PKG_CONFIG=false \
        CFLAGS="$CFLAGS" \
        CPPFLAGS="-I$sysroot/include" \
        LDFLAGS="-L$sysroot/lib $LDSTATIC")
    grep -q '^#define HAVE_MBEDTLS 1' "$s/coap_config.h" || {
        echo "libcoap: configure did not select the mbedTLS backend" >&2; return 1; }
    # MBEDTLS_CONFIG_FILE only here, not for configure: make hands CPPFLAGS to
    # the shell (so '<' must be quoted), configure does not (quotes would stay).
    # SUBDIRS=.: the library and its headers only. The man, doc, tests and examples
    # directories are not wanted, and man/ links a helper program through libtool, which
    # drops -static (on ARMv7 with musl that link then misses raise() for libgcc).
    make -C "$s" -j"$jobs" SUBDIRS=. CPPFLAGS="-I$sysroot/include '$MBEDTLS_DEF'"
    make -C "$s" install SUBDIRS=.
    # libtool and pkg-config files hold absolute paths; nothing here uses them.
    rm -rf "$sysroot"/lib/*.la "$sysroot/lib/pkgconfig"
}

# ---------------------------------------------------------------- cJSON
build_cjson() {
    sh "$here/fetch-src.sh" CJSON "$work"
    s="$work/$LQ_CJSON_SRC"
    $CC $CFLAGS -std=c89 -c "$s/cJSON.c" -o "$s/cJSON.o"
    rm -f "$sysroot/lib/libcjson.a"
    $AR rc "$sysroot/lib/libcjson.a" "$s/cJSON.o"
    $RANLIB "$sysroot/lib/libcjson.a"
    mkdir -p "$sysroot/include/cjson"
    cp "$s/cJSON.h" "$sysroot/include/cjson/"
}

# ---------------------------------------------------------------- libyaml
build_libyaml() {
    sh "$here/fetch-src.sh" LIBYAML "$work"
    s="$work/$LQ_LIBYAML_SRC"
    v=$LQ_LIBYAML_VERSION
    maj=${v%%.*}; rest=${v#*.}; min=${rest%%.*}; pat=${rest#*.}
    # Eight small files: one compiler call.
    (cd "$s/src" && $CC $CFLAGS -I"$s/include" \
        -DYAML_VERSION_MAJOR="$maj" -DYAML_VERSION_MINOR="$min" \
        -DYAML_VERSION_PATCH="$pat" -DYAML_VERSION_STRING="\"$v\"" \
        -c ./*.c)
    rm -f "$sysroot/lib/libyaml.a"
    $AR rc "$sysroot/lib/libyaml.a" "$s"/src/*.o
    $RANLIB "$sysroot/lib/libyaml.a"
    cp "$s/include/yaml.h" "$sysroot/include/"
}

# ---------------------------------------------------------------- cmocka
build_cmocka() {
    sh "$here/fetch-src.sh" CMOCKA "$work"
    s="$work/$LQ_CMOCKA_SRC"
    cross=
    if [ -n "$LQ_TRIPLET" ]; then
        cross="-DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=${LQ_TRIPLET%%-*}"
    fi
    cmake -S "$s" -B "$s/_build" $cross \
        -DCMAKE_C_COMPILER="$(command -v "$CC")" \
        -DCMAKE_AR="$(command -v "$AR")" \
        -DCMAKE_RANLIB="$(command -v "$RANLIB")" \
        -DCMAKE_BUILD_TYPE=None -DCMAKE_C_FLAGS="$CFLAGS" \
        -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF \
        -DCMAKE_INSTALL_PREFIX="$sysroot" -DCMAKE_INSTALL_LIBDIR=lib
    cmake --build "$s/_build" -j "$jobs" --target cmocka-static
    cp "$s/_build/src/libcmocka-static.a" "$sysroot/lib/libcmocka.a"
    cp "$s/include/cmocka.h" "$sysroot/include/"
}

LDSTATIC=
if [ "$LQ_LIBC" = musl ]; then
    step musl build_musl
    CC="$CC -specs=$sysroot/musl/lib/musl-gcc.specs"
    LDSTATIC=-static # musl is built without a shared libc; configure's test programs too
fi
step mbedtls build_mbedtls
step libcoap build_libcoap
step cjson   build_cjson
step libyaml build_libyaml
[ "$LQ_LIBC" = musl ] || step cmocka build_cmocka

# ---------------------------------------------------------------- versions header
# The patches each library was built with (all of tools/deps/patches/<lib>-*.patch are
# applied), named without the .patch suffix: `liqolet version` shows them.
patches_of() {
    list=
    for p in "$here"/patches/"$1"-*.patch; do
        [ -f "$p" ] || continue
        n=$(basename "$p" .patch)
        list="${list:+$list }$n"
    done
    echo "$list"
}
if [ "$LQ_LIBC" = musl ]; then
    libc_text="musl $LQ_MUSL_VERSION (static)"
else
    libc_text="glibc (dynamic)"
fi
cat > "$sysroot/include/liqolet_deps.h" <<EOF
/* Generated by tools/deps/build-sysroot.sh from tools/deps/versions. Do not edit. */
#ifndef LIQOLET_DEPS_H
#define LIQOLET_DEPS_H
#define LQ_DEP_MBEDTLS_VERSION "$LQ_MBEDTLS_VERSION"
#define LQ_DEP_LIBCOAP_VERSION "$LQ_LIBCOAP_VERSION"
#define LQ_DEP_CJSON_VERSION "$LQ_CJSON_VERSION"
#define LQ_DEP_LIBYAML_VERSION "$LQ_LIBYAML_VERSION"
#define LQ_DEP_CMOCKA_VERSION "$LQ_CMOCKA_VERSION"
/* Debian source package versions the libraries were built from. */
#define LQ_DEP_MBEDTLS_DEBIAN "$LQ_MBEDTLS_DEB"
#define LQ_DEP_LIBCOAP_DEBIAN "$LQ_LIBCOAP_DEB"
#define LQ_DEP_CJSON_DEBIAN "$LQ_CJSON_DEB"
#define LQ_DEP_LIBYAML_DEBIAN "$LQ_LIBYAML_DEB"
#define LQ_DEP_CMOCKA_DEBIAN "$LQ_CMOCKA_DEB"
/* Local patches applied on top of the Debian sources (tools/deps/patches). */
#define LQ_DEP_MBEDTLS_PATCHES "$(patches_of mbedtls)"
#define LQ_DEP_LIBCOAP_PATCHES "$(patches_of libcoap)"
/* The C library the agent is linked with. */
#define LQ_DEP_LIBC "$libc_text"
#endif
EOF

# ---------------------------------------------------------------- report
{
    echo "board $LQ_BOARD  cc $CC ($($CC -dumpfullversion 2>/dev/null || $CC -dumpversion))  cflags $LQ_CFLAGS -ffunction-sections -fdata-sections"
    echo "build seconds (jobs=$jobs; wall clock includes the source download, if any):"
    cat "$report"
    echo "static library sizes (bytes):"
    for a in "$sysroot"/lib/*.a; do
        [ -L "$a" ] && continue
        printf '%-24s %9s\n' "$(basename "$a")" "$(wc -c < "$a")"
    done
} > "$sysroot/build-report.txt"
cat "$sysroot/build-report.txt"

# Keep the build logs, drop the source trees.
mkdir -p "$sysroot/logs"
cp "$work"/*.log "$sysroot/logs/"
rm -rf "$work"

# Keep a copy for the next clone; the three newest per board.
if [ "$sysroot_cache" != off ]; then
    if mkdir -p "$sysroot_cache" && tmp=$(mktemp "$sysroot_cache/.tmp.XXXXXX") &&
       tar -czf "$tmp" -C "$sysroot" . && mv -f "$tmp" "$cached"; then
        ls -t "$sysroot_cache/$cache_name"-[0-9a-f]*.tar.gz | tail -n +4 | while read -r old; do rm -f "$old"; done
    else
        rm -f "${tmp:-}"
        echo "deps[$LQ_BOARD]: warning: could not store the sysroot in $sysroot_cache" >&2
    fi
fi
