#!/usr/bin/env python3
"""Writes liqolet's multi-architecture OCI image without a container engine
(docs/packaging.md).

  oci-image.py OUTDIR VERSION PLATFORM=BINARY...
  e.g. oci-image.py build/image 0.1.0 linux/amd64=build/host-static/liqolet.stripped \\
           linux/arm64=... linux/arm/v7=...

OUTDIR/liqolet-oci/ becomes an OCI image layout (oci-layout, index.json, blobs/sha256)
whose index.json names one image index, tagged VERSION, with one manifest per platform;
each image has a single layer holding /liqolet (mode 0755, owner 0:0), runs as
65532:65532 with the entrypoint `/liqolet run`, and has no shell, libc or CA bundle (the
agent is static and takes its CAs from its kubeconfigs). OUTDIR/liqolet-VERSION-oci.tar
is the same layout as one tar file (skopeo's oci-archive: transport reads it).

Reproducible: every timestamp is SOURCE_DATE_EPOCH (required), tar members are sorted
with fixed owners and modes, gzip headers carry no name or time, JSON is written with
sorted keys. The same inputs give the same digests; the build prints the index digest.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import time

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
USER = "65532:65532"
SOURCE = "tools/pkg/oci-image.py"


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


class Layout:
    def __init__(self, root):
        self.root = root
        self.blobs = os.path.join(root, "blobs", "sha256")
        os.makedirs(self.blobs)

    def put(self, data, media):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.blobs, digest), "wb") as f:
            f.write(data)
        return {"mediaType": media, "digest": "sha256:" + digest, "size": len(data)}


def tar_bytes(members, mtime):
    """members: [(name, mode, data or None for a directory)], written sorted, ustar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, mode, data in sorted(members):
            ti = tarfile.TarInfo(name)
            ti.mode, ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = mode, mtime, 0, 0, "", ""
            if data is None:
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def platform_of(spec):
    parts = spec.split("/")
    if len(parts) not in (2, 3) or parts[0] != "linux":
        sys.exit("oci-image: platform must be linux/ARCH[/VARIANT], not " + spec)
    p = {"os": parts[0], "architecture": parts[1]}
    if len(parts) == 3:
        p["variant"] = parts[2]
    return p


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    out, version = sys.argv[1], sys.argv[2]
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    if not sde or not sde.isdigit():
        sys.exit("oci-image: SOURCE_DATE_EPOCH (seconds) is required")
    mtime = int(sde)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))
    root = os.path.join(out, "liqolet-oci")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(out, exist_ok=True)
    lay = Layout(root)
    annotations = {
        "org.opencontainers.image.title": "liqolet",
        "org.opencontainers.image.description":
            "a foreign Kubernetes cluster as a virtual node (Liqo-compatible agent)",
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.created": created,
    }
    manifests = []
    for arg in sys.argv[3:]:
        spec, _, binary = arg.partition("=")
        plat = platform_of(spec)
        with open(binary, "rb") as f:
            exe = f.read()
        raw = tar_bytes([("liqolet", 0o755, exe)], mtime)
        gz = gzip.compress(raw, compresslevel=9, mtime=0)
        layer = lay.put(gz, OCI_LAYER)
        config = dict(plat)
        config.update({
            "created": created,
            "config": {
                "User": USER,
                "Entrypoint": ["/liqolet", "run"],
                "WorkingDir": "/",
                "Labels": {k: v for k, v in annotations.items()},
            },
            "rootfs": {"type": "layers",
                       "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
            "history": [{"created": created, "created_by": SOURCE + " (the static binary)"}],
        })
        cfg = lay.put(canon(config), OCI_CONFIG)
        man = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg,
               "layers": [layer], "annotations": annotations}
        desc = lay.put(canon(man), OCI_MANIFEST)
        desc["platform"] = plat
        manifests.append(desc)
        print("  %-14s layer %7d B (binary %d B)" % (spec, layer["size"], len(exe)))
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests,
             "annotations": annotations}
    idesc = lay.put(canon(index), OCI_INDEX)
    idesc["annotations"] = {"org.opencontainers.image.ref.name": version}
    with open(os.path.join(root, "index.json"), "wb") as f:
        f.write(canon({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [idesc]}))
    with open(os.path.join(root, "oci-layout"), "wb") as f:
        f.write(canon({"imageLayoutVersion": "1.0.0"}))
    # The layout as one tar (oci-archive), members sorted, directories included.
    members = []
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        if rel != ".":
            members.append((rel, 0o755, None))
        for n in files:
            with open(os.path.join(d, n), "rb") as f:
                members.append((os.path.normpath(os.path.join(rel, n)), 0o644, f.read()))
    tarball = os.path.join(out, "liqolet-%s-oci.tar" % version)
    with open(tarball, "wb") as f:
        f.write(tar_bytes(members, mtime))
    for d, dirs, files in os.walk(root):
        for n in files + dirs:
            os.utime(os.path.join(d, n), (mtime, mtime))
    print("image %s: index %s, %s (%d B)" % (root, idesc["digest"], tarball,
                                             os.path.getsize(tarball)))


main()
