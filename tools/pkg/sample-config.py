#!/usr/bin/env python3
"""Writes the packaged /etc/liqolet/config: every key of the option table in
docs/configuration.md (generated from src/core/config.c and checked by
`make configdoc-check`), commented, with its type and default; the few keys a packaged
service needs are set. Usage: sample-config.py docs/configuration.md > config"""
import html
import re
import sys

# Keys the packaged service sets (the paths of the unit and the state directory).
SET = {
    "cluster.home.kubeconfig": "/etc/liqolet/home.kubeconfig",
    "cluster.foreign.kubeconfig": "/etc/liqolet/foreign.kubeconfig",
    "kubelet.certDir": "/var/lib/liqolet",
}


def cell(s):
    return html.unescape(s.replace("`", "").strip())


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    m = re.search(r"<!-- configdoc:begin.*?-->\n(.*?)<!-- configdoc:end", text, re.S)
    if not m:
        sys.exit("sample-config: no configdoc table in " + sys.argv[1])
    rows = [r for r in m.group(1).splitlines() if r.startswith("| ") and not r.startswith("| Flag")]
    out = [
        "# /etc/liqolet/config: the configuration of liqolet.service",
        "# (liqolet run --config /etc/liqolet/config; docs/configuration.md, liqolet(8)).",
        "#",
        "# One 'key: value' per line; a line starting with '#' is a comment (no trailing",
        "# comments); a repeated list key appends. Flags on the command line win over this",
        "# file. Every key of this version is listed below, commented, with its default;",
        "# `liqolet run --help` and docs/configuration.md describe them in full.",
        "",
        "# The two identities: owned by the liqolet user, mode 0600. The service starts",
        "# once both exist.",
    ]
    seen = set()
    for k in ("cluster.home.kubeconfig", "cluster.foreign.kubeconfig"):
        out.append(f"{k}: {SET[k]}")
    out += ["# The kubelet API keeps its serving certificate across restarts here.",
            f"kubelet.certDir: {SET['kubelet.certDir']}", ""]
    for r in rows:
        cols = [c for c in re.split(r"(?<!\\)\|", r)[1:-1]]
        if len(cols) != 5:
            sys.exit("sample-config: unexpected row: " + r)
        flag, key, typ, default, desc = (cell(c) for c in cols)
        raw = cols[3].strip()
        literal = default if re.fullmatch(r"`[^`]*`", raw) else ""
        if key in seen:
            continue
        seen.add(key)
        # The file may hold at most LQ_CONFIG_FILE_MAX (8191) bytes: the descriptions are
        # in liqolet run --help and docs/configuration.md, here only the first sentence.
        first = desc.split(". ")[0].rstrip(".")
        if len(first) > 84:
            first = first[:81].rstrip() + "..."
        out.append("# " + first)
        if not literal:
            out.append(f"# {typ}; default: {default}")
        out.append(f"# (set above) {key}" if key in SET else f"#{key}: {literal}".rstrip())
        out.append("")
    if len(seen) < 10:
        sys.exit("sample-config: only %d keys found" % len(seen))
    body = "\n".join(out).rstrip("\n") + "\n"
    if len(body.encode()) > 8191:
        sys.exit("sample-config: %d bytes, more than a config file may hold (8191)" % len(body.encode()))
    sys.stdout.write(body)


main()
