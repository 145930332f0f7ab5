#!/usr/bin/env python3
"""Small helper for tools/testbed: free ports, CIDR arithmetic and a minimal
Kubernetes REST client (client certificate or bearer token over TLS).

It only ever talks to the URL it is given; tools/testbed passes loopback
addresses exclusively.

Usage (all commands print to stdout, exit status 0 on success):
  testbed-kube.py ports N                       N distinct free TCP ports on 127.0.0.1
  testbed-kube.py subnet CIDR PREFIXLEN INDEX   the INDEX-th subnet of CIDR with PREFIXLEN
  testbed-kube.py http-ok URL                   exit 0 if GET URL (plain http) returns 2xx
  testbed-kube.py [conn] get PATH [EXPR]        GET PATH; print JSON, or the value at EXPR
  testbed-kube.py [conn] ok PATH                exit 0 if GET PATH returns 2xx
  testbed-kube.py [conn] create PATH FILE       POST the JSON/YAML object in FILE ("-" = stdin)
  testbed-kube.py [conn] apply FILE...          server-side apply every YAML document in FILE(s)

conn: --server URL --ca FILE (--cert FILE --key FILE | --token-file FILE)

EXPR is a dotted path; list elements are selected with [key=value], e.g.
  status.conditions[type=Ready].status
"""

import ipaddress
import json
import socket
import ssl
import sys
import urllib.error
import urllib.request

