# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place the engine imports ``cryptography``, and the one place its versions differ.

Modules run on managed nodes with the distribution's ``cryptography``: 3.4.8 (Ubuntu 22.04),
36 (RHEL 9), 38.0.4 (Debian 12), 41 (Ubuntu 24.04), 43 (Debian 13), up to the newest. The
helpers below give the same answers on all of them, using the fast paths where a version
has them. Below the floor (or without the library) the import does not fail: ``HAS_CRYPTOGRAPHY``
is False and ``CRYPTOGRAPHY_REQUIREMENT`` says which version was found and which is needed, so
modules report it with ``missing_required_lib`` and the CLI and hooks exit 2 with the same words.
Every other engine module imports these names from here.
"""

from __future__ import annotations

import datetime
import functools
import gc
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.serialization import pkcs7

CRYPTOGRAPHY_FLOOR = (3, 4, 8)
CRYPTOGRAPHY_FLOOR_TEXT = "3.4.8"
CRYPTOGRAPHY_VERSION: str | None = None


class CryptographyTooOld(ImportError):
    """The installed cryptography is older than the floor."""


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


# cryptography's import makes tens of thousands of objects: the cyclic collector, left on, would walk them
# again and again while they are made (~5 ms of every start of the CLI, a hook or a module). They live as long as
# the process, so they are then frozen (moved where no collection looks: ~4 ms more of every start, the first
# collections after the import), as the gc module's documentation advises for what lives until exit or a fork.
_collecting = gc.isenabled()
gc.disable()
try:
    try:
        import cryptography as _cryptography

        CRYPTOGRAPHY_VERSION = str(getattr(_cryptography, "__version__", "unknown"))
        if _version_tuple(CRYPTOGRAPHY_VERSION) < CRYPTOGRAPHY_FLOOR:
            # Older releases lack APIs the engine calls (and need a backend argument everywhere):
            # stop here rather than fail later with an AttributeError.
            raise CryptographyTooOld(CRYPTOGRAPHY_VERSION)

        from cryptography import x509
        from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

        HAS_CRYPTOGRAPHY = True
        CRYPTOGRAPHY_IMPORT_ERROR: str | None = None
    except ImportError as _exc:  # pragma: no cover - exercised by ansible-test's import sandbox and the matrix
        HAS_CRYPTOGRAPHY = False
        # A too-old version is no crash: no traceback to show, the requirement says it all.
        import traceback

        CRYPTOGRAPHY_IMPORT_ERROR = None if isinstance(_exc, CryptographyTooOld) else traceback.format_exc()
        x509 = InvalidSignature = UnsupportedAlgorithm = hashes = serialization = None  # type: ignore[assignment,misc]
        dsa = ec = ed448 = ed25519 = padding = rsa = None  # type: ignore[assignment]
        ExtendedKeyUsageOID = ExtensionOID = NameOID = None  # type: ignore[assignment,misc]
finally:
    gc.freeze()
    if _collecting:
        gc.enable()


# Imported on first use (``from ._crypto import pkcs7``): the vault cipher and PKCS#7 pull in ~5 ms of modules
# (email, the decrepit ciphers) that a check or a one-file hook run rarely needs.
_LAZY = {
    "Cipher": ("cryptography.hazmat.primitives.ciphers", "Cipher"),
    "algorithms": ("cryptography.hazmat.primitives.ciphers", "algorithms"),
    "modes": ("cryptography.hazmat.primitives.ciphers", "modes"),
    "pkcs7": ("cryptography.hazmat.primitives.serialization.pkcs7", None),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value: Any = None
    if HAS_CRYPTOGRAPHY:
        import importlib

        module_name, attribute = _LAZY[name]
        module = importlib.import_module(module_name)
        value = getattr(module, attribute) if attribute else module
    globals()[name] = value
    return value


# What a module passes to missing_required_lib(), and what the CLI and hooks print: the same words.
CRYPTOGRAPHY_REQUIREMENT = f"cryptography >= {CRYPTOGRAPHY_FLOOR_TEXT}" + (
    f" (found {CRYPTOGRAPHY_VERSION})" if CRYPTOGRAPHY_VERSION else " (not installed)"
)


def requirement_problem(python: str) -> str | None:
    """None when the library is usable; else the sentence the CLI and hooks print (exit 2)."""
    if HAS_CRYPTOGRAPHY:
        return None
    return (
        f"Failed to import the required Python library ({CRYPTOGRAPHY_REQUIREMENT}) on {python}. "
        f"Install a supported version: pip install 'cryptography>={CRYPTOGRAPHY_FLOOR_TEXT}'"
    )


class PasswordRequired(Exception):
    """The private key is encrypted: it needs a passphrase to load."""


# --- feature detection, once at import --------------------------------------------------------------


def _accepts_unsafe_skip() -> bool:
    """cryptography >= 39 can skip the (slow) RSA private-key consistency check; older ones reject the keyword."""
    try:
        serialization.load_der_private_key(b"", password=None, unsafe_skip_rsa_key_validation=True)  # type: ignore[call-arg]
    except TypeError:
        return False  # "unexpected keyword argument": empty input can never be an encrypted key
    except Exception:  # ValueError for the empty input: the keyword was accepted
        return True
    return True  # pragma: no cover - empty input never loads


if HAS_CRYPTOGRAPHY:
    _UNSAFE_SKIP = _accepts_unsafe_skip()
    _HAS_UTC = hasattr(x509.Certificate, "not_valid_before_utc")  # cryptography >= 42
    _HAS_VERIFY_DIRECTLY = hasattr(x509.Certificate, "verify_directly_issued_by")  # cryptography >= 40
else:
    _UNSAFE_SKIP = _HAS_UTC = _HAS_VERIFY_DIRECTLY = False

_UTC = datetime.timezone.utc

# cryptography 35 to 41 keep parsed X.509 fields in Rust cells that one thread at a time may touch: two threads
# reading one certificate get "RuntimeError: Already borrowed" (seen with 8 threads on 35.0.0, 36.0.2, 38.0.4,
# 40.0.2, 41.0.7; never on 3.4.8, 42.0.8, 43.0.3, 50). Where that holds, certificates are made one at a time.
SHARE_ACROSS_THREADS = CRYPTOGRAPHY_VERSION is not None and not ((35,) <= _version_tuple(CRYPTOGRAPHY_VERSION) < (42,))


# --- validity ---------------------------------------------------------------------------------------


def not_valid_before(cert: Any) -> datetime.datetime:
    """notBefore as an aware UTC datetime (older releases give a naive one, in UTC)."""
    if _HAS_UTC:
        return cert.not_valid_before_utc  # type: ignore[no-any-return]
    return cert.not_valid_before.replace(tzinfo=_UTC)  # type: ignore[no-any-return]


def not_valid_after(cert: Any) -> datetime.datetime:
    """notAfter as an aware UTC datetime."""
    if _HAS_UTC:
        return cert.not_valid_after_utc  # type: ignore[no-any-return]
    return cert.not_valid_after.replace(tzinfo=_UTC)  # type: ignore[no-any-return]


# --- private keys ------------------------------------------------------------------------------------


def _password_required(exc: TypeError) -> bool:
    # Only cryptography's "needs a password" TypeError means encrypted; any other TypeError
    # (a keyword an old release lacks, a wrong argument type) must never read as "encrypted".
    text = str(exc).lower()
    return "not given" in text or "password-protected" in text


def _load_private(loader: Callable[..., Any], data: bytes, password: bytes | None) -> Any:
    try:
        if _UNSAFE_SKIP:
            # The key is read, not trusted: consistency of its CRT parameters is not what a check needs,
            # and the full check costs milliseconds per RSA key.
            return loader(data, password=password, unsafe_skip_rsa_key_validation=True)
        return loader(data, password=password)
    except TypeError as exc:
        if _password_required(exc):
            raise PasswordRequired(str(exc)) from None
        raise ValueError(f"cannot load the private key: {exc}") from None


def load_der_private_key(data: bytes, password: bytes | None = None) -> Any:
    """A DER private key (PKCS#8 or traditional). PasswordRequired when it is encrypted and no password is
    given; ValueError or UnsupportedAlgorithm when it cannot be read; TypeError never."""
    return _load_private(serialization.load_der_private_key, data, password)


def load_pem_private_key(data: bytes, password: bytes | None = None) -> Any:
    """A PEM private key; errors as load_der_private_key (a wrong passphrase is a ValueError)."""
    return _load_private(serialization.load_pem_private_key, data, password)


def load_ssh_private_key(data: bytes, password: bytes | None = None) -> Any:
    """An OpenSSH private key; errors as load_der_private_key."""
    try:
        return serialization.load_ssh_private_key(data, password=password)
    except TypeError as exc:
        if _password_required(exc):
            raise PasswordRequired(str(exc)) from None
        raise ValueError(f"cannot load the private key: {exc}") from None


# --- signatures --------------------------------------------------------------------------------------


def is_directly_issued_by(
    cert: Any, issuer: Any, cert_der: bytes | None = None, issuer_der: bytes | None = None, issuer_key: Any = None
) -> bool:
    """True when ``issuer``'s subject is ``cert``'s issuer and ``issuer``'s key verifies ``cert``'s
    signature (RSA PKCS#1 v1.5 and PSS, ECDSA, DSA, Ed25519, Ed448). Never raises.

    With both certificates' DER and the issuer's parsed public key, the common case (RSA PKCS#1 v1.5 with SHA-2,
    the names byte for byte equal) is verified with that key: a third cheaper than parsing the issuer's key anew
    for each certificate it signed (a check verifies every leaf against its chain)."""
    if cert_der is not None and issuer_der is not None and issuer_key is not None:
        verdict = _verify_rsa_pkcs1(cert, cert_der, issuer_der, issuer_key)
        if verdict is not None:
            return verdict
    if _HAS_VERIFY_DIRECTLY:
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            # 40 raises TypeError for a key type it cannot verify with, 41+ ValueError: both are "no".
            return False
        return True
    try:
        return _verify_fallback(cert, issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False


# sha256/384/512WithRSAEncryption: what every cryptography release verifies alike. (Newer releases refuse SHA-1
# and MD5 signatures that older ones verify: those stay with the full verification, whose verdict they had.)
_RSA_PKCS1_SHA2 = frozenset({"1.2.840.113549.1.1.11", "1.2.840.113549.1.1.12", "1.2.840.113549.1.1.13"})


def _verify_rsa_pkcs1(cert: Any, cert_der: bytes, issuer_der: bytes, issuer_key: Any) -> bool | None:
    """``is_directly_issued_by`` for an RSA PKCS#1 v1.5 SHA-2 signature whose issuer and subject names are the
    same bytes; None for anything else (the full verification decides: names may still match when compared as
    names)."""
    if not isinstance(issuer_key, rsa.RSAPublicKey):
        return None
    try:
        if cert.signature_algorithm_oid.dotted_string not in _RSA_PKCS1_SHA2:
            return None
        tbs, issuer_name, _subject = tbs_names(cert_der)
        if issuer_name != tbs_names(issuer_der)[2]:
            return None
        issuer_key.verify(cert.signature, tbs, padding.PKCS1v15(), cert.signature_hash_algorithm)
    except InvalidSignature:
        return False
    except (ValueError, TypeError, IndexError, UnsupportedAlgorithm):
        return None
    return True


# A check reads a certificate's names twice, far apart (cert.issuer as it reads the file, the signature check as
# it pairs the folder), and an issuer's for every certificate it signed: remembered for the last few thousand.
@functools.lru_cache(maxsize=4096)
def tbs_names(cert_der: bytes) -> tuple[bytes, bytes, bytes]:
    """(tbsCertificate, issuer Name, subject Name) of a certificate's DER, each element whole (tag, length and
    content) as the bytes stand there; ValueError or IndexError when the DER is not a certificate's."""
    _tag, start, end = _tlv(cert_der, 0, len(cert_der))  # Certificate: tbsCertificate comes first
    _tag, position, tbs_end = _tlv(cert_der, start, end)
    elements: list[tuple[int, int]] = []  # (start, end) of the TBSCertificate's elements
    while position < tbs_end and len(elements) < 7:
        tag, _content, element_end = _tlv(cert_der, position, tbs_end)
        if tag != 0xA0 or elements:  # [0] version first, when present
            elements.append((position, element_end))
        position = element_end
    if len(elements) < 5:  # serial, signature, issuer, validity, subject
        raise ValueError("not a certificate")
    (issuer_start, issuer_end), (subject_start, subject_end) = elements[2], elements[4]
    return cert_der[start:tbs_end], cert_der[issuer_start:issuer_end], cert_der[subject_start:subject_end]


def _verify_fallback(cert: Any, issuer: Any) -> bool:
    """verify_directly_issued_by for cryptography < 40."""
    if cert.issuer != issuer.subject:
        return False
    key = issuer.public_key()
    oid = cert.signature_algorithm_oid
    signature, data = cert.signature, cert.tbs_certificate_bytes
    family = _SIGNATURE_FAMILY.get(oid.dotted_string)
    if family == "RSA-PSS":
        if not isinstance(key, rsa.RSAPublicKey):
            return False
        digest, mgf_digest, salt = pss_parameters(cert.public_bytes(serialization.Encoding.DER))
        key.verify(signature, data, padding.PSS(mgf=padding.MGF1(mgf_digest), salt_length=salt), digest)
    elif family == "RSA":
        if not isinstance(key, rsa.RSAPublicKey):
            return False
        key.verify(signature, data, padding.PKCS1v15(), cert.signature_hash_algorithm)
    elif family == "EC":
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        key.verify(signature, data, ec.ECDSA(cert.signature_hash_algorithm))
    elif family == "DSA":
        if not isinstance(key, dsa.DSAPublicKey):
            return False
        key.verify(signature, data, cert.signature_hash_algorithm)
    elif family == "Ed25519":
        if not isinstance(key, ed25519.Ed25519PublicKey):
            return False
        key.verify(signature, data)
    elif family == "Ed448":
        if not isinstance(key, ed448.Ed448PublicKey):
            return False
        key.verify(signature, data)
    else:
        return False
    return True


# Signature algorithm OIDs by key family (RFC 3279, 4055, 5758, 8410).
_SIGNATURE_FAMILY = {
    "1.2.840.113549.1.1.4": "RSA",  # md5WithRSAEncryption
    "1.2.840.113549.1.1.5": "RSA",  # sha1WithRSAEncryption
    "1.2.840.113549.1.1.14": "RSA",  # sha224
    "1.2.840.113549.1.1.11": "RSA",  # sha256
    "1.2.840.113549.1.1.12": "RSA",  # sha384
    "1.2.840.113549.1.1.13": "RSA",  # sha512
    "1.2.840.113549.1.1.10": "RSA-PSS",
    "1.2.840.10045.4.1": "EC",  # ecdsa-with-SHA1
    "1.2.840.10045.4.3.1": "EC",
    "1.2.840.10045.4.3.2": "EC",
    "1.2.840.10045.4.3.3": "EC",
    "1.2.840.10045.4.3.4": "EC",
    "1.2.840.10040.4.3": "DSA",  # dsa-with-sha1
    "2.16.840.1.101.3.4.3.1": "DSA",
    "2.16.840.1.101.3.4.3.2": "DSA",
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
}

# --- minimal DER, for RSASSA-PSS parameters (older releases do not expose them) ------------------------

_HASH_OIDS = {
    "1.3.14.3.2.26": "SHA1",
    "2.16.840.1.101.3.4.2.4": "SHA224",
    "2.16.840.1.101.3.4.2.1": "SHA256",
    "2.16.840.1.101.3.4.2.2": "SHA384",
    "2.16.840.1.101.3.4.2.3": "SHA512",
}
_MGF1_OID = "1.2.840.113549.1.1.8"


def _tlv(data: bytes, offset: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at ``offset``; ValueError when malformed."""
    if offset + 2 > end:
        raise ValueError("truncated DER")
    tag, first = data[offset], data[offset + 1]
    offset += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or offset + count > end:
            raise ValueError("bad DER length")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    if offset + length > end:
        raise ValueError("truncated DER")
    return tag, offset, offset + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        element = _tlv(data, start, end)
        out.append(element)
        start = element[2]
    return out


def _oid_text(body: bytes) -> str:
    if not body:
        raise ValueError("empty OID")
    arcs: list[int] = []
    value = 0
    for byte in body:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


def _hash_of(data: bytes, start: int, end: int) -> Any:
    """The hash named by an AlgorithmIdentifier SEQUENCE at data[start:end] (content bounds)."""
    parts = _children(data, start, end)
    if not parts or parts[0][0] != 0x06:
        raise ValueError("bad AlgorithmIdentifier")
    name = _HASH_OIDS.get(_oid_text(data[parts[0][1] : parts[0][2]]))
    if name is None:
        raise UnsupportedAlgorithm("unsupported PSS hash")
    return getattr(hashes, name)()


def pss_parameters(cert_der: bytes) -> tuple[Any, Any, int]:
    """(hash, MGF1 hash, salt length) of an RSASSA-PSS signed certificate, from its DER (RFC 4055 defaults:
    SHA-1, MGF1 with SHA-1, salt 20)."""
    _tag, start, end = _tlv(cert_der, 0, len(cert_der))  # Certificate
    parts = _children(cert_der, start, end)  # tbsCertificate, signatureAlgorithm, signatureValue
    if len(parts) != 3:
        raise ValueError("not a certificate")
    algorithm = _children(cert_der, parts[1][1], parts[1][2])  # OID, RSASSA-PSS-params
    digest: Any = hashes.SHA1()
    mgf_digest: Any = hashes.SHA1()
    salt = 20
    if len(algorithm) > 1 and algorithm[1][0] == 0x30:
        for tag, body_start, body_end in _children(cert_der, algorithm[1][1], algorithm[1][2]):
            inner = _tlv(cert_der, body_start, body_end)  # each field is [n] EXPLICIT
            if tag == 0xA0:  # hashAlgorithm
                digest = _hash_of(cert_der, inner[1], inner[2])
            elif tag == 0xA1:  # maskGenAlgorithm: mgf1 with a hash AlgorithmIdentifier
                mgf = _children(cert_der, inner[1], inner[2])
                if len(mgf) < 2 or _oid_text(cert_der[mgf[0][1] : mgf[0][2]]) != _MGF1_OID:
                    raise UnsupportedAlgorithm("unsupported PSS mask generation")
                mgf_digest = _hash_of(cert_der, mgf[1][1], mgf[1][2])
            elif tag == 0xA2:  # saltLength
                salt = int.from_bytes(cert_der[inner[1] : inner[2]], "big")
    return digest, mgf_digest, salt


__all__ = [
    "CRYPTOGRAPHY_FLOOR_TEXT",
    "CRYPTOGRAPHY_IMPORT_ERROR",
    "CRYPTOGRAPHY_REQUIREMENT",
    "CRYPTOGRAPHY_VERSION",
    "HAS_CRYPTOGRAPHY",
    "SHARE_ACROSS_THREADS",
    "Cipher",
    "ExtendedKeyUsageOID",
    "ExtensionOID",
    "InvalidSignature",
    "NameOID",
    "PasswordRequired",
    "UnsupportedAlgorithm",
    "algorithms",
    "dsa",
    "ec",
    "ed448",
    "ed25519",
    "hashes",
    "is_directly_issued_by",
    "load_der_private_key",
    "load_pem_private_key",
    "load_ssh_private_key",
    "modes",
    "not_valid_after",
    "not_valid_before",
    "padding",
    "pkcs7",
    "pss_parameters",
    "requirement_problem",
    "rsa",
    "serialization",
    "tbs_names",
    "x509",
]
