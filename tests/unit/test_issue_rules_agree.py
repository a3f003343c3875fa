"""Issuing and checking decide with one implementation: a certificate issuing refuses to make is one the rule
catalog rejects once made, with the same rule id and the same words; one the rules accept is issued."""

from __future__ import annotations

import datetime
import re

import pytest
from certhygiene import issue
from certhygiene.check import check_material
from certhygiene.facts import cert_label
from certhygiene.policy import Policy, load_policy
from cryptography.hazmat.primitives import serialization
from support.pki import key

SEED = load_policy("seed", discover=False)
CLOUD = load_policy("emqx-cloud", discover=False)
STRICT = load_policy("strict", discover=False)
# Certificates carry whole seconds: a plan made at a fractional moment would round differently from the check.
NOW = issue.utcnow().replace(microsecond=0)


def pem(cert: object) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def ca() -> issue.Issuer:
    spec = issue.make_spec("ca", subject={"O": "Fleet", "CN": "Fleet CA"})
    private = key("rsa", 2048, 70)
    return issue.Issuer(issue.build_certificate(spec, private, None, NOW), private, "ca.crt")


def rule_messages(cert: object, ca: issue.Issuer, policy: Policy, rule_id: str) -> list[str]:
    """What the rule says of ``cert`` (signed by ``ca``) in a check with this policy."""
    report = check_material(certificate=pem(cert), chain=pem(ca.certificate), policy=policy, now=NOW)
    return [f.message for f in report.findings if f.rule_id == rule_id]


def refusal_problem(refusal: issue.PolicyRefusal) -> str:
    """The rule's words after the planned certificate's name."""
    match = re.fullmatch(r"the planned \w+ certificate '[^']*' (.*)", refusal.rule_message)
    assert match, refusal.rule_message
    return match.group(1)


def assert_same_verdict(refusal: issue.PolicyRefusal, cert: object, ca: issue.Issuer, policy: Policy) -> None:
    said = rule_messages(cert, ca, policy, refusal.rule_id)
    assert said == [f"{cert_label(cert)} {refusal_problem(refusal)}"]
    assert f"[{refusal.rule_id}: {refusal.rule_message}]" in str(refusal)


def csr(cn: str, slot: int, sans: tuple[str, ...] = ()) -> bytes:
    spec = issue.make_spec("client", subject={"CN": cn}, subject_alt_names=list(sans))
    return issue.build_csr(spec, key("rsa", 2048, slot)).public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(
    ("options", "made_with", "policy", "rule_id", "old_words"),
    [
        (
            {"key_type": "rsa", "key_size": 1024},
            ("rsa", 1024, 71),
            STRICT,
            "key.algorithm",
            "RSA_1024 is not allowed by policy 'strict'",
        ),
        (
            {"days": 90},
            ("rsa", 2048, 73),
            SEED,
            "cert.validity",
            "fewer than the 180 days of validity that policy 'seed'",
        ),
    ],
)
def test_refused_as_the_rule_rejects(
    ca: issue.Issuer, options: dict, made_with: tuple, policy: Policy, rule_id: str, old_words: str
) -> None:
    spec = issue.make_spec("server", subject={"CN": "mqtt.example.com"}, **options)
    with pytest.raises(issue.PolicyRefusal) as caught:
        issue.check_policy(spec, policy, ca, NOW)
    assert caught.value.rule_id == rule_id
    assert old_words in str(caught.value)
    assert_same_verdict(caught.value, issue.build_certificate(spec, key(*made_with), ca, NOW), ca, policy)


def test_chain_algorithm(ca: issue.Issuer) -> None:
    spec = issue.make_spec("server", subject={"CN": "mqtt.example.com"}, key_type="ec")
    with pytest.raises(issue.PolicyRefusal) as caught:
        issue.check_policy(spec, CLOUD, ca, NOW)
    assert caught.value.rule_id == "chain.algorithm"
    cert = issue.build_certificate(spec, key("ec", 256, 72), ca, NOW)
    problem = refusal_problem(caught.value)
    # The rule names the signing CA where it found it (its line in the chain file); the words before are the same.
    assert problem.startswith(f"has a EC key but its signing CA {cert_label(ca.certificate)}")
    (said,) = rule_messages(cert, ca, CLOUD, "chain.algorithm")
    assert said.startswith(f"{cert_label(cert)} {problem[: -len(' has a RSA key')]}") and said.endswith("has a RSA key")


def test_identity_without_any_host_name(ca: issue.Issuer) -> None:
    with pytest.raises(issue.PolicyRefusal) as caught:
        issue.sign_csr(csr("intranet", 74, ("localhost",)), "intranet.csr", ca, kind="server", policy=SEED, now=NOW)
    assert caught.value.rule_id == "cert.identity"
    assert "given: DNS:localhost" in str(caught.value)
    unchecked = issue.sign_csr(csr("intranet", 74, ("localhost",)), "intranet.csr", ca, kind="server", now=NOW)
    assert_same_verdict(caught.value, unchecked.certificate, ca, SEED)


def test_identity_from_the_cn_follows_the_policy(ca: issue.Issuer) -> None:
    """A request naming its host only in the CN: the seed (identity_from_cn) accepts it, as its rule does;
    strict refuses it, as its rule does."""
    request = csr("mqtt.example.com", 75)
    signed = issue.sign_csr(request, "mqtt.csr", ca, kind="server", policy=SEED, now=NOW)
    assert signed.changed and signed.summary["subject_alt_names"] == []
    assert rule_messages(signed.certificate, ca, SEED, "cert.identity") == []
    with pytest.raises(issue.PolicyRefusal) as caught:
        issue.sign_csr(request, "mqtt.csr", ca, kind="server", policy=STRICT, now=NOW)
    assert caught.value.rule_id == "cert.identity"
    assert "in its subjectAltName (subjectAltName: none; CN: mqtt.example.com)" in caught.value.rule_message
    assert_same_verdict(caught.value, signed.certificate, ca, STRICT)


def test_a_rule_the_policy_turns_off_or_down_does_not_refuse(ca: issue.Issuer) -> None:
    spec = issue.make_spec("server", subject={"CN": "mqtt.example.com"}, days=90)
    for policy in (
        Policy(profile="seed", disabled=frozenset({"cert.validity"})),
        Policy(profile="seed", severity={"cert.validity": "warning"}),
    ):
        issue.check_policy(spec, policy, ca, NOW)
    assert NOW.tzinfo == datetime.timezone.utc
