"""The rule catalog: every rule has a failing and a passing fixture, on material and on files in a repository."""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from certhygiene.check import check_material, check_paths
from certhygiene.findings import ERROR, WARNING
from certhygiene.policy import load_policy
from certhygiene.rules import RULES
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from support.pki import NOW, Issued, issue, key, key_pem, name, pem, three_level

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "tls-ssl-configuration.txt"
CATALOG = (
    "pem.encoding",
    "key.encrypted",
    "key.plaintext",
    "key.algorithm",
    "key.weak",
    "cert.version",
    "cert.identity",
    "cert.issuer",
    "cert.validity",
    "chain.required",
    "chain.leaf",
    "chain.order",
    "chain.algorithm",
    "pair.mismatch",
    "bundle.multiple",
    "client_ca.invalid",
)
SEED_POLICY = load_policy("seed", discover=False)
EMQX = load_policy("emqx-cloud", discover=False)
STRICT = load_policy("strict", discover=False)


def ids(report: Any) -> set[str]:
    return {f.rule_id for f in report.findings}


# ------------------------------------------------------------------ fixtures (made by the tests)


@pytest.fixture(scope="module")
def pki() -> dict[str, Any]:
    chain = three_level()
    client_ca = issue("Client CA", private_key=key("rsa", 2048, 20), ca=True)
    other_root = issue("Other Root CA", private_key=key("rsa", 2048, 21), ca=True)
    other_intermediate = issue("Other Intermediate CA", issuer=other_root, private_key=key("rsa", 2048, 22), ca=True)
    return {"three": chain, "client_ca": client_ca, "other": (other_intermediate, other_root)}


def good(pki: dict[str, Any]) -> dict[str, Any]:
    """A clean two-way configuration: every rule passes on it."""
    three = pki["three"]
    return {
        "certificate": three.leaf.cert_pem,
        "chain": pem(three.intermediate, three.root),
        "private_key": key_pem(three.leaf.key, "pkcs1"),
        "client_ca": pki["client_ca"].cert_pem,
        "auth_type": "two-way",
        "policy": SEED_POLICY,
    }


def der(issued: Issued) -> bytes:
    return issued.cert.public_bytes(serialization.Encoding.DER)


def signed_by_intermediate(pki: dict[str, Any], **kwargs: Any) -> Issued:
    three = pki["three"]
    kwargs.setdefault("dns", ("mqtt.example.com",))
    kwargs.setdefault("private_key", three.leaf.key)
    return issue(kwargs.pop("cn", "mqtt.example.com"), issuer=three.intermediate, **kwargs)


