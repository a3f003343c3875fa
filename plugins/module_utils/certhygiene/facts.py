# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts about keys and certificates, computed from public data only."""

from __future__ import annotations

import datetime
import functools
import hashlib
import ipaddress
import re
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

from ._crypto import (
    ExtensionOID,
    NameOID,
    dsa,
    ec,
    ed448,
    ed25519,
    is_directly_issued_by,
    not_valid_after,
    not_valid_before,
    rsa,
    serialization,
    x509,
)
from ._record import Record

_IPV4_CHARS = re.compile(r"[0-9.]+")
# Curve names as the cloud's import restrictions spell them (EC_prime256v1 ...).
_CURVE_NAMES = {"secp256r1": "prime256v1", "secp384r1": "secp384r1", "secp521r1": "secp521r1"}


class KeyInfo(Record):
    """A key's algorithm and size. Treat as immutable (equal and hashed by its fields)."""

    _fields = ("algorithm", "size", "curve")

    algorithm: str  # RSA | EC | DSA | Ed25519 | Ed448 | unknown
    size: int  # bits (modulus for RSA/DSA, curve size for EC)
    curve: str | None

    def __init__(self, algorithm: str, size: int, curve: str | None = None) -> None:
        self.algorithm = algorithm
        self.size = size
        self.curve = curve

    @cached_property
    def name(self) -> str:
        """The policy name of the key: RSA_2048, EC_prime256v1, Ed25519 ..."""
        if self.algorithm in ("RSA", "DSA"):
            return f"{self.algorithm}_{self.size}"
        if self.algorithm == "EC":
            return f"EC_{_CURVE_NAMES.get(self.curve or '', self.curve)}"
        return self.algorithm


# key_info runs for every key and certificate a check sees; ``isinstance`` against cryptography's abstract
# key classes costs microseconds a call, so the algorithm is worked out once per concrete key class, and one
# KeyInfo (with its name) is made per kind of key.
_ALGORITHM_OF_CLASS: dict[type, str] = {}
_KEY_INFOS: dict[tuple[str, int, str | None], KeyInfo] = {}


def _algorithm(public_key: Any) -> str:
    kind = type(public_key)
    algorithm = _ALGORITHM_OF_CLASS.get(kind)
    if algorithm is None:
        if isinstance(public_key, rsa.RSAPublicKey):
            algorithm = "RSA"
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            algorithm = "EC"
        elif isinstance(public_key, dsa.DSAPublicKey):
            algorithm = "DSA"
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            algorithm = "Ed25519"
        elif isinstance(public_key, ed448.Ed448PublicKey):
            algorithm = "Ed448"
        else:
            algorithm = "unknown"
        _ALGORITHM_OF_CLASS[kind] = algorithm
    return algorithm


def key_info(public_key: Any) -> KeyInfo:
    """Type and size from the public numbers alone (no private-key consistency check)."""
    algorithm = _algorithm(public_key)
    kind: tuple[str, int, str | None]
    if algorithm in ("RSA", "DSA"):
        kind = (algorithm, public_key.key_size, None)
    elif algorithm == "EC":
        kind = ("EC", public_key.curve.key_size, public_key.curve.name)
    elif algorithm == "Ed25519":
        kind = ("Ed25519", 256, None)
    elif algorithm == "Ed448":
        kind = ("Ed448", 456, None)
    else:
        kind = ("unknown", 0, None)
    info = _KEY_INFOS.get(kind)
    if info is None:
        info = _KEY_INFOS[kind] = KeyInfo(*kind)
    return info