# kind -> (API prefix, plural, namespaced).  Only the kinds the test bed and
# the RBAC manifests use; extend when a manifest needs more.
KINDS = {
    ("v1", "Namespace"): ("/api/v1", "namespaces", False),
    ("v1", "ServiceAccount"): ("/api/v1", "serviceaccounts", True),
    ("v1", "Secret"): ("/api/v1", "secrets", True),
    ("v1", "ConfigMap"): ("/api/v1", "configmaps", True),
    ("v1", "Node"): ("/api/v1", "nodes", False),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"):
        ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", False),
    ("offloading.liqo.io/v1alpha1", "NamespaceOffloading"):
        ("/apis/offloading.liqo.io/v1alpha1", "namespaceoffloadings", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"):
        ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"):
        ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    ("rbac.authorization.k8s.io/v1", "Role"):
        ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"):
        ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"):
        ("/apis/admissionregistration.k8s.io/v1", "validatingadmissionpolicies", False),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"):
        ("/apis/admissionregistration.k8s.io/v1", "validatingadmissionpolicybindings", False),
}


def die(msg):
    sys.stderr.write("testbed-kube: %s\n" % msg)
    sys.exit(2)


def cmd_ports(n):
    socks = []
    try:
        for _ in range(int(n)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        print(" ".join(str(s.getsockname()[1]) for s in socks))
    finally:
        for s in socks:
            s.close()


def cmd_subnet(cidr, prefixlen, index):
    net = ipaddress.ip_network(cidr, strict=True)
    prefixlen = int(prefixlen)
    index = int(index)
    if prefixlen < net.prefixlen:
        die("%s is smaller than /%d" % (cidr, prefixlen))
    count = 1 << (prefixlen - net.prefixlen)
    if index >= count:
        die("%s has only %d /%d subnets" % (cidr, count, prefixlen))
    size = 1 << (net.max_prefixlen - prefixlen)
    first = int(net.network_address) + index * size
    print("%s/%d" % (ipaddress.ip_address(first), prefixlen))


def cmd_http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            sys.exit(0 if 200 <= r.status < 300 else 1)
    except (urllib.error.URLError, OSError):
        sys.exit(1)


class Conn:
    def __init__(self, server, ca, cert=None, key=None, token_file=None):
        if not server:
            die("--server is required")
        self.server = server.rstrip("/")
        self.ctx = ssl.create_default_context(cafile=ca)
        self.headers = {}
        if cert:
            self.ctx.load_cert_chain(cert, key)
        if token_file:
            with open(token_file) as f:
                self.headers["Authorization"] = "Bearer " + f.read().strip()

    def request(self, method, path, body=None, ctype="application/json"):
        data = None
        headers = dict(self.headers)
        headers["Accept"] = "application/json"
        if body is not None:
            data = body.encode() if isinstance(body, str) else body
            headers["Content-Type"] = ctype
        req = urllib.request.Request(self.server + path, data=data,
                                     method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")
        except (urllib.error.URLError, OSError) as e:
            return 0, str(e)


def select(obj, expr):
    """Walk a dotted path with [k=v] list selectors; None when absent."""
    cur = obj
    for part in expr.split("."):
        sel = None
        if "[" in part and part.endswith("]"):
            part, sel = part[:-1].split("[", 1)
        if part:
            if not isinstance(cur, dict) or part not in cur:
                return None
            cur = cur[part]
        if sel is not None:
            if not isinstance(cur, list):
                return None
            if "=" in sel:
                k, v = sel.split("=", 1)
                matches = [x for x in cur if isinstance(x, dict) and str(x.get(k)) == v]
                if not matches:
                    return None
                cur = matches[0]
            else:
                i = int(sel)
                if i >= len(cur):
                    return None
                cur = cur[i]
    return cur


def read_docs(fname):
    import yaml  # python3-yaml; only needed for manifests
    text = sys.stdin.read() if fname == "-" else open(fname).read()
    return [d for d in yaml.safe_load_all(text) if d]


def object_path(doc):
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key not in KINDS:
        die("unsupported kind %s/%s (add it to KINDS)" % key)
    prefix, plural, namespaced = KINDS[key]
    meta = doc.get("metadata") or {}
    name = meta.get("name")
    if not name:
        die("%s without metadata.name" % key[1])
    if namespaced:
        ns = meta.get("namespace") or "default"
        return "%s/namespaces/%s/%s/%s" % (prefix, ns, plural, name)
    return "%s/%s/%s" % (prefix, plural, name)


def cmd_get(conn, path, expr=None):
    code, body = conn.request("GET", path)
    if code != 200:
        sys.stderr.write("GET %s: %s %s\n" % (path, code, body[:300]))
        sys.exit(1)
    if expr is None:
        print(body)
        return
    val = select(json.loads(body), expr)
    if val is None:
        sys.exit(1)
    print(val if isinstance(val, str) else json.dumps(val))


def cmd_ok(conn, path):
    code, _ = conn.request("GET", path)
    sys.exit(0 if 200 <= code < 300 else 1)


def cmd_create(conn, path, fname):
    docs = read_docs(fname)
    if len(docs) != 1:
        die("create expects exactly one object")
    code, body = conn.request("POST", path, json.dumps(docs[0]))
    if code not in (200, 201):
        sys.stderr.write("POST %s: %s %s\n" % (path, code, body[:500]))
        sys.exit(1)


def cmd_apply(conn, fnames):
    for fname in fnames:
        for doc in read_docs(fname):
            path = object_path(doc)
            code, body = conn.request(
                "PATCH", path + "?fieldManager=liqolet-testbed&force=true",
                json.dumps(doc), ctype="application/apply-patch+yaml")
            if code not in (200, 201):
                sys.stderr.write("apply %s: %s %s\n" % (path, code, body[:500]))
                sys.exit(1)


def cmd_nsof_crd_doc(fname, version):
    """The NamespaceOffloading CRD of fname with Liqo v1's version: "v1alpha1" as the file
    has it, "v1beta1" with a v1beta1 version added (same schema, served, not the storage
    version, so going back to v1alpha1 alone is always allowed)."""
    docs = read_docs(fname)
    if len(docs) != 1:
        die("%s: expected one CRD" % fname)
    crd = docs[0]
    versions = crd["spec"]["versions"]
    if [v["name"] for v in versions] != ["v1alpha1"]:
        die("%s: expected the single version v1alpha1" % fname)
    if version == "v1beta1":
        beta = json.loads(json.dumps(versions[0]))
        beta["name"] = "v1beta1"
        beta["storage"] = False
        versions.append(beta)
    elif version != "v1alpha1":
        die("nsof-crd-doc: version must be v1alpha1 or v1beta1")
    print(json.dumps(crd))


def main(argv):
    opts = {}
    while argv and argv[0].startswith("--"):
        if len(argv) < 2:
            die("option %s needs a value" % argv[0])
        opts[argv[0][2:].replace("-", "_")] = argv[1]
        argv = argv[2:]
    if not argv:
        die(__doc__)
    cmd, args = argv[0], argv[1:]
    if cmd == "ports":
        return cmd_ports(*args)
    if cmd == "subnet":
        return cmd_subnet(*args)
    if cmd == "http-ok":
        return cmd_http_ok(*args)
    if cmd == "nsof-crd-doc":
        return cmd_nsof_crd_doc(*args)
    conn = Conn(opts.get("server"), opts.get("ca"), opts.get("cert"),
                opts.get("key"), opts.get("token_file"))
    if cmd == "get":
        return cmd_get(conn, *args)
    if cmd == "ok":
        return cmd_ok(conn, *args)
    if cmd == "create":
        return cmd_create(conn, *args)
    if cmd == "apply":
        return cmd_apply(conn, args)
    die("unknown command %s" % cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
