"""Test PKI factory: keys and certificates made with cryptography, with every knob a rule needs.

Keys are cached per (type, size, slot) so a test session makes each RSA key once.
The helpers also run under the old cryptography releases of the version matrix
(tests/integration/test_crypto_matrix.py): where a release lacks an API, the openssl CLI
(an independent judge) does the job.
"""

from __future__ import annotations

import datetime
import functools
import inspect
import ipaddress
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.timezone.utc)


@functools.cache
def key(kind: str = "rsa", size: int = 2048, slot: int = 0) -> Any:
    """A private key; ``slot`` gives distinct keys of the same type."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=size)
    if kind == "ec":
        curve = {256: ec.SECP256R1(), 384: ec.SECP384R1(), 521: ec.SECP521R1()}[size]
        return ec.generate_private_key(curve)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(kind)


def name(cn: str, org: str = "certhygiene tests") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass
class Issued:
    cert: x509.Certificate
    key: Any

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return key_pem(self.key)


def key_pem(private_key: Any, fmt: str = "pkcs8", password: bytes | None = None) -> bytes:
    encoding = serialization.Encoding.PEM
    formats = {
        "pkcs8": serialization.PrivateFormat.PKCS8,
        "pkcs1": serialization.PrivateFormat.TraditionalOpenSSL,
        "sec1": serialization.PrivateFormat.TraditionalOpenSSL,
        "openssh": serialization.PrivateFormat.OpenSSH,
    }
    algorithm: Any = serialization.NoEncryption()
    if password is not None:
        algorithm = serialization.BestAvailableEncryption(password)
    return bytes(private_key.private_bytes(encoding, formats[fmt], algorithm))


def issue(
    cn: str,
    *,
    issuer: Issued | None = None,
    private_key: Any = None,
    ca: bool = False,
    path_length: int | None = None,
    dns: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    days: int = 3650,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    client: bool = False,
    extensions: bool = True,
    subject: x509.Name | None = None,
    issuer_name: x509.Name | None = None,
    hash_algorithm: Any = None,
    serial: int | None = None,
    aia_ca_issuers: str | None = None,
) -> Issued:
    """Issue a certificate: self-signed when ``issuer`` is None, else signed by it.

    ``extensions=False`` gives an extension-less certificate (cryptography still
    writes v3; the openssl CLI in tests makes real v1 certificates).
    """
    private_key = private_key or key()
    subject = subject if subject is not None else name(cn)
    signer_key = issuer.key if issuer else private_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name if issuer_name is not None else (issuer.cert.subject if issuer else subject))
        .public_key(private_key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before or NOW - datetime.timedelta(days=1))
        .not_valid_after(not_after or NOW + datetime.timedelta(days=days))
    )
    if extensions:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False
        )
        if issuer is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
            )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
        else:
            usage = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [ExtendedKeyUsageOID.SERVER_AUTH]
            builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        if aia_ca_issuers:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                            x509.UniformResourceIdentifier(aia_ca_issuers),
                        )
                    ]
                ),
                critical=False,
            )
    algorithm = (
        hash_algorithm
        if hash_algorithm is not None
        else (None if isinstance(signer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    )
    return Issued(builder.sign(signer_key, algorithm), private_key)


def pem(*certs: Issued | x509.Certificate) -> bytes:
    out = b""
    for c in certs:
        cert = c.cert if isinstance(c, Issued) else c
        out += cert.public_bytes(serialization.Encoding.PEM)
    return out


@dataclass
class ThreeLevel:
    root: Issued
    intermediate: Issued
    leaf: Issued


def three_level(host: str = "mqtt.example.com", kind: str = "rsa", size: int = 2048) -> ThreeLevel:
    root = issue("Test Root CA", private_key=key(kind, size, 10), ca=True)
    intermediate = issue("Test Intermediate CA", issuer=root, private_key=key(kind, size, 11), ca=True, path_length=0)
    leaf = issue(host, issuer=intermediate, private_key=key(kind, size, 12), dns=(host,))
    return ThreeLevel(root, intermediate, leaf)


def issue_pss(
    cn: str,
    *,
    issuer: Issued,
    private_key: Any = None,
    ca: bool = False,
    dns: tuple[str, ...] = (),
) -> Issued:
    """A certificate signed by an RSA ``issuer`` with RSASSA-PSS (SHA-256, MGF1, digest-length salt)."""
    from cryptography.hazmat.primitives.asymmetric import padding

    private_key = private_key or key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
    if "rsa_padding" not in inspect.signature(x509.CertificateBuilder.sign).parameters:
        # cryptography < 41 cannot sign certificates with PSS: openssl re-signs a self-signed draft
        # (it takes only self-signed input) and sets the issuer name from the CA.
        draft = builder.issuer_name(name(cn)).sign(private_key, hashes.SHA256())
        return Issued(_openssl_sign_pss(draft, issuer), private_key)
    builder = builder.issuer_name(issuer.cert.subject)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    return Issued(builder.sign(issuer.key, hashes.SHA256(), rsa_padding=pss), private_key)


def _openssl(*args: str) -> None:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"openssl {args[0]} failed: {proc.stderr}")


def _openssl_sign_pss(draft: x509.Certificate, issuer: Issued) -> x509.Certificate:
    """Re-sign ``draft`` (same fields and extensions) with RSASSA-PSS using the openssl CLI."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "draft.pem").write_bytes(draft.public_bytes(serialization.Encoding.PEM))
        (d / "ca.pem").write_bytes(issuer.cert_pem)
        (d / "ca.key").write_bytes(issuer.key_pem)
        _openssl(
            "x509", "-in", str(d / "draft.pem"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
            "-preserve_dates", "-sha256",
            "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest", "-out", str(d / "pss.pem"),
        )  # fmt: skip
        return x509.load_pem_x509_certificate((d / "pss.pem").read_bytes())


def verify_issued(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """Raise unless ``issuer`` directly issued ``cert`` (cryptography >= 40 natively, else the openssl CLI)."""
    if hasattr(cert, "verify_directly_issued_by"):
        cert.verify_directly_issued_by(issuer)
        return
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "issuer.pem").write_bytes(issuer.public_bytes(serialization.Encoding.PEM))
        (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _openssl(
            "verify",
            "-no-CAfile",
            "-no-CApath",
            "-partial_chain",
            "-trusted",
            str(d / "issuer.pem"),
            str(d / "cert.pem"),
        )


def not_after(cert: x509.Certificate) -> datetime.datetime:
    """notAfter, aware UTC, on every cryptography release."""
    if hasattr(cert, "not_valid_after_utc"):
        return cert.not_valid_after_utc
    return cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def not_before(cert: x509.Certificate) -> datetime.datetime:
    if hasattr(cert, "not_valid_before_utc"):
        return cert.not_valid_before_utc
    return cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)


def pkcs7_der(*certs: x509.Certificate) -> bytes:
    """A degenerate PKCS#7 (certs-only) bundle, DER (cryptography >= 37 natively, else the openssl CLI)."""
    from cryptography.hazmat.primitives.serialization import pkcs7

    if hasattr(pkcs7, "serialize_certificates"):
        return bytes(pkcs7.serialize_certificates(list(certs), serialization.Encoding.DER))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "in.pem").write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
        _openssl("crl2pkcs7", "-nocrl", "-certfile", str(d / "in.pem"), "-outform", "DER", "-out", str(d / "out.p7b"))
        return (d / "out.p7b").read_bytes()


def pkcs7_pem(*certs: x509.Certificate) -> bytes:
    der = pkcs7_der(*certs)
    import base64

    body = base64.encodebytes(der).decode("ascii")
    return f"-----BEGIN PKCS7-----\n{body}-----END PKCS7-----\n".encode("ascii")
