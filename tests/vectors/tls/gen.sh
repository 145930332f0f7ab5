#!/bin/sh
# Regenerates the TLS test certificates of tests/unit/test_tls.c (OpenSSL 3.0 or later).
# The files are committed; run this only to change them:  sh tests/vectors/tls/gen.sh
#
#   ca.crt / ca.key              test CA (ECDSA P-256), trusted by the tests
#   other-ca.crt / other-ca.key  a CA the client does not trust ("unknown authority")
#   server-ip.*       ECDSA P-256, SAN IP:127.0.0.1, IP:::1 only (no DNS name)
#   server-dns.*      RSA 2048, SAN DNS:localhost only
#   server-both.*     ECDSA P-256, SAN DNS:localhost, IP:127.0.0.1
#   server-unknown.*  like server-both, issued by other-ca
#   server-expired.*  like server-both, valid 2020-01-01 .. 2021-01-01 only
#   server-future.*   like server-both, valid from 2099-01-01 only
#   client-rsa.*      client certificate, RSA 2048 (CN liqolet-test-rsa)
#   client-ec.*       client certificate, ECDSA P-256 (CN liqolet-test-ec)
# Client certificates for the server side (lq_tls_accept, lq_tls_peer_identity):
#   client-kube.*     ECDSA P-256, subject O=system:masters, O=<a 64-character group (the most X.520 allows)>,
#                     CN=kube-apiserver-kubelet-client, O=liqo:short (in this order)
#   client-nocn.*     ECDSA P-256, subject O=no-cn-group only (no CN)
#   client-other.*    ECDSA P-256, CN liqolet-test-other, issued by other-ca
#   client-expired.*  ECDSA P-256, CN liqolet-test-expired, valid 2020-01-01 .. 2021-01-01
# Validity is 100 years unless stated otherwise. Keys are unencrypted PEM (test only).
#
#   sh tests/vectors/tls/gen.sh server-side   issues only the four client certificates
#                                             above, from the committed ca and other-ca
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

DAYS=36500
ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
rsa_key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }

self_ca() { # name CN
    ec_key "$1.key"
    openssl req -new -x509 -key "$1.key" -out "$1.crt" -days $DAYS -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash"
}

# issue NAME CA CN EXT KEYTYPE [STARTDATE ENDDATE]  (dates as YYYYMMDDHHMMSSZ)
# CN is a common name, or a whole subject when it starts with "/" ("/O=a/CN=b").
issue() {
    name=$1 ca=$2 cn=$3 ext=$4 kt=$5
    "${kt}_key" "$name.key"
    case $cn in /*) subj=$cn ;; *) subj="/CN=$cn" ;; esac
    openssl req -new -key "$name.key" -subj "$subj" -out "$work/$name.csr"
    printf '%s\n' "$ext" > "$work/$name.ext"
    if [ $# -ge 7 ]; then
        # openssl 3.0's x509 cannot set notBefore; the minimal 'openssl ca' can.
        mkdir -p "$work/db"; : > "$work/db/index.txt"
        cat > "$work/ca.cnf" <<CNF
[ ca ]
default_ca = tca
[ tca ]
dir = $work/db
database = $work/db/index.txt
new_certs_dir = $work/db
serial = $work/db/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
CNF
        openssl rand -hex 8 > "$work/db/serial"
        openssl ca -batch -config "$work/ca.cnf" -cert "$ca.crt" -keyfile "$ca.key" \
            -in "$work/$name.csr" -out "$work/$name.pem" -extfile "$work/$name.ext" \
            -startdate "$6" -enddate "$7" -notext 2>/dev/null
        openssl x509 -in "$work/$name.pem" -out "$name.crt"
    else
        openssl x509 -req -in "$work/$name.csr" -CA "$ca.crt" -CAkey "$ca.key" \
            -CAcreateserial -CAserial "$work/$ca.srl" -days $DAYS -sha256 \
            -extfile "$work/$name.ext" -out "$name.crt" 2>/dev/null
    fi
}

SRV_EC='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth'
SRV_RSA='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth'
CLI='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth'

LONG_GROUP=liqolet-test-group-of-the-largest-size-an-O-may-have-64-chars-xx

server_side() {
    issue client-kube ca "/O=system:masters/O=$LONG_GROUP/CN=kube-apiserver-kubelet-client/O=liqo:short" "$CLI" ec
    issue client-nocn ca "/O=no-cn-group" "$CLI" ec
    issue client-other other-ca "liqolet-test-other" "$CLI" ec
    issue client-expired ca "liqolet-test-expired" "$CLI" ec 20200101000000Z 20210101000000Z
}

if [ "${1:-}" = server-side ]; then
    server_side
    echo "server-side client certificates written to $(pwd)"
    exit 0
fi

self_ca ca "liqolet test CA"
self_ca other-ca "liqolet other CA"
issue server-ip ca "server-ip" "$SRV_EC
subjectAltName=IP:127.0.0.1,IP:::1" ec
issue server-dns ca "server-dns" "$SRV_RSA
subjectAltName=DNS:localhost" rsa
issue server-both ca "server-both" "$SRV_EC
subjectAltName=DNS:localhost,IP:127.0.0.1" ec
issue server-unknown other-ca "server-unknown" "$SRV_EC
subjectAltName=DNS:localhost,IP:127.0.0.1" ec
issue server-expired ca "server-expired" "$SRV_EC
subjectAltName=DNS:localhost,IP:127.0.0.1" ec 20200101000000Z 20210101000000Z
issue server-future ca "server-future" "$SRV_EC
subjectAltName=DNS:localhost,IP:127.0.0.1" ec 20990101000000Z 21000101000000Z
issue client-rsa ca "liqolet-test-rsa" "$CLI" rsa
issue client-ec ca "liqolet-test-ec" "$CLI" ec
server_side
echo "certificates written to $(pwd)"