def public_key_der(public_key: Any) -> bytes:
    return bytes(public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def same_public_key(a: Any, b: Any) -> bool:
    # cryptography's key equality (OpenSSL's EVP_PKEY_eq) is ~30x cheaper than serialising both keys; keys it
    # calls equal have the same SubjectPublicKeyInfo, and whatever it does not call equal is compared by DER.
    return bool(a == b) or public_key_der(a) == public_key_der(b)


def subject_text(cert: Any) -> str:
    return str(cert.subject.rfc4514_string()) or "(empty subject)"


def common_name(name: Any) -> str | None:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else None


def serial_text(cert: Any) -> str:
    return f"0x{cert.serial_number:x}"


def cert_label(cert: Any) -> str:
    """How findings name a certificate: subject and serial, never key material."""
    return f"certificate '{subject_text(cert)}' (serial {serial_text(cert)})"


def sha256_fingerprint(cert: Any) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def colon_hex(hexdigest: str) -> str:
    return ":".join(hexdigest[i : i + 2] for i in range(0, len(hexdigest), 2)).upper()


def not_before(cert: Any) -> datetime.datetime:
    return not_valid_before(cert)


def not_after(cert: Any) -> datetime.datetime:
    return not_valid_after(cert)


def days_left(cert: Any, now: datetime.datetime | None = None) -> int:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return (not_after(cert) - now).days


def extension(cert: Any, oid: Any) -> Any:
    """The value of ``cert``'s extension ``oid``; None when it has none."""
    try:
        # A loop, not get_extension_for_oid: an absent extension (the usual answer: a rule asks for several a
        # certificate lacks) would cost an ExtensionNotFound raised, formatted and caught.
        for ext in cert.extensions:
            if ext.oid == oid:
                return ext.value
    except ValueError:  # a malformed extension: treat as absent, other rules report the damage
        return None
    return None


def subject_alt_names(cert: Any) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) of the subjectAltName extension."""
    san = extension(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    dns: list[str] = []
    ips: list[str] = []
    for name in san or ():  # one pass (san.get_values_for_type walks the names once per type)
        if isinstance(name, x509.DNSName):
            dns.append(str(name.value))
        elif isinstance(name, x509.IPAddress):
            ips.append(str(name.value))
    return dns, ips


def is_ca(cert: Any) -> bool:
    constraints = extension(cert, ExtensionOID.BASIC_CONSTRAINTS)
    if constraints is not None:
        return bool(constraints.ca)
    # X.509 v1 certificates carry no extensions; a self-issued v1 certificate is a (legacy) root.
    return cert.version == x509.Version.v1 and is_self_issued(cert)


def is_client_only(cert: Any) -> bool:
    """A certificate whose extended key usage allows client auth but not server auth."""
    from ._crypto import ExtendedKeyUsageOID

    usage = extension(cert, ExtensionOID.EXTENDED_KEY_USAGE)
    if usage is None:
        return False
    oids = set(usage)
    return ExtendedKeyUsageOID.CLIENT_AUTH in oids and ExtendedKeyUsageOID.SERVER_AUTH not in oids


def is_self_issued(cert: Any) -> bool:
    return bool(cert.subject == cert.issuer)


def is_signed_by(
    cert: Any, issuer: Any, cert_der: bytes | None = None, issuer_der: bytes | None = None, issuer_key: Any = None
) -> bool:
    """True when ``issuer`` names and signs ``cert`` (RSA PKCS#1 v1.5 and PSS, ECDSA, EdDSA). The DERs and the
    issuer's parsed public key, when the caller has them, make the common case cheaper (``_crypto``)."""
    return is_directly_issued_by(cert, issuer, cert_der, issuer_der, issuer_key)


def is_self_signed(cert: Any) -> bool:
    return is_self_issued(cert) and is_signed_by(cert, cert)


def is_fqdn_or_ip(value: str) -> bool:
    """A DNS name with at least one dot (or a wildcard of one), or an IP address."""
    # ip_address() raises (slowly) on every host name: only strings that can be an address go to it
    # (IPv4: digits and dots only; IPv6: has a colon).
    if ":" in value or _IPV4_CHARS.fullmatch(value):
        try:
            ipaddress.ip_address(value)
            return True
        except ValueError:
            pass
    name = value[2:] if value.startswith("*.") else value
    labels = name.rstrip(".").split(".")
    if len(labels) < 2:
        return False
    for label in labels:  # each label: 1-63 characters, letters, digits and hyphens
        if not label or len(label) > 63:
            return False
        rest = label.replace("-", "")
        if rest and not rest.isalnum():
            return False
    return True


def describe_certificate(
    cert: Any, now: datetime.datetime | None = None, keys: Sequence[str] | None = None
) -> dict[str, Any]:
    """The one description of a certificate (public data only) that modules, the CLI and diffs return.

    ``keys`` picks some of the facts (in that order; ``public_key_sha256`` only when asked for); all the others
    by default."""
    # Each is worked out only when a wanted fact needs it (a report lists thousands of certificates).
    sans = functools.lru_cache(maxsize=None)(lambda: subject_alt_names(cert))
    key_of = functools.lru_cache(maxsize=None)(lambda: key_info(cert.public_key()))
    facts: dict[str, Callable[[], Any]] = {
        "subject": lambda: subject_text(cert),
        "common_name": lambda: common_name(cert.subject),
        "issuer": lambda: str(cert.issuer.rfc4514_string()),
        "serial": lambda: serial_text(cert),
        "version": lambda: 3 if cert.version == x509.Version.v3 else 1,
        "subject_alt_names": lambda: [f"DNS:{d}" for d in sans()[0]] + [f"IP:{i}" for i in sans()[1]],
        "not_before": lambda: not_before(cert).isoformat(),
        "not_after": lambda: not_after(cert).isoformat(),
        "days_left": lambda: days_left(cert, now),
        "key_type": lambda: key_of().algorithm,
        "key_size": lambda: key_of().size,
        "key_name": lambda: key_of().name,
        "is_ca": lambda: is_ca(cert),
        "self_signed": lambda: is_self_issued(cert),
        "fingerprint_sha256": lambda: colon_hex(sha256_fingerprint(cert)),
        # SHA-1 here is a fingerprint people compare with other tools, not a security use.
        "fingerprint_sha1": lambda: colon_hex(
            hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest()  # noqa: S324
        ),
    }
    if keys is None:
        return {name: fact() for name, fact in facts.items()}
    facts["public_key_sha256"] = lambda: colon_hex(hashlib.sha256(public_key_der(cert.public_key())).hexdigest())
    return {name: facts[name]() for name in keys}
