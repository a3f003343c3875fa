#!/usr/bin/env bash
# Demo of `certhygiene check` (issue 2): make a small certificate repository in a temp dir,
# check it (clean: exit 0), then add the three classic mistakes and check again (blocked: exit 1).
# Usage: demo/check_demo.sh            (uses .venv/bin of this checkout when it exists)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${VENV:-$here/.venv}/bin
[ -x "$bin/certhygiene" ] || bin=$(dirname "$(command -v certhygiene)")
python=$bin/python
[ -x "$python" ] || python=python3
work=$(mktemp -d "${TMPDIR:-/tmp}/certhygiene-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
repo=$work/certs
mkdir -p "$repo"

# The sample PKI, following the seed: an RSA 2048 CA signs an RSA 2048 server certificate
# with the deployment's address in subjectAltName; the chain file holds the CA, not the leaf.
"$python" - "$repo" <<'PY'
import datetime, sys
from pathlib import Path
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

repo = Path(sys.argv[1])
now = datetime.datetime.now(datetime.timezone.utc)
def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "EMQ X Cloud"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])
def cert(cn, key, issuer=None, issuer_key=None, ca=False, dns=None):
    b = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(issuer.subject if issuer else name(cn))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if dns:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
    return b.sign(issuer_key or key, hashes.SHA256())
pem = serialization.Encoding.PEM
def key_pem(key, password=None):
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL if not password else serialization.PrivateFormat.PKCS8, enc)

ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ca = cert("CA", ca_key, ca=True)
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
server = cert("mqtt.example.com", key, ca, ca_key, dns="mqtt.example.com")
(repo / "cloud.crt").write_bytes(server.public_bytes(pem))
(repo / "cloud.key").write_bytes(key_pem(key))
(repo / "cloud-chain.pem").write_bytes(ca.public_bytes(pem))

# The mistakes, kept aside until the second act.
bad = repo.parent / "mistakes"
bad.mkdir()
big = rsa.generate_private_key(public_exponent=65537, key_size=4096)
(bad / "big.crt").write_bytes(cert("big.example.com", big, ca, ca_key, dns="big.example.com").public_bytes(pem))
(bad / "big.key").write_bytes(key_pem(big))
(bad / "big-chain.pem").write_bytes(ca.public_bytes(pem))
(bad / "locked.key").write_bytes(key_pem(key, password=b"demo passphrase"))
(bad / "cloud-bundle.pem").write_bytes(server.public_bytes(pem) + ca.public_bytes(pem))
PY

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
cd "$work"
step "ls certs/"
ls certs/
step "certhygiene check certs/"
"$bin/certhygiene" check certs/
echo "exit code: $? (clean)"

step "cp mistakes/* certs/   # an RSA 4096 key, a passphrase-protected key, a bundle holding the leaf"
cp mistakes/* certs/
step "certhygiene check certs/"
set +e
"$bin/certhygiene" check certs/
rc=$?
set -e
echo "exit code: $rc (blocked)"
if [ "$rc" -ne 1 ]; then
  echo "demo: expected exit code 1 from the second check" >&2
  exit 1
fi
step "certhygiene check certs/ --format json | head -c 600"
"$bin/certhygiene" check certs/ --format json | head -c 600 || true
echo