@pytest.fixture(scope="module")
def v1_leaf(pki: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """An X.509 v1 server certificate: `openssl x509 -req` without extensions (OpenSSL 3 writes v1)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is needed to make a v1 certificate")
    three = pki["three"]
    work = tmp_path_factory.mktemp("v1")
    (work / "ca.crt").write_bytes(three.intermediate.cert_pem)
    (work / "ca.key").write_bytes(key_pem(three.intermediate.key))
    (work / "leaf.key").write_bytes(key_pem(three.leaf.key))
    run = {"cwd": work, "capture_output": True}
    subprocess.run(
        ["openssl", "req", "-new", "-key", "leaf.key", "-subj", "/CN=mqtt.example.com", "-out", "l.csr"],
        check=True,
        **run,
    )
    subprocess.run(
        [
            "openssl",
            "x509",
            "-req",
            "-days",
            "3650",
            "-in",
            "l.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.crt",
        ],
        check=True,
        **run,
    )
    return (work / "leaf.crt").read_bytes()


# ------------------------------------------------------------------ the catalog itself


def _normal(text: str) -> str:
    return " ".join(text.replace("\u2022", " ").replace("\u2013", "-").split())


def test_catalog_holds_every_seed_rule() -> None:
    assert tuple(RULES) == CATALOG


@pytest.mark.parametrize("rule_id", CATALOG)
def test_rule_metadata(rule_id: str) -> None:
    rule = RULES[rule_id]
    assert rule.id == rule_id
    assert rule.severity in (ERROR, WARNING)
    assert rule.title and rule.hint and rule.description
    assert 0.0 <= float(rule.security_severity) <= 10.0
    assert re.fullmatch(r"[A-Z][A-Za-z]+", rule.name) and rule.name != rule.id
    assert rule.help_uri.startswith("https://")
    if SEED.exists():
        assert _normal(rule.citation) in _normal(SEED.read_text(encoding="utf-8")), "the citation quotes the seed"


def test_hints_name_the_fix() -> None:
    assert "certhygiene split" in RULES["bundle.multiple"].hint
    assert "certhygiene complete" in RULES["chain.required"].hint
    assert "openssl pkey -in KEY -out KEY.plain" in RULES["key.encrypted"].hint
    assert RULES["key.weak"].severity == WARNING
    assert all(RULES[r].severity == ERROR for r in CATALOG if r != "key.weak")


def test_the_clean_configuration_passes(pki: dict[str, Any]) -> None:
    report = check_material(**good(pki))
    assert report.findings == []
    assert not report.failed()
    assert report.facts["subject_alt_names"] == ["DNS:mqtt.example.com"]


# ------------------------------------------------------------------ each rule: failing and passing material


def _pkcs12(pki: dict[str, Any]) -> bytes:
    three = pki["three"]
    return pkcs12.serialize_key_and_certificates(
        b"server", three.leaf.key, three.leaf.cert, [three.intermediate.cert], serialization.NoEncryption()
    )


def _broken_base64(pki: dict[str, Any]) -> bytes:
    text = pki["three"].leaf.cert_pem.decode()
    lines = text.splitlines()
    lines[3] = lines[3][:10] + "!!" + lines[3][12:]
    return ("\n".join(lines) + "\n").encode()


# (rule, change to the clean configuration that fails it, policy or None)
FAILING: list[tuple[str, str, Any]] = [
    ("pem.encoding", "der certificate", lambda p: {"certificate": der(p["three"].leaf)}),
    ("pem.encoding", "pkcs12", lambda p: {"certificate": _pkcs12(p)}),
    ("pem.encoding", "plain text", lambda p: {"chain": b"see the vendor's e-mail\n"}),
    (
        "pem.encoding",
        "BEGIN/END mismatch",
        lambda p: {"certificate": p["three"].leaf.cert_pem.replace(b"END CERTIFICATE", b"END X509 CRL")},
    ),
    ("pem.encoding", "broken base64", lambda p: {"certificate": _broken_base64(p)}),
    (
        "pem.encoding",
        "text between blocks",
        lambda p: {"chain": pem(p["three"].intermediate) + b"root:\n" + pem(p["three"].root)},
    ),
    ("pem.encoding", "key in the certificate field", lambda p: {"certificate": key_pem(p["three"].leaf.key)}),
    ("pem.encoding", "openssh key format", lambda p: {"private_key": key_pem(p["three"].leaf.key, "openssh")}),
    ("pem.encoding", "vault content", lambda p: {"private_key": b"$ANSIBLE_VAULT;1.1;AES256\n6162\n"}),
    ("key.encrypted", "pkcs8 encrypted", lambda p: {"private_key": key_pem(p["three"].leaf.key, "pkcs8", b"secret")}),
    ("key.encrypted", "legacy Proc-Type", lambda p: {"private_key": key_pem(p["three"].leaf.key, "pkcs1", b"secret")}),
    (
        "key.algorithm",
        "rsa 4096 key and certificate",
        lambda p: {
            "certificate": signed_by_intermediate(p, private_key=key("rsa", 4096)).cert_pem,
            "private_key": key_pem(key("rsa", 4096)),
        },
    ),
    (
        "key.algorithm",
        "ec key under seed",
        lambda p: {
            "certificate": signed_by_intermediate(p, private_key=key("ec", 256)).cert_pem,
            "private_key": key_pem(key("ec", 256)),
        },
    ),
    (
        "key.weak",
        "rsa 1024",
        lambda p: {
            "certificate": signed_by_intermediate(p, private_key=key("rsa", 1024)).cert_pem,
            "private_key": key_pem(key("rsa", 1024)),
        },
    ),
    (
        "cert.identity",
        "no SAN, CN not an FQDN",
        lambda p: {"certificate": signed_by_intermediate(p, cn="server", dns=()).cert_pem},
    ),
    (
        "cert.identity",
        "SAN placeholder left in",
        lambda p: {"certificate": signed_by_intermediate(p, dns=("CONNECT_ADDRESS",)).cert_pem},
    ),
    (
        "cert.issuer",
        "empty issuer",
        lambda p: {
            "certificate": issue(
                "mqtt.example.com",
                private_key=p["three"].leaf.key,
                dns=("mqtt.example.com",),
                issuer_name=x509.Name([]),
            ).cert_pem,
            "chain": None,
        },
    ),
    (
        "cert.validity",
        "expired",
        lambda p: {
            "certificate": signed_by_intermediate(
                p, not_before=NOW - datetime.timedelta(days=400), not_after=NOW - datetime.timedelta(days=1)
            ).cert_pem
        },
    ),
    (
        "cert.validity",
        "not yet valid",
        lambda p: {
            "certificate": signed_by_intermediate(
                p, not_before=NOW + datetime.timedelta(days=2), not_after=NOW + datetime.timedelta(days=900)
            ).cert_pem
        },
    ),
    (
        "cert.validity",
        "less than 180 days left",
        lambda p: {"certificate": signed_by_intermediate(p, days=100).cert_pem},
    ),
    (
        "cert.validity",
        "expired chain CA",
        lambda p: {
            "chain": issue(
                "Test Intermediate CA",
                issuer=p["three"].root,
                private_key=key("rsa", 2048, 11),
                ca=True,
                not_before=NOW - datetime.timedelta(days=400),
                not_after=NOW - datetime.timedelta(days=1),
            ).cert_pem
        },
    ),
    ("chain.required", "CA-signed, no chain", lambda p: {"chain": None}),
    ("chain.leaf", "chain holds the certificate", lambda p: {"chain": pem(p["three"].leaf, p["three"].intermediate)}),
    (
        "chain.leaf",
        "chain holds another end-entity",
        lambda p: {
            "chain": pem(
                p["three"].intermediate,
                issue("other.example.com", issuer=p["three"].intermediate, dns=("other.example.com",)),
            )
        },
    ),
    ("chain.order", "root before intermediate", lambda p: {"chain": pem(p["three"].root, p["three"].intermediate)}),
    ("chain.order", "unrelated CA", lambda p: {"chain": pem(p["client_ca"])}),
    (
        "chain.order",
        "issuer's name, wrong key",
        lambda p: {
            "chain": issue(
                "Test Intermediate CA", issuer=p["three"].root, private_key=key("rsa", 2048, 30), ca=True
            ).cert_pem
        },
    ),
    (
        "chain.algorithm",
        "EC certificate from an RSA CA",
        lambda p: {
            "certificate": signed_by_intermediate(p, private_key=key("ec", 256)).cert_pem,
            "private_key": key_pem(key("ec", 256)),
            "policy": EMQX,
        },
    ),
    ("pair.mismatch", "another key", lambda p: {"private_key": key_pem(key("rsa", 2048, 5))}),
    (
        "bundle.multiple",
        "leaf and intermediate in the certificate",
        lambda p: {"certificate": pem(p["three"].leaf, p["three"].intermediate)},
    ),
    ("client_ca.invalid", "two-way without client CA", lambda p: {"client_ca": None}),
    (
        "client_ca.invalid",
        "a client certificate as client CA",
        lambda p: {"client_ca": issue("Client", issuer=p["client_ca"], client=True).cert_pem},
    ),
]


@pytest.mark.parametrize(("rule_id", "case", "change"), FAILING, ids=[f"{r}: {c}" for r, c, _unused in FAILING])
def test_rule_fails(pki: dict[str, Any], rule_id: str, case: str, change: Any) -> None:
    report = check_material(**{**good(pki), **change(pki)})
    assert rule_id in ids(report), report.findings
    finding = next(f for f in report.findings if f.rule_id == rule_id)
    assert finding.severity == RULES[rule_id].severity or rule_id == "cert.validity"
    assert finding.message and finding.hint
    assert finding.path in ("certificate", "chain", "private_key", "client_ca")


# (rule, change that passes it although it looks close to failing)
PASSING: list[tuple[str, str, Any]] = [
    ("pem.encoding", "PKCS#1 key", lambda p: {"private_key": key_pem(p["three"].leaf.key, "pkcs1")}),
    ("pem.encoding", "PKCS#8 key", lambda p: {"private_key": key_pem(p["three"].leaf.key, "pkcs8")}),
    ("pem.encoding", "CRLF line ends", lambda p: {"certificate": p["three"].leaf.cert_pem.replace(b"\n", b"\r\n")}),
    ("key.encrypted", "unencrypted PKCS#8", lambda p: {"private_key": key_pem(p["three"].leaf.key, "pkcs8")}),
    (
        "key.algorithm",
        "EC P-256 under emqx-cloud",
        lambda p: {
            "certificate": issue("mqtt.example.com", private_key=key("ec", 256), dns=("mqtt.example.com",)).cert_pem,
            "private_key": key_pem(key("ec", 256)),
            "chain": None,
            "policy": EMQX,
        },
    ),
    (
        "key.algorithm",
        "RSA 4096 root CA in the chain",
        lambda p: {"chain": pem(p["three"].intermediate, issue("Big Root", private_key=key("rsa", 4096), ca=True))},
    ),
    ("key.weak", "RSA 2048", lambda p: {}),
    (
        "cert.identity",
        "FQDN in CN only, seed allows it",
        lambda p: {"certificate": signed_by_intermediate(p, dns=()).cert_pem},
    ),
    (
        "cert.identity",
        "IP address in SAN",
        lambda p: {"certificate": signed_by_intermediate(p, dns=(), ips=("203.0.113.10",)).cert_pem},
    ),
    (
        "cert.identity",
        "wildcard SAN",
        lambda p: {"certificate": signed_by_intermediate(p, dns=("*.example.com",)).cert_pem},
    ),
    (
        "cert.validity",
        "exactly 181 days left",
        lambda p: {
            "certificate": signed_by_intermediate(
                p, not_before=NOW - datetime.timedelta(days=1), not_after=NOW + datetime.timedelta(days=181, hours=1)
            ).cert_pem
        },
    ),
    (
        "chain.required",
        "self-signed certificate",
        lambda p: {
            "certificate": issue(
                "mqtt.example.com", private_key=p["three"].leaf.key, dns=("mqtt.example.com",)
            ).cert_pem,
            "chain": None,
        },
    ),
    ("chain.leaf", "intermediate only", lambda p: {"chain": pem(p["three"].intermediate)}),
    ("chain.order", "intermediate then root", lambda p: {"chain": pem(p["three"].intermediate, p["three"].root)}),
    ("chain.algorithm", "EC certificate from an EC CA", lambda p: {"policy": EMQX, **_ec_set()}),
    ("pair.mismatch", "the key in PKCS#8", lambda p: {"private_key": key_pem(p["three"].leaf.key, "pkcs8")}),
    ("bundle.multiple", "one certificate", lambda p: {}),
    ("client_ca.invalid", "one-way without client CA", lambda p: {"client_ca": None, "auth_type": "one-way"}),
]


def _ec_set() -> dict[str, Any]:
    three = three_level(kind="ec", size=256)
    return {
        "certificate": three.leaf.cert_pem,
        "chain": pem(three.intermediate),
        "private_key": key_pem(three.leaf.key, "pkcs8"),
    }


@pytest.mark.parametrize(("rule_id", "case", "change"), PASSING, ids=[f"{r}: {c}" for r, c, _unused in PASSING])
def test_rule_passes(pki: dict[str, Any], rule_id: str, case: str, change: Any) -> None:
    report = check_material(**{**good(pki), **change(pki)})
    assert rule_id not in ids(report), report.findings


def test_every_rule_has_a_failing_and_a_passing_fixture() -> None:
    # cert.version, cert.issuer and the opt-in key.plaintext have tests of their own below
    assert {r for r, _unused, _unused in FAILING} | {"cert.version", "key.plaintext"} == set(CATALOG)
    assert {r for r, _unused, _unused in PASSING} | {"cert.version", "cert.issuer", "key.plaintext"} == set(CATALOG)


def test_cert_version_v1_fails_v3_passes(pki: dict[str, Any], v1_leaf: bytes) -> None:
    failing = check_material(**{**good(pki), "certificate": v1_leaf})
    assert "cert.version" in ids(failing)
    assert any("X.509 v1" in f.message for f in failing.findings)
    assert "cert.version" not in ids(check_material(**good(pki)))


def test_cert_issuer_passes_with_a_named_issuer(pki: dict[str, Any]) -> None:
    assert "cert.issuer" not in ids(check_material(**good(pki)))


def test_key_encrypted_openssh(tmp_path: Path) -> None:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is needed for an encrypted OpenSSH key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(tmp_path / "id")], check=True)
    report = check_material(certificate=None, private_key=(tmp_path / "id").read_bytes())
    assert "key.encrypted" in ids(report)
    assert any("OpenSSH" in f.message for f in report.findings if f.rule_id == "key.encrypted")


def test_strict_profile(pki: dict[str, Any]) -> None:
    weak = signed_by_intermediate(pki, private_key=key("rsa", 1024))
    strict = check_material(
        **{**good(pki), "certificate": weak.cert_pem, "private_key": key_pem(key("rsa", 1024)), "policy": STRICT}
    )
    assert "key.algorithm" in ids(strict) and "key.weak" not in ids(strict)
    seed = check_material(**{**good(pki), "certificate": weak.cert_pem, "private_key": key_pem(key("rsa", 1024))})
    assert ids(seed) == {"key.weak"} and not seed.failed() and seed.failed("warning")
    cn_only = signed_by_intermediate(pki, dns=())
    assert "cert.identity" in ids(check_material(**{**good(pki), "certificate": cn_only.cert_pem, "policy": STRICT}))


def test_strict_warning_window(pki: dict[str, Any]) -> None:
    soon = signed_by_intermediate(pki, days=200)
    report = check_material(**{**good(pki), "certificate": soon.cert_pem, "policy": STRICT})
    assert [(f.rule_id, f.severity) for f in report.findings] == [("cert.validity", WARNING)]
    assert "cert.validity" not in ids(check_material(**{**good(pki), "certificate": soon.cert_pem}))
    assert "cert.validity" not in ids(check_material(**{**good(pki), "policy": STRICT}))


def test_client_certificate_needs_no_fqdn(pki: dict[str, Any]) -> None:
    client = issue("Client", issuer=pki["client_ca"], client=True)
    report = check_material(certificate=client.cert_pem, chain=pki["client_ca"].cert_pem)
    assert "cert.identity" not in ids(report)


def test_findings_name_file_certificate_and_line(pki: dict[str, Any]) -> None:
    three = pki["three"]
    report = check_material(
        certificate=pem(three.leaf, three.intermediate),
        private_key=key_pem(three.leaf.key),
        names={"certificate": "certs/server.crt"},
    )
    finding = next(f for f in report.findings if f.rule_id == "bundle.multiple")
    assert finding.path == "certs/server.crt"
    second_begin = pem(three.leaf).count(b"\n") + 1
    assert finding.line == second_begin and finding.end_line == second_begin + pem(three.intermediate).count(b"\n") - 1
    assert finding.subject == three.leaf.cert.subject.rfc4514_string()
    assert finding.serial == f"0x{three.leaf.cert.serial_number:x}"
    assert "mqtt.example.com" in finding.message and finding.serial in finding.message


def test_bad_auth_type_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="auth_type"):
        check_material(certificate=None, auth_type="three-way")


def test_rules_filter(pki: dict[str, Any]) -> None:
    change = {"private_key": key_pem(pki["three"].leaf.key, "pkcs8", b"pw"), "chain": None}
    report = check_material(**{**good(pki), **change}, rules=["key.encrypted"])
    assert ids(report) == {"key.encrypted"}
    with pytest.raises(ValueError, match="unknown rule"):
        check_material(certificate=None, rules=["no.such.rule"])


# ------------------------------------------------------------------ files in a repository


def test_client_certificate_needs_no_chain(pki: dict[str, Any]) -> None:
    """Client certificates are never imported into the deployment: a missing chain is not a finding."""
    client = issue("Client", issuer=pki["client_ca"], client=True)
    assert "chain.required" not in ids(check_material(certificate=client.cert_pem))
    server = issue("mqtt.example.com", issuer=pki["client_ca"], dns=("mqtt.example.com",))
    assert "chain.required" in ids(check_material(certificate=server.cert_pem))


def write(folder: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder


def check_repo(folder: Path, paths: list[str] | None = None, **kwargs: Any) -> Any:
    kwargs.setdefault("policy", SEED_POLICY)
    return check_paths([str(folder / p) for p in (paths or ["."])], root=str(folder), **kwargs)


def rel_findings(report: Any, folder: Path) -> set[tuple[str, str]]:
    return {(os.path.relpath(f.path, folder), f.rule_id) for f in report.findings}


def test_clean_repository(pki: dict[str, Any], tmp_path: Path) -> None:
    three = pki["three"]
    write(
        tmp_path,
        {
            "server.crt": three.leaf.cert_pem,
            "server.key": key_pem(three.leaf.key, "pkcs1"),
            "server.chain.pem": pem(three.intermediate, three.root),
            "ca/root.crt": three.root.cert_pem,  # a CA file: no FQDN needed, no chain needed
            "README.md": b"# certificates\n",
            ".git/config": b"[core]\n",
        },
    )
    report = check_repo(tmp_path)
    assert report.findings == []
    assert sorted(os.path.relpath(p, tmp_path) for p in report.files_checked) == [
        "ca/root.crt",
        "server.chain.pem",
        "server.crt",
        "server.key",
    ]


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("leaf in stem chain", {("server.chain.pem", "chain.leaf")}),
        ("leaf in generic chain", {("chain.pem", "chain.leaf")}),
        ("bundle in certificate file", {("server.crt", "bundle.multiple")}),
        ("no chain", {("server.crt", "chain.required")}),
        ("key mismatch", {("server.crt", "pair.mismatch")}),
        ("fullchain ok", set()),
        ("fullchain without chain", {("fullchain.pem", "chain.required")}),
        ("certbot", set()),
        ("cfssl names", set()),
        # ca-bundle.crt's first certificate did not issue server.crt: it is not its chain (chain.required says
        # where the issuer is); the bundle's own order is wrong (chain.order)
        ("wrong order in bundle file", {("ca-bundle.crt", "chain.order"), ("server.crt", "chain.required")}),
        # a CA bundle that no certificate uses: trust anchors side by side, or whole chains one after another;
        # a root does not certify the next root, and need not
        ("bundle of roots", set()),
        ("bundle of chains", set()),
        ("bundle of chains, one upside down", {("ca-bundle.crt", "chain.order")}),
    ],
)
def test_repository_layouts(pki: dict[str, Any], tmp_path: Path, layout: str, expected: set[tuple[str, str]]) -> None:
    three = pki["three"]
    leaf, inter, root = three.leaf, three.intermediate, three.root
    other_intermediate, other_root = pki["other"]
    plain_key = key_pem(leaf.key, "pkcs1")
    files = {
        "leaf in stem chain": {
            "server.crt": leaf.cert_pem,
            "server.key": plain_key,
            "server.chain.pem": pem(leaf, inter),
            "other-chain.pem": pem(inter),
        },
        "leaf in generic chain": {"server.crt": leaf.cert_pem, "server.key": plain_key, "chain.pem": pem(leaf, inter)},
        "bundle in certificate file": {"server.crt": pem(leaf, inter, root), "server.key": plain_key},
        "no chain": {"server.crt": leaf.cert_pem, "server.key": plain_key},
        "key mismatch": {
            "server.crt": leaf.cert_pem,
            "server.key": key_pem(key("rsa", 2048, 5)),
            "server-chain.pem": pem(inter),
        },
        "fullchain ok": {"fullchain.pem": pem(leaf, inter), "privkey.pem": key_pem(leaf.key)},
        "fullchain without chain": {"fullchain.pem": pem(leaf), "privkey.pem": key_pem(leaf.key)},
        "certbot": {
            "cert.pem": leaf.cert_pem,
            "chain.pem": pem(inter),
            "fullchain.pem": pem(leaf, inter),
            "privkey.pem": key_pem(leaf.key),
        },
        "cfssl names": {
            "server.pem": leaf.cert_pem,
            "server-key.pem": key_pem(leaf.key),
            "server-bundle.pem": pem(inter),
        },
        "wrong order in bundle file": {
            "server.crt": leaf.cert_pem,
            "server.key": plain_key,
            "ca-bundle.crt": pem(root, inter),
        },
        "bundle of roots": {
            "server.crt": leaf.cert_pem,
            "server.key": plain_key,
            "server.chain.pem": pem(inter),
            "ca-bundle.crt": pem(root, pki["client_ca"], other_root),
        },
        "bundle of chains": {"ca-bundle.crt": pem(inter, root, other_intermediate, other_root)},
        "bundle of chains, one upside down": {"ca-bundle.crt": pem(inter, root, other_root, other_intermediate)},
    }[layout]
    report = check_repo(write(tmp_path, files))
    assert rel_findings(report, tmp_path) >= expected
    assert {r for _unused, r in rel_findings(report, tmp_path)} == {r for _unused, r in expected}, report.findings


def test_named_chain_file_alone_finds_the_neighbouring_certificate(pki: dict[str, Any], tmp_path: Path) -> None:
    """pre-commit passes only the changed file: the chain's neighbour is read from disk."""
    three = pki["three"]
    write(tmp_path, {"server.crt": three.leaf.cert_pem, "server.chain.pem": pem(three.intermediate, three.leaf)})
    report = check_repo(tmp_path, ["server.chain.pem"])
    assert rel_findings(report, tmp_path) == {("server.chain.pem", "chain.leaf")}
    assert [os.path.relpath(p, tmp_path) for p in report.files_checked] == ["server.chain.pem"]


def test_named_key_file_alone_checks_the_pair(pki: dict[str, Any], tmp_path: Path) -> None:
    three = pki["three"]
    write(tmp_path, {"server.crt": three.leaf.cert_pem, "server.key": key_pem(key("rsa", 2048, 5))})
    report = check_repo(tmp_path, ["server.key"])
    # reported on the file given: the key (server.crt, not given, is context)
    assert rel_findings(report, tmp_path) == {("server.key", "pair.mismatch")}
    assert "server.crt" in report.findings[0].message


def test_named_certificate_with_a_cert_key_in_one_file(pki: dict[str, Any], tmp_path: Path) -> None:
    three = pki["three"]
    write(
        tmp_path,
        {"combined.pem": three.leaf.cert_pem + key_pem(key("rsa", 2048, 5)), "chain.pem": pem(three.intermediate)},
    )
    report = check_repo(tmp_path)
    assert rel_findings(report, tmp_path) == {("combined.pem", "pair.mismatch")}


def test_policy_chain_files_glob(pki: dict[str, Any], tmp_path: Path) -> None:
    three = pki["three"]
    write(tmp_path, {"certs/server.crt": three.leaf.cert_pem, "certs/issuers.ca": pem(three.leaf, three.intermediate)})
    plain = check_repo(tmp_path, ["certs/server.crt", "certs/issuers.ca"])
    assert ("certs/issuers.ca", "bundle.multiple") in rel_findings(plain, tmp_path)
    policy = load_policy("seed", overrides={"chain_files": ["certs/*.ca"]}, discover=False)
    report = check_repo(tmp_path, ["certs/server.crt", "certs/issuers.ca"], policy=policy)
    assert rel_findings(report, tmp_path) == {("certs/issuers.ca", "chain.leaf")}


def test_ca_bundle_file_is_not_bundle_multiple(pki: dict[str, Any], tmp_path: Path) -> None:
    three = pki["three"]
    write(tmp_path, {"trusted-cas.crt": pem(three.root, pki["client_ca"])})
    assert check_repo(tmp_path).findings == []


def test_unreadable_and_missing_files_become_findings(tmp_path: Path) -> None:
    report = check_paths([str(tmp_path / "missing.crt")], SEED_POLICY, root=str(tmp_path))
    assert [(f.rule_id, f.line) for f in report.findings] == [("pem.encoding", 0)]
    assert "cannot read" in report.findings[0].message


def test_folder_walk_and_sorting(pki: dict[str, Any], tmp_path: Path) -> None:
    three = pki["three"]
    write(
        tmp_path,
        {
            "b/server.crt": pem(three.leaf, three.intermediate),
            "a/broken.pem": b"-----BEGIN CERTIFICATE-----\nAAAA\n",
            "a/notes.txt": b"not a certificate",
            "node_modules/x.pem": b"junk",
        },
    )
    report = check_repo(tmp_path)
    keys = [(f.path, f.line, f.rule_id) for f in report.findings]
    assert keys == sorted(keys)
    assert {os.path.relpath(p, tmp_path) for p in report.files_checked} == {"a/broken.pem", "b/server.crt"}


def test_der_and_pkcs12_files(pki: dict[str, Any], tmp_path: Path) -> None:
    write(tmp_path, {"server.der": der(pki["three"].leaf), "server.p12": _pkcs12(pki)})
    report = check_repo(tmp_path)
    assert ("server.der", "pem.encoding") in rel_findings(report, tmp_path)
    assert ("server.p12", "pem.encoding") in rel_findings(report, tmp_path)
    assert any("PKCS#12" in f.message for f in report.findings)


def test_seed_layout_self_signed_ca(tmp_path: Path) -> None:
    """The seed's own files: a CA and a server certificate it signed: the CA verifiably issued it, so it is its
    chain (the seed: "For self-signed certificate, server CA certificate is required")."""
    ca = issue("CA", private_key=key("rsa", 2048, 40), ca=True, subject=name("CA", "EMQ X Cloud"))
    server = issue("XX", issuer=ca, private_key=key("rsa", 2048, 41), dns=("mqtt.example.com",))
    write(
        tmp_path, {"cloud-ca.crt": ca.cert_pem, "cloud.crt": server.cert_pem, "cloud.key": key_pem(server.key, "pkcs1")}
    )
    assert check_repo(tmp_path).findings == []
    # by proof, not by name: the CA file under another name serves too
    (tmp_path / "cloud-ca.crt").rename(tmp_path / "server-ca.pem")
    assert check_repo(tmp_path).findings == []
    # a CA that did not issue it is no chain, whatever its name
    other = issue("CA", private_key=key("rsa", 2048, 42), ca=True, subject=name("CA", "EMQ X Cloud"))
    (tmp_path / "server-ca.pem").write_bytes(other.cert_pem)
    write(tmp_path, {"cloud-ca.crt": other.cert_pem})
    assert rel_findings(check_repo(tmp_path), tmp_path) == {("cloud.crt", "chain.required")}
    write(tmp_path, {"cloud.chain.pem": ca.cert_pem})
    assert check_repo(tmp_path).findings == []


def test_key_plaintext_is_opt_in(pki: dict[str, Any], tmp_path: Path) -> None:
    """Off by default (a deployment needs the plain key); a hook or the policy turns it on; vaulted keys pass."""
    assert RULES["key.plaintext"].default_on is False
    assert all(RULES[r].default_on for r in CATALOG if r != "key.plaintext")
    plain = key_pem(pki["three"].leaf.key, "pkcs1")
    assert "key.plaintext" not in ids(check_material(**{**good(pki), "private_key": plain}))
    asked = check_material(**{**good(pki), "private_key": plain}, rules=["key.plaintext"])
    assert ids(asked) == {"key.plaintext"} and "ansible-vault encrypt" in asked.findings[0].hint
    on = load_policy("seed", overrides={"rules": {"key.plaintext": True}}, discover=False)
    assert "key.plaintext" in ids(check_material(**{**good(pki), "private_key": plain, "policy": on}))
    off = load_policy("seed", overrides={"rules": {"key.plaintext": False}}, discover=False)
    assert check_material(**{**good(pki), "private_key": plain, "policy": off}, rules=["key.plaintext"]).findings == []
    encrypted = key_pem(pki["three"].leaf.key, "pkcs8", b"pw")
    assert check_material(certificate=None, private_key=encrypted, rules=["key.plaintext"]).findings == []
    # inline in YAML
    body = "\n".join("    " + line for line in plain.decode().splitlines())
    write(tmp_path, {"group_vars/all.yml": f"tls_key: |\n{body}\n".encode()})
    report = check_paths(
        [str(tmp_path / "group_vars/all.yml")], SEED_POLICY, root=str(tmp_path), rules=["key.plaintext"]
    )
    assert [(f.rule_id, f.line) for f in report.findings] == [("key.plaintext", 2)]


def test_chain_named_after_a_certificate_serves_only_that_certificate(pki: dict[str, Any], tmp_path: Path) -> None:
    """The pki role's folder: cloud.chain.pem belongs to cloud.crt, not to the client certificates beside it."""
    three = pki["three"]
    client = issue("Client", issuer=pki["client_ca"], client=True, private_key=key("rsa", 2048, 21))
    write(
        tmp_path,
        {
            "cloud.crt": three.leaf.cert_pem,
            "cloud.key": key_pem(three.leaf.key, "pkcs1"),
            "cloud.chain.pem": pem(three.intermediate, three.root),
            "client-ca.crt": pki["client_ca"].cert_pem,
            "client.crt": client.cert_pem,
            "client.key": key_pem(client.key, "pkcs1"),
        },
    )
    assert check_repo(tmp_path).findings == []
    # The same chain under a generic name serves the certificates it issued (cloud.crt), not client.crt.
    (tmp_path / "cloud.chain.pem").rename(tmp_path / "chain.pem")
    assert check_repo(tmp_path).findings == []


def test_folder_walk_finds_material_by_content(pki: dict[str, Any], tmp_path: Path) -> None:
    """A PEM file named without a certificate extension is checked; a document quoting PEM is not."""
    three = pki["three"]
    write(
        tmp_path,
        {
            "tls/server_cert": three.leaf.cert_pem,
            "docs/howto.md": b"# How to\n\n" + three.leaf.cert_pem,
        },
    )
    report = check_repo(tmp_path)
    assert sorted(os.path.relpath(p, tmp_path) for p in report.files_checked) == ["tls/server_cert"]
    assert rel_findings(report, tmp_path) == {("tls/server_cert", "chain.required")}
