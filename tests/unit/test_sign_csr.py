"""Signing a request (enrolment): the certificate gets the request's names and key; an existing fitting one is kept."""

from __future__ import annotations

import datetime

import pytest
from certhygiene import issue
from certhygiene.policy import load_policy
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID
from support.pki import key

SEED = load_policy("seed", discover=False)


@pytest.fixture(scope="module")
def ca() -> issue.Issuer:
    spec = issue.make_spec("ca", subject={"CN": "Client CA"})
    private = key("rsa", 2048, 40)
    cert = issue.build_certificate(spec, private, None)
    return issue.Issuer(cert, private, "client-ca.crt")


def request(cn: str = "device-1", slot: int = 41, kind: str = "client") -> bytes:
    spec = issue.make_spec(kind, subject={"O": "Fleet", "CN": cn})
    return issue.build_csr(spec, key("rsa", 2048, slot)).public_bytes(serialization.Encoding.PEM)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def test_signs_the_request_as_a_client_certificate(ca: issue.Issuer) -> None:
    signed = issue.sign_csr(request(), "device-1.csr", ca, policy=SEED)
    cert = signed.certificate
    assert signed.changed and signed.changes == ["no certificate yet: sign the request"]
    assert cert.subject.rfc4514_string() == "CN=device-1,O=Fleet"
    assert cert.issuer == ca.certificate.subject
    eku = cert.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.public_key().public_numbers() == key("rsa", 2048, 41).public_key().public_numbers()


def test_a_fitting_certificate_is_kept_and_a_due_one_renewed(ca: issue.Issuer) -> None:
    first = issue.sign_csr(request(), "csr", ca, policy=SEED)
    again = issue.sign_csr(request(), "csr", ca, existing=pem(first.certificate), policy=SEED)
    assert not again.changed and again.certificate.serial_number == first.certificate.serial_number
    due = issue.sign_csr(request(), "csr", ca, existing=pem(first.certificate), renew_before_days=900, policy=SEED)
    assert due.changed and "fewer than 900" in due.changes[0]
    other_key = issue.sign_csr(request(slot=42), "csr", ca, existing=pem(first.certificate), policy=SEED)
    assert other_key.changed and "the certificate does not carry the request's key" in other_key.changes
    check = issue.sign_csr(request(slot=42), "csr", ca, existing=pem(first.certificate), policy=SEED, check_mode=True)
    assert check.changed and check.certificate.serial_number == first.certificate.serial_number


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a request", "no readable certificate signing request"),
        (b"", "no readable certificate signing request"),
    ],
)
def test_bad_requests_say_what_is_wrong(ca: issue.Issuer, data: bytes, message: str) -> None:
    with pytest.raises(issue.IssueError, match=message):
        issue.sign_csr(data, "device.csr", ca)


def test_a_tampered_request_is_refused(ca: issue.Issuer) -> None:
    csr = x509.load_pem_x509_csr(request())
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0xFF  # inside the signature
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(issue.IssueError, match="signature does not verify"):
        issue.sign_csr(tampered, "device.csr", ca)


def test_a_key_the_policy_refuses_is_not_signed(ca: issue.Issuer) -> None:
    spec = issue.make_spec("client", subject={"CN": "device-ec"}, key_type="ec")
    csr = issue.build_csr(spec, key("ec", 256, 1)).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(issue.IssueError, match="not allowed by policy 'seed'"):
        issue.sign_csr(csr, "device.csr", ca, policy=SEED)


def test_the_certificate_never_outlives_the_ca(ca: issue.Issuer) -> None:
    signed = issue.sign_csr(request(), "csr", ca, days=20000)
    assert signed.certificate.not_valid_after_utc <= ca.certificate.not_valid_after_utc
    assert signed.certificate.not_valid_after_utc > datetime.datetime.now(datetime.timezone.utc)
