#!/bin/sh
# Writes OUTDIR/liqolet-VERSION-BOARD.tar.gz from a board's static build
# (docs/packaging.md): the binaries, the unit, the sample config, a README and
# SHA256SUMS, in a directory of the same name. Reproducible: SOURCE_DATE_EPOCH for every
# mtime, sorted members, owner 0:0, gzip without name or time.
#   dist.sh BOARD BINDIR OUTDIR     (environment: VERSION, SOURCE_DATE_EPOCH)
set -eu
board=$1 bindir=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
: "${VERSION:?}" "${SOURCE_DATE_EPOCH:?}"
export LC_ALL=C TZ=UTC
umask 022
name="liqolet-$VERSION-$board"
stage="$out/$name"
rm -rf "$stage"
mkdir -p "$stage"
desc=$(sed -n 's/^BOARD_DESC *:= *//p' "$top/boards/$board/board.mk")
install -m 0755 "$bindir/liqolet.stripped" "$stage/liqolet"
install -m 0755 "$bindir/liqoletctl.stripped" "$stage/liqoletctl"
install -m 0644 "$here/liqolet.service" "$stage/liqolet.service"
python3 "$here/sample-config.py" "$top/docs/configuration.md" > "$stage/config"
sed -e "s/@VERSION@/$VERSION/" -e "s/@BOARD@/$board/" -e "s|@DESC@|$desc|" \
    "$here/README.dist" > "$stage/README"
chmod 0644 "$stage/config" "$stage/README"
(cd "$stage" && sha256sum README config liqolet liqolet.service liqoletctl > SHA256SUMS)
chmod 0644 "$stage/SHA256SUMS"
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
    --format=gnu -C "$out" -cf - "$name" | gzip -9n > "$out/$name.tar.gz"
rm -rf "$stage"
echo "built $out/$name.tar.gz ($(stat -c %s "$out/$name.tar.gz") bytes)"
