"""_crypto, the compatibility unit: its fallbacks give the verdicts of the native paths.

These run with the newest cryptography in ``make unit`` and, through the version matrix
(tests/integration/test_crypto_matrix.py), under every supported release: there the fallbacks are
the code that runs, judged against the openssl CLI where the release has no native path.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from certhygiene import _crypto
from certhygiene.material import read_bytes
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa
from support.pki import Issued, issue, issue_pss, key, key_pem, not_after, not_before, verify_issued


def reference_verdict(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """The native check where the release has one, else the openssl CLI."""
    try:
        verify_issued(cert, issuer)
    except Exception:
        return False
    return True


@pytest.fixture(scope="module")
def roots() -> dict[str, Issued]:
    dsa_key = dsa.generate_private_key(key_size=2048)
    return {
        "rsa": issue("Compat RSA CA", private_key=key("rsa", 2048, 70), ca=True),
        "ec": issue("Compat EC CA", private_key=key("ec", 384, 71), ca=True),
        "ed25519": issue("Compat Ed CA", private_key=key("ed25519", 0, 72), ca=True),
        "dsa": issue("Compat DSA CA", private_key=dsa_key, ca=True),
    }


def pairs(roots: dict[str, Issued]) -> list[tuple[str, x509.Certificate, x509.Certificate, bool]]:
    """(case, certificate, candidate issuer, expected verdict)."""
    rsa_ca, ec_ca, ed_ca, dsa_ca = roots["rsa"], roots["ec"], roots["ed25519"], roots["dsa"]
    leaf_key = key("rsa", 2048, 73)
    # the same subject as the RSA CA with another key: the name matches, the signature must not
    impostor = issue("Compat RSA CA", private_key=key("rsa", 2048, 74), ca=True)
    # the same subject as the RSA CA with an EC key: a key-type mismatch must be a plain "no"
    ec_impostor = issue("Compat RSA CA", private_key=key("ec", 256, 75), ca=True)
    rsa_leaf = issue("rsa.example.com", issuer=rsa_ca, private_key=leaf_key, dns=("rsa.example.com",))
    sha384_leaf = issue("sha1.example.com", issuer=rsa_ca, private_key=leaf_key, hash_algorithm=hashes.SHA384())
    pss_leaf = issue_pss("pss.example.com", issuer=rsa_ca, private_key=leaf_key, dns=("pss.example.com",))
    ec_leaf = issue("ec.example.com", issuer=ec_ca, private_key=key("ec", 256, 76))
    ed_leaf = issue("ed.example.com", issuer=ed_ca, private_key=key("ed25519", 0, 77))
    dsa_leaf = issue("dsa.example.com", issuer=dsa_ca, private_key=leaf_key)
    return [
        ("rsa pkcs1v15", rsa_leaf.cert, rsa_ca.cert, True),
        ("rsa sha384", sha384_leaf.cert, rsa_ca.cert, True),
        ("rsa pss", pss_leaf.cert, rsa_ca.cert, True),
        ("ecdsa", ec_leaf.cert, ec_ca.cert, True),
        ("ed25519", ed_leaf.cert, ed_ca.cert, True),
        ("dsa", dsa_leaf.cert, dsa_ca.cert, True),
        ("self-signed rsa", rsa_ca.cert, rsa_ca.cert, True),
        ("self-signed ed25519", ed_ca.cert, ed_ca.cert, True),
        ("same name, other key", rsa_leaf.cert, impostor.cert, False),
        ("pss, same name, other key", pss_leaf.cert, impostor.cert, False),
        ("same name, EC key under RSA signature", rsa_leaf.cert, ec_impostor.cert, False),
        ("other name", ec_leaf.cert, rsa_ca.cert, False),
        ("ed25519 under EC CA", ed_leaf.cert, ec_ca.cert, False),
    ]


def test_fallback_verify_agrees_with_the_native_path(roots: dict[str, Issued]) -> None:
    for case, cert, issuer, expected in pairs(roots):
        assert reference_verdict(cert, issuer) is expected, case
        assert _crypto.is_directly_issued_by(cert, issuer) is expected, case
        try:
            fallback = _crypto._verify_fallback(cert, issuer)
        except Exception:  # what is_directly_issued_by turns into False
            fallback = False
        assert fallback is expected, case


def test_a_tampered_signature_fails_both_ways(roots: dict[str, Issued]) -> None:
    leaf = issue("tamper.example.com", issuer=roots["rsa"], private_key=key("rsa", 2048, 73))
    der = bytearray(leaf.cert.public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature value
    tampered = x509.load_der_x509_certificate(bytes(der))
    assert reference_verdict(tampered, roots["rsa"].cert) is False
    assert _crypto.is_directly_issued_by(tampered, roots["rsa"].cert) is False


def test_pss_parameters_are_read_from_the_certificate(roots: dict[str, Issued]) -> None:
    pss = issue_pss("pss.example.com", issuer=roots["rsa"], private_key=key("rsa", 2048, 73))
    digest, mgf_digest, salt = _crypto.pss_parameters(pss.cert.public_bytes(serialization.Encoding.DER))
    assert (digest.name, mgf_digest.name, salt) == ("sha256", "sha256", 32)


@pytest.mark.parametrize("garbage", [b"", b"\x30", b"\x30\x82\xff\xff\x00", b"\x30\x03\x02\x01\x00"])
def test_pss_parameters_of_garbage_are_a_value_error(garbage: bytes) -> None:
    with pytest.raises(ValueError):
        _crypto.pss_parameters(garbage)


@pytest.mark.parametrize("fmt", ["pkcs1", "pkcs8"])
def test_a_plain_rsa_key_is_never_called_encrypted(fmt: str, tmp_path: Path) -> None:
    """The issue's false finding: an unknown keyword's TypeError was taken for "needs a password"."""
    plain = key_pem(key("rsa", 2048, 78), fmt)
    block = read_bytes(plain, "server.key").private_keys[0]
    assert block.encrypted is False and block.private_key is not None
    der = key("rsa", 2048, 78).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert _crypto.load_der_private_key(der).key_size == 2048
    material = read_bytes(der, "server.der")
    assert material.blocks[0].kind == "private_key" and material.blocks[0].encrypted is False


def test_an_encrypted_key_needs_a_password_and_a_wrong_one_is_a_value_error() -> None:
    encrypted = key_pem(key("rsa", 2048, 78), "pkcs8", b"secret")
    with pytest.raises(_crypto.PasswordRequired):
        _crypto.load_pem_private_key(encrypted)
    with pytest.raises(ValueError):
        _crypto.load_pem_private_key(encrypted, b"wrong")
    assert _crypto.load_pem_private_key(encrypted, b"secret").key_size == 2048
    block = read_bytes(encrypted, "server.key").private_keys[0]
    assert block.encrypted is True and block.private_key is None


def test_a_garbage_key_is_a_value_error_not_a_type_error() -> None:
    with pytest.raises((ValueError, _crypto.UnsupportedAlgorithm)):
        _crypto.load_der_private_key(b"\x30\x03\x02\x01\x00")


def test_validity_is_aware_utc(roots: dict[str, Issued]) -> None:
    start = datetime.datetime(2024, 2, 29, 12, 0, 0, tzinfo=datetime.timezone.utc)
    end = datetime.datetime(2034, 2, 28, 12, 0, 0, tzinfo=datetime.timezone.utc)
    cert = issue("dates.example.com", issuer=roots["rsa"], not_before=start, not_after=end).cert
    assert _crypto.not_valid_before(cert) == start == not_before(cert)
    assert _crypto.not_valid_after(cert) == end == not_after(cert)
    assert _crypto.not_valid_after(cert).tzinfo is not None


def test_the_installed_version_meets_the_floor_and_says_so() -> None:
    assert _crypto.HAS_CRYPTOGRAPHY
    assert _crypto.requirement_problem("python") is None
    assert _crypto.CRYPTOGRAPHY_REQUIREMENT == f"cryptography >= 3.4.8 (found {_crypto.CRYPTOGRAPHY_VERSION})"
    assert _crypto._version_tuple("3.4.8") == (3, 4, 8) < _crypto._version_tuple("36.0.2")
    assert _crypto._version_tuple("2.9") < _crypto.CRYPTOGRAPHY_FLOOR


def test_many_certificates_from_one_issuer(tmp_path: Path) -> None:
    """client_certificates makes several certificates from one CA. On cryptography 35-41 two threads reading
    one certificate raise "Already borrowed" (a real failure on Debian 12's 38.0.4): they are made one at a time."""
    from certhygiene import issue
    from certhygiene.policy import load_policy

    policy = load_policy(profile="seed")
    ca_key = key("rsa", 2048, 79)
    (tmp_path / "ca.key").write_bytes(key_pem(ca_key, "pkcs1"))
    ca_spec = issue.make_spec("ca", subject={"CN": "Threads CA"})
    issue.manage(issue.Target(ca_spec, str(tmp_path / "ca.key"), str(tmp_path / "ca.crt")), policy=policy)
    ca = issue.load_issuer((tmp_path / "ca.crt").read_bytes(), "ca.crt", (tmp_path / "ca.key").read_bytes(), "ca.key")
    for round_ in range(3):
        folder = tmp_path / f"round{round_}"
        folder.mkdir()
        targets = [
            issue.Target(
                issue.make_spec("client", subject={"CN": f"device-{n}"}, key_size=1024),
                str(folder / f"device-{n}.key"),
                str(folder / f"device-{n}.crt"),
                name=f"device-{n}",
            )
            for n in range(8)
        ]
        outcomes, _how = issue.manage_many(targets, issuer=ca, policy=policy, parallel="thread")
        assert all(o.changed for o in outcomes)
        for n in range(8):
            cert = x509.load_pem_x509_certificate((folder / f"device-{n}.crt").read_bytes())
            assert reference_verdict(cert, ca.certificate), n


def test_threads_share_certificates_only_where_the_library_allows(roots: dict[str, Issued]) -> None:
    """The flag behind the choice above, checked against the installed release: where the engine lets threads
    share a certificate, concurrent reads of it never fail."""
    import threading

    cert = issue("shared.example.com", issuer=roots["rsa"], private_key=key("rsa", 2048, 73), dns=("a.example",)).cert
    errors: list[str] = []

    def read() -> None:
        for _round in range(300):
            try:
                list(cert.extensions)
                cert.subject  # noqa: B018 - the read is the point
                cert.public_key()
                cert.signature_hash_algorithm  # noqa: B018
            except RuntimeError as exc:
                errors.append(str(exc))

    threads = [threading.Thread(target=read) for _thread in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if _crypto.SHARE_ACROSS_THREADS:
        assert errors == []
