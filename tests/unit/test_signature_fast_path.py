"""The common signature case verified with the issuer's parsed key (`_crypto._verify_rsa_pkcs1`) gives the verdict of
the full verification in every case, and hands over whatever it does not cover (issue 13's speed work)."""

from __future__ import annotations

from typing import Any

import pytest
from certhygiene._crypto import _verify_rsa_pkcs1, is_directly_issued_by, tbs_names
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from support.pki import issue, issue_pss, key, three_level


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def full(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """The reference: cryptography's own verification, without the fast path."""
    return is_directly_issued_by(cert, issuer)


def fast(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    return is_directly_issued_by(cert, issuer, der(cert), der(issuer), issuer.public_key())


def test_tbs_and_names_are_the_certificates_own_bytes() -> None:
    pki = three_level("names.example.com")
    for cert in (pki.root.cert, pki.intermediate.cert, pki.leaf.cert):
        tbs, issuer, subject = tbs_names(der(cert))
        assert tbs == cert.tbs_certificate_bytes
        assert issuer == cert.issuer.public_bytes()
        assert subject == cert.subject.public_bytes()


def _cases() -> list[tuple[str, Any, Any, bool, bool | None]]:
    """(case, certificate, issuer, verdict, what the fast path says: None when it hands over)."""
    pki = three_level("fast.example.com")
    other_key = key("rsa", 2048, 81)
    # the intermediate's name, another key: the names agree, the signature does not
    impostor = issue("impostor", private_key=other_key, ca=True, subject=pki.intermediate.cert.subject)
    # the issuer's name written as UTF8String instead of PrintableString: equal as names, not as bytes
    utf8 = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certhygiene tests", _type=x509.name._ASN1Type.UTF8String),
            x509.NameAttribute(NameOID.COMMON_NAME, "fast.example.com CA", _type=x509.name._ASN1Type.UTF8String),
        ]
    )
    issuer = issue("fast.example.com CA", ca=True, subject=utf8, private_key=key("rsa", 2048, 82))
    printable = x509.Name(
        [
            x509.NameAttribute(
                NameOID.ORGANIZATION_NAME, "certhygiene tests", _type=x509.name._ASN1Type.PrintableString
            ),
            x509.NameAttribute(NameOID.COMMON_NAME, "fast.example.com CA", _type=x509.name._ASN1Type.PrintableString),
        ]
    )
    spelled_otherwise = issue(
        "leaf.fast.example.com", issuer=issuer, issuer_name=printable, dns=("leaf.fast.example.com",)
    )
    ec_ca = issue("ec ca", ca=True, private_key=key("ec", 256, 83))
    ec_leaf = issue("ec.example.com", issuer=ec_ca, dns=("ec.example.com",))
    return [
        ("leaf by its intermediate", pki.leaf.cert, pki.intermediate.cert, True, True),
        ("intermediate by its root", pki.intermediate.cert, pki.root.cert, True, True),
        ("root by itself", pki.root.cert, pki.root.cert, True, True),
        ("leaf by the root (names differ)", pki.leaf.cert, pki.root.cert, False, None),
        ("same name, another key", pki.leaf.cert, impostor.cert, False, False),
        (
            "names equal, bytes not",
            spelled_otherwise.cert,
            issuer.cert,
            full(spelled_otherwise.cert, issuer.cert),
            None,
        ),
        ("ECDSA", ec_leaf.cert, ec_ca.cert, True, None),
        ("RSA issuer, ECDSA-signed leaf", ec_leaf.cert, pki.intermediate.cert, False, None),
        (
            "SHA-384 RSA",
            issue("sha384.example.com", issuer=pki.intermediate, hash_algorithm=hashes.SHA384()).cert,
            pki.intermediate.cert,
            True,
            True,
        ),
    ]


@pytest.mark.parametrize("case", _cases(), ids=lambda case: case[0])
def test_the_fast_path_agrees_with_the_full_verification(case: tuple[str, Any, Any, bool, bool | None]) -> None:
    _label, cert, issuer, verdict, fast_says = case
    assert full(cert, issuer) is verdict
    assert fast(cert, issuer) is verdict
    assert _verify_rsa_pkcs1(cert, der(cert), der(issuer), issuer.public_key()) is fast_says


def test_rsa_pss_is_handed_over() -> None:
    pki = three_level("pss.example.com")
    leaf = issue_pss("pss.example.com", issuer=pki.intermediate).cert
    assert _verify_rsa_pkcs1(leaf, der(leaf), der(pki.intermediate.cert), pki.intermediate.key.public_key()) is None
    assert fast(leaf, pki.intermediate.cert) is full(leaf, pki.intermediate.cert) is True


def test_garbage_der_is_handed_over_not_raised() -> None:
    pki = three_level("garbage.example.com")
    public = pki.intermediate.key.public_key()
    for broken in (b"", b"\x30\x03\x02\x01", der(pki.leaf.cert)[:40]):
        assert _verify_rsa_pkcs1(pki.leaf.cert, broken, der(pki.intermediate.cert), public) is None


def _foreign_certificates() -> list[Any]:
    """Certificates nobody here made: the machine's CA store, certifi's bundle, cryptography-vectors' x509 PEM
    files (RSA, PSS, ECDSA, DSA, odd names, odd encodings)."""
    import glob
    import os
    import re

    paths = ["/etc/ssl/certs/ca-certificates.crt"]
    try:  # the test environment has both; the cryptography matrix's environments carry pytest alone
        import certifi
        import cryptography_vectors
    except ImportError:
        pass
    else:
        vectors = os.path.join(os.path.dirname(cryptography_vectors.__file__), "x509")
        paths += [certifi.where(), *sorted(glob.glob(os.path.join(vectors, "**", "*.pem"), recursive=True))]
    found: dict[bytes, Any] = {}
    for path in paths:
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as handle:
            data = handle.read()
        # one block at a time (load_pem_x509_certificates is cryptography 39+)
        for block in re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", data, re.S):
            try:
                cert = x509.load_pem_x509_certificate(block)
                found.setdefault(der(cert), cert)
            except Exception:  # noqa: S112 - a vector that cryptography refuses is no pair to compare
                continue
    return list(found.values())


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning", "ignore::UserWarning")
def test_foreign_certificates_get_the_same_verdicts() -> None:
    """Every certificate against itself and against every certificate whose subject is its issuer (the pairs a
    chain check asks about), by both paths."""
    certs = _foreign_certificates()
    assert len(certs) > 100  # the stores are there: the test is about something
    by_subject: dict[bytes, list[Any]] = {}
    for cert in certs:
        try:
            by_subject.setdefault(cert.subject.public_bytes(), []).append(cert)
        except ValueError:
            continue
    pairs = 0
    fast_answers = 0
    for cert in certs:
        try:
            issuer_name = cert.issuer.public_bytes()
        except ValueError:
            continue
        for issuer in [cert, *by_subject.get(issuer_name, [])]:
            try:
                issuer_der, issuer_key = der(issuer), issuer.public_key()
            except (ValueError, UnsupportedAlgorithm):
                continue
            verdict = full(cert, issuer)
            assert is_directly_issued_by(cert, issuer, der(cert), issuer_der, issuer_key) is verdict
            fast_answers += _verify_rsa_pkcs1(cert, der(cert), issuer_der, issuer_key) is not None
            pairs += 1
    assert pairs > len(certs) and fast_answers > 100  # most pairs took the fast path: it was tested
