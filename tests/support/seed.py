"""The seed's own "Self-signed certificate" recipe, run with the openssl CLI exactly as the seed writes it.

Only the connect address differs (the seed asks the user to put the deployment's address in place of
CONNECT_ADDRESS). Tests use the result as material no one here made: the engine must agree with it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ADDRESS = "mqtt.example.com"

# The seed's openssl.cnf, with CONNECT_ADDRESS set as the seed asks.
OPENSSL_CNF = """[req]
default_bits  = 2048
distinguished_name = req_distinguished_name
req_extensions = req_ext
x509_extensions = v3_req
prompt = no
[req_distinguished_name]
countryName = CN
stateOrProvinceName = XX
localityName = XX
organizationName = XX
commonName = XX
[req_ext]
subjectAltName = @alt_names
[v3_req]
subjectAltName = @alt_names
[alt_names]
DNS.1 = CONNECT_ADDRESS
"""


def openssl(folder: Path, *args: str) -> str:
    result = subprocess.run(["openssl", *args], cwd=folder, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def seed_recipe(folder: Path, address: str = ADDRESS) -> Path:
    """Every command of the seed's "Self-signed certificate" section, verbatim but for the address."""
    folder.mkdir(parents=True, exist_ok=True)
    openssl(
        folder,
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-days",
        "3650",
        "-nodes",
        "-x509",
        "-subj",
        "/C=CN/ST=XX/L=XX/O=EMQ X Cloud/CN=CA",
        "-keyout",
        "cloud-ca.key",
        "-out",
        "cloud-ca.crt",
    )
    openssl(folder, "genrsa", "-out", "cloud.key", "2048")
    (folder / "openssl.cnf").write_text(OPENSSL_CNF.replace("CONNECT_ADDRESS", address))
    openssl(folder, "req", "-new", "-key", "cloud.key", "-config", "openssl.cnf", "-out", "cloud.csr")
    openssl(
        folder,
        "x509",
        "-req",
        "-days",
        "3650",
        "-in",
        "cloud.csr",
        "-CA",
        "cloud-ca.crt",
        "-CAkey",
        "cloud-ca.key",
        "-CAcreateserial",
        "-out",
        "cloud.crt",
        "-extensions",
        "v3_req",
        "-extfile",
        "openssl.cnf",
    )
    # two-way authentication
    openssl(
        folder,
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-days",
        "3650",
        "-nodes",
        "-x509",
        "-subj",
        "/C=CN/ST=XX/L=XX/O=EMQ X Cloud/CN=Client CA",
        "-keyout",
        "client-ca.key",
        "-out",
        "client-ca.crt",
    )
    openssl(folder, "genrsa", "-out", "client.key", "2048")
    openssl(
        folder,
        "req",
        "-new",
        "-key",
        "client.key",
        "-out",
        "client.csr",
        "-subj",
        "/C=CN/ST=XX/L=XX/O=EMQ X Cloud/CN=Client",
    )
    openssl(
        folder,
        "x509",
        "-req",
        "-days",
        "3650",
        "-in",
        "client.csr",
        "-CA",
        "client-ca.crt",
        "-CAkey",
        "client-ca.key",
        "-CAcreateserial",
        "-out",
        "client.crt",
    )
    return folder
