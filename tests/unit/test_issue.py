"""The issuing engine: options, policy refusals, certificate profiles, the idempotency decision, files."""

from __future__ import annotations

import datetime
import os
import re
import stat
from pathlib import Path

import pytest
from certhygiene import issue
from certhygiene.policy import load_policy
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID
from support.pki import key, key_pem, not_after, not_before, verify_issued

SEED = load_policy("seed", discover=False)
CLOUD = load_policy("emqx-cloud", discover=False)
NOW = issue.utcnow()


def write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


def key_body_lines(pem: bytes) -> list[str]:
    return [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]


@pytest.fixture(scope="module")
def ca_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, issue.Issuer]:
    folder = tmp_path_factory.mktemp("ca")
    write(folder / "ca.key", key_pem(key("rsa", 2048, 40), "pkcs1"))
    spec = issue.make_spec("ca", subject={"C": "CN", "O": "EMQ X Cloud", "CN": "CA"})
    issue.manage(issue.Target(spec, str(folder / "ca.key"), str(folder / "ca.crt")), policy=SEED)
    loaded = issue.load_issuer((folder / "ca.crt").read_bytes(), "ca.crt", (folder / "ca.key").read_bytes(), "ca.key")
    return folder / "ca.crt", folder / "ca.key", loaded


@pytest.fixture(scope="module")
def other_ca() -> issue.Issuer:
    spec = issue.make_spec("ca", subject={"CN": "Other CA"})
    private = key("rsa", 2048, 41)
    cert = issue.build_certificate(spec, private, None, NOW)
    return issue.Issuer(cert, private, "other-ca.crt")


def ext(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> x509.Extension[x509.ExtensionType]:
    return cert.extensions.get_extension_for_oid(oid)


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("values", "dns", "ips"),
    [
        (["DNS:mqtt.example.com", "IP:203.0.113.10"], ("mqtt.example.com",), ("203.0.113.10",)),
        (["mqtt.example.com", "203.0.113.10", "::1"], ("mqtt.example.com",), ("203.0.113.10", "::1")),
        (["dns:A.example.com", "a.example.com", "IP Address:10.0.0.1"], ("A.example.com",), ("10.0.0.1",)),
        (["*.example.com", "localhost"], ("*.example.com", "localhost"), ()),
        (["IP:2001:db8::1"], (), ("2001:db8::1",)),
        (["bücher.example"], ("xn--bcher-kva.example",), ()),
    ],
)
def test_subject_alt_names_accept_prefixed_and_bare_values(values: list[str], dns: tuple, ips: tuple) -> None:
    assert issue.parse_subject_alt_names(values) == (dns, ips)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["IP:not-an-ip"], "is not an IP address"),
        (["DNS:bad_name!.example.com"], "is not a valid DNS name"),
        (["a.*.example.com"], "wildcard only as the first label"),
        (["DNS:"], "empty entry"),
    ],
)
def test_subject_alt_names_refuse_garbage(values: list[str], message: str) -> None:
    with pytest.raises(issue.IssueError, match=message.replace("*", r"\*")):
        issue.parse_subject_alt_names(values)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "root"}, "kind must be one of"),
        ({"subject": {"O": "x"}}, "CN .* is required"),
        ({"subject": {"CN": "a.example.com", "Country": "DE"}}, "unknown attribute 'Country'"),
        ({"subject": {"CN": "a.example.com", "C": "Germany"}}, "two-letter country code"),
        ({"subject": {"CN": "a.example.com", "CN ": "x"}}, "unknown attribute"),
        ({"key_type": "dsa"}, "key_type must be one of"),
        ({"key_type": "rsa", "key_size": 1000}, "key_size 1000 is not supported"),
        ({"key_type": "ec", "key_size": 2048}, "key_size 2048 is not supported for key_type ec"),
        ({"days": 10, "not_after": "2030-01-01"}, "mutually exclusive"),
        ({"not_after": "next year"}, "is not a date"),
        ({"days": 0}, "at least 1"),
    ],
)
def test_make_spec_refuses_bad_options_with_a_clear_message(kwargs: dict, message: str) -> None:
    options = {"kind": "server", "subject": {"CN": "mqtt.example.com"}, **kwargs}
    kind = options.pop("kind")
    with pytest.raises(issue.IssueError, match=message):
        issue.make_spec(kind, **options)


def test_ca_refuses_subject_alt_names() -> None:
    with pytest.raises(issue.IssueError, match="not for kind ca"):
        issue.make_spec("ca", subject={"CN": "CA"}, subject_alt_names=["a.example.com"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2030-01-31", "2030-01-31T00:00:00+00:00"),
        ("2030-01-31T12:30:00Z", "2030-01-31T12:30:00+00:00"),
        ("2030-01-31T14:30:00+02:00", "2030-01-31T12:30:00+00:00"),
        ("20300131123000Z", "2030-01-31T12:30:00+00:00"),
    ],
)
def test_not_after_formats(value: str, expected: str) -> None:
    parsed = issue.parse_not_after(value)
    assert parsed is not None and parsed.isoformat() == expected


def test_host_like_cn_of_a_server_goes_into_the_san() -> None:
    spec = issue.make_spec("server", subject={"CN": "203.0.113.10"}, subject_alt_names=["DNS:mqtt.example.com"])
    assert spec.subject_alt_names == ["DNS:mqtt.example.com", "IP:203.0.113.10"]
    seed_like = issue.make_spec("server", subject={"CN": "XX"}, subject_alt_names=["mqtt.example.com"])
    assert seed_like.subject_alt_names == ["DNS:mqtt.example.com"]


def test_defaults_per_kind() -> None:
    assert issue.make_spec("ca", subject={"CN": "CA"}).days == 3650
    assert issue.make_spec("client", subject={"CN": "c"}).days == 825
    assert issue.make_spec("client", subject={"CN": "c"}, key_type="ec").key == issue.KeySpec("ec", 256)


# --------------------------------------------------------------------------- policy


def test_seed_refuses_ec_before_anything_is_made(tmp_path: Path, ca_files) -> None:
    spec = issue.make_spec("ca", subject={"CN": "EC CA"}, key_type="ec")
    target = issue.Target(spec, str(tmp_path / "ec.key"), str(tmp_path / "ec.crt"))
    with pytest.raises(issue.IssueError) as caught:
        issue.manage(target, policy=SEED)
    assert "EC_prime256v1 is not allowed by policy 'seed': it allows RSA_1024, RSA_2048" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_server_without_fqdn_or_ip_is_refused_before_anything_is_made(tmp_path: Path, ca_files) -> None:
    spec = issue.make_spec("server", subject={"CN": "intranet"}, subject_alt_names=["localhost"])
    target = issue.Target(spec, str(tmp_path / "s.key"), str(tmp_path / "s.crt"))
    with pytest.raises(
        issue.IssueError,
        match=r"needs the deployment's fully qualified domain name or IP address.*given: DNS:localhost",
    ):
        issue.manage(target, issuer=ca_files[2], policy=SEED)
    assert list(tmp_path.iterdir()) == []


def test_emqx_cloud_profile_allows_ec_p256(tmp_path: Path) -> None:
    spec = issue.make_spec("ca", subject={"CN": "EC CA"}, key_type="ec")
    outcome = issue.manage(issue.Target(spec, str(tmp_path / "ec.key"), str(tmp_path / "ec.crt")), policy=CLOUD)
    assert outcome.result["key_type"] == "EC" and outcome.result["key_size"] == 256
    assert (tmp_path / "ec.key").read_bytes().startswith(b"-----BEGIN EC PRIVATE KEY-----")


def test_issuer_algorithm_must_match(ca_files, tmp_path: Path) -> None:
    spec = issue.make_spec("server", subject={"CN": "mqtt.example.com"}, key_type="ec")
    with pytest.raises(issue.IssueError, match="has an RSA key but key_type is ec"):
        issue.manage(
            issue.Target(spec, str(tmp_path / "s.key"), str(tmp_path / "s.crt")), issuer=ca_files[2], policy=CLOUD
        )


def test_server_certificate_shorter_than_the_policy_minimum_is_refused(ca_files, tmp_path: Path) -> None:
    spec = issue.make_spec("server", subject={"CN": "mqtt.example.com"}, days=90)
    with pytest.raises(issue.IssueError, match="fewer than the 180 days of validity that policy 'seed' requires"):
        issue.manage(
            issue.Target(spec, str(tmp_path / "s.key"), str(tmp_path / "s.crt")), issuer=ca_files[2], policy=SEED
        )
    # Client certificates are never uploaded: the minimum does not apply to them.
    client = issue.make_spec("client", subject={"CN": "device"}, days=90)
    write(tmp_path / "c.key", key_pem(key("rsa", 2048, 42), "pkcs1"))
    outcome = issue.manage(
        issue.Target(client, str(tmp_path / "c.key"), str(tmp_path / "c.crt")), issuer=ca_files[2], policy=SEED
    )
    assert outcome.changed


# --------------------------------------------------------------------------- certificate profiles


def test_ca_certificate_extensions(ca_files) -> None:
    cert = ca_files[2].certificate
    constraints = ext(cert, ExtensionOID.BASIC_CONSTRAINTS)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length is None
    usage = ext(cert, ExtensionOID.KEY_USAGE)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign and not usage.value.digital_signature
    ski = ext(cert, ExtensionOID.SUBJECT_KEY_IDENTIFIER).value
    aki = ext(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value
    assert aki.key_identifier == ski.digest
    assert cert.version == x509.Version.v3 and cert.issuer == cert.subject


@pytest.mark.parametrize(
    ("kind", "key_type", "usages", "eku"),
    [
        ("server", "rsa", {"digital_signature", "key_encipherment"}, [ExtendedKeyUsageOID.SERVER_AUTH]),
        ("server", "ec", {"digital_signature"}, [ExtendedKeyUsageOID.SERVER_AUTH]),
        ("client", "rsa", {"digital_signature"}, [ExtendedKeyUsageOID.CLIENT_AUTH]),
        ("intermediate", "rsa", {"key_cert_sign", "crl_sign"}, None),
    ],
)
def test_leaf_and_intermediate_extensions(kind: str, key_type: str, usages: set, eku: list | None) -> None:
    size = 2048 if key_type == "rsa" else 256
    ca_key = key(key_type, size, 43)
    ca = issue.Issuer(
        issue.build_certificate(issue.make_spec("ca", subject={"CN": "CA"}, key_type=key_type), ca_key, None, NOW),
        ca_key,
        "ca",
    )
    sans = ["mqtt.example.com", "IP:127.0.0.1"] if kind == "server" else []
    spec = issue.make_spec(kind, subject={"CN": "leaf"}, subject_alt_names=sans, key_type=key_type)
    cert = issue.build_certificate(spec, key(key_type, size, 44), ca, NOW)
    constraints = ext(cert, ExtensionOID.BASIC_CONSTRAINTS)
    assert constraints.critical and constraints.value.ca == (kind == "intermediate")
    assert constraints.value.path_length == (0 if kind == "intermediate" else None)
    usage = ext(cert, ExtensionOID.KEY_USAGE)
    fields = ("digital_signature", "key_encipherment", "key_cert_sign", "crl_sign", "key_agreement")
    assert usage.critical and {f for f in fields if getattr(usage.value, f)} == usages
    if eku is None:
        with pytest.raises(x509.ExtensionNotFound):
            ext(cert, ExtensionOID.EXTENDED_KEY_USAGE)
    else:
        assert list(ext(cert, ExtensionOID.EXTENDED_KEY_USAGE).value) == eku
    aki = ext(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value
    assert aki.key_identifier == ext(ca.certificate, ExtensionOID.SUBJECT_KEY_IDENTIFIER).value.digest
    verify_issued(cert, ca.certificate)
    if kind == "server":
        san = ext(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        assert san.get_values_for_type(x509.DNSName) == ["mqtt.example.com"]
        assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_serials_are_random_and_leaf_never_outlives_its_issuer(ca_files) -> None:
    spec = issue.make_spec("client", subject={"CN": "c"}, days=100000)
    certs = [issue.build_certificate(spec, key("rsa", 2048, 45), ca_files[2], NOW) for _unused in range(3)]
    assert len({c.serial_number for c in certs}) == 3
    assert all(c.serial_number.bit_length() > 64 for c in certs)
    assert not_after(certs[0]) == not_after(ca_files[2].certificate)
    assert not_before(certs[0]) == NOW - issue.BACKDATE


# --------------------------------------------------------------------------- the decision


@pytest.fixture
def server(tmp_path: Path, ca_files) -> dict:
    """An existing server key and certificate issued by the CA."""
    spec = issue.make_spec("server", subject={"CN": "mqtt.example.com"}, subject_alt_names=["IP:127.0.0.1"])
    write(tmp_path / "s.key", key_pem(key("rsa", 2048, 46), "pkcs1"))
    target = issue.Target(spec, str(tmp_path / "s.key"), str(tmp_path / "s.crt"))
    issue.manage(target, issuer=ca_files[2], policy=SEED)
    return {"spec": spec, "key": (tmp_path / "s.key").read_bytes(), "cert": (tmp_path / "s.crt").read_bytes()}


def _decide(server: dict, ca_files, **changes) -> issue.Plan:
    options = {
        "spec": server["spec"],
        "key_data": server["key"],
        "key_name": "s.key",
        "cert_data": server["cert"],
        "cert_name": "s.crt",
        "issuer": ca_files[2],
        "policy": SEED,
        "key_mode": 0o100600,
    }
    options.update(changes)
    spec = options.pop("spec")
    return issue.decide(spec, **options)


def test_unchanged_input_changes_nothing(server, ca_files) -> None:
    plan = _decide(server, ca_files)
    assert (plan.changes, plan.key_action, plan.cert_action) == ([], "keep", "keep")


def _spec(server: dict, **kwargs) -> issue.CertSpec:
    options = {"subject": {"CN": "mqtt.example.com"}, "subject_alt_names": ["IP:127.0.0.1"], **kwargs}
    kind = options.pop("kind", "server")
    return issue.make_spec(kind, **options)


@pytest.mark.parametrize(
    ("change", "key_action", "reason"),
    [
        (
            {"spec": {"subject": {"CN": "mqtt.example.com", "O": "Acme"}}},
            "keep",
            "subject is CN=mqtt.example.com, wanted CN=mqtt.example.com,O=Acme",
        ),
        (
            {"spec": {"subject_alt_names": ["IP:127.0.0.1", "DNS:mqtt2.example.com"]}},
            "keep",
            "subject_alt_names change: add DNS:mqtt2.example.com",
        ),
        ({"spec": {"subject_alt_names": []}}, "keep", "subject_alt_names change: remove IP:127.0.0.1"),
        ({"spec": {"kind": "client"}}, "keep", "do not make it a client certificate"),
        ({"regenerate_key": True}, "regenerate", "regenerate_key: replace private key s.key"),
        ({"issuer": "other"}, "keep", "not signed by the issuer other-ca.crt"),
        (
            {"spec": {"renew_before_days": 400}, "now": 825 - 300},
            "keep",
            "days, fewer than 400 (renew_before_days): renew it",
        ),
        ({"now": 825 - 100}, "keep", "fewer than 180 (policy 'seed' minimum): renew it"),
        ({"key_mode": 0o100644}, "keep", "has mode 0644: set it to 0600"),
        ({"cert_data": b"garbage"}, "keep", "s.crt: no readable certificate in it: issue a new one"),
        ({"cert_data": None}, "keep", "certificate s.crt does not exist: issue it"),
        ({"key_data": None}, "create", "private key s.key does not exist: generate a rsa/2048 (RSA_2048) key"),
    ],
)
def test_what_makes_a_change(server, ca_files, other_ca, change: dict, key_action: str, reason: str) -> None:
    options: dict = {}
    for name, value in change.items():
        if name == "spec":
            options["spec"] = _spec(server, **value)
        elif name == "issuer":
            options["issuer"] = other_ca
        elif name == "now":
            options["now"] = NOW + datetime.timedelta(days=value)
        else:
            options[name] = value
    plan = _decide(server, ca_files, **options)
    assert plan.key_action == key_action
    assert any(reason in c for c in plan.changes), plan.changes
    if plan.key_action == "keep" and "mode" in reason:
        assert plan.cert_action == "keep" and plan.fix_key_mode
    else:
        assert plan.cert_action == "write"


def test_a_key_that_no_longer_fits_fails_unless_regenerate_key(server, ca_files) -> None:
    # Was: the key was silently replaced (key_action "regenerate"). A key the user has is never replaced
    # without regenerate_key: true.
    with pytest.raises(issue.IssueError) as caught:
        _decide(server, ca_files, spec=_spec(server, key_size=1024))
    assert "private key s.key is RSA_2048, but key_type/key_size ask for RSA_1024" in str(caught.value)
    assert "set regenerate_key: true" in str(caught.value)
    plan = _decide(server, ca_files, spec=_spec(server, key_size=1024), regenerate_key=True)
    assert plan.key_action == "regenerate" and plan.cert_action == "write"


def test_a_certificate_of_another_key_is_reissued(server, ca_files) -> None:
    plan = _decide(server, ca_files, key_data=key_pem(key("rsa", 2048, 47), "pkcs1"))
    assert plan.key_action == "keep"
    assert "the certificate does not belong to the private key" in plan.changes


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (key_pem(key("rsa", 2048, 46), "pkcs8", b"secret"), "s.key: the private key is encrypted"),
        (
            b"-----BEGIN RSA PRIVATE KEY-----\nnot base64 at all\n-----END RSA PRIVATE KEY-----\n",
            "s.key: not a readable private key",
        ),
        (b"hello", "s.key: not a readable private key"),
    ],
)
def test_unreadable_existing_key_fails_and_names_the_file(server, ca_files, data: bytes, message: str) -> None:
    with pytest.raises(issue.IssueError) as caught:
        _decide(server, ca_files, key_data=data)
    assert message in str(caught.value) and "set regenerate_key: true" in str(caught.value)
    plan = _decide(server, ca_files, key_data=data, regenerate_key=True)
    assert plan.key_action == "regenerate"


def test_strict_policy_refuses_rsa_1024(tmp_path: Path, ca_files) -> None:
    spec = issue.make_spec("client", subject={"CN": "device"}, key_size=1024)
    strict = load_policy("strict", discover=False)
    with pytest.raises(issue.IssueError, match="RSA_1024 is not allowed by policy 'strict'"):
        issue.decide(spec, key_data=None, key_name="k", cert_data=None, issuer=ca_files[2], policy=strict)


def test_check_mode_prediction_matches_the_real_run(server, ca_files, tmp_path: Path) -> None:
    folder = tmp_path / "real"
    folder.mkdir()
    write(folder / "s.key", server["key"])
    write(folder / "s.crt", server["cert"], 0o644)
    spec = _spec(server, subject_alt_names=["IP:127.0.0.1", "mqtt2.example.com"])
    target = issue.Target(spec, str(folder / "s.key"), str(folder / "s.crt"))
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    predicted = issue.manage(target, issuer=ca_files[2], policy=SEED, check_mode=True, now=NOW)
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()} == before
    real = issue.manage(target, issuer=ca_files[2], policy=SEED, now=NOW)
    assert predicted.changed and predicted.result["changes"] == real.result["changes"]
    for field in (
        "subject",
        "subject_alt_names",
        "issuer",
        "not_before",
        "not_after",
        "key_type",
        "key_size",
        "public_key_sha256",
    ):
        assert predicted.after[field] == real.after[field], field
    assert predicted.before == real.before
    assert "DNS:mqtt2.example.com" in real.after["subject_alt_names"]


# --------------------------------------------------------------------------- files


def test_files_modes_format_idempotence_and_backup(tmp_path: Path, ca_files) -> None:
    spec = issue.make_spec("server", subject={"CN": "mqtt.example.com"})
    target = issue.Target(spec, str(tmp_path / "s.key"), str(tmp_path / "s.crt"), str(tmp_path / "s.csr"))
    first = issue.manage(target, issuer=ca_files[2], policy=SEED)
    assert first.changed and first.result["key_action"] == "create"
    assert stat.S_IMODE((tmp_path / "s.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "s.crt").stat().st_mode) == 0o644
    key_bytes = (tmp_path / "s.key").read_bytes()
    assert key_bytes.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    csr = x509.load_pem_x509_csr((tmp_path / "s.csr").read_bytes())
    assert csr.is_signature_valid and csr.subject.rfc4514_string() == "CN=mqtt.example.com"
    second = issue.manage(target, issuer=ca_files[2], policy=SEED)
    assert not second.changed and second.result["changes"] == []
    # a change with backup: the key is kept, the certificate is replaced and copied first
    os.chmod(tmp_path / "s.key", 0o644)
    renewed = issue.manage(
        issue.Target(_spec({}, subject_alt_names=["a.example.com"]), target.key_path, target.path),
        issuer=ca_files[2],
        policy=SEED,
        backup=True,
    )
    assert renewed.changed and renewed.result["key_action"] == "keep"
    assert (tmp_path / "s.key").read_bytes() == key_bytes
    assert stat.S_IMODE((tmp_path / "s.key").stat().st_mode) == 0o600
    copy = Path(renewed.result["backup_files"]["certificate"])
    assert copy.exists() and x509.load_pem_x509_certificate(copy.read_bytes())


def test_regenerate_key_with_backup_keeps_the_old_key_private(tmp_path: Path, ca_files) -> None:
    write(
        tmp_path / "s.key", b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", 0o600
    )
    spec = issue.make_spec("client", subject={"CN": "device"})
    target = issue.Target(spec, str(tmp_path / "s.key"), str(tmp_path / "s.crt"))
    with pytest.raises(issue.IssueError, match="encrypted"):
        issue.manage(target, issuer=ca_files[2], policy=SEED)
    outcome = issue.manage(target, issuer=ca_files[2], policy=SEED, regenerate_key=True, backup=True)
    copy = Path(outcome.result["backup_files"]["private_key"])
    assert b"ENCRYPTED" in copy.read_bytes() and stat.S_IMODE(copy.stat().st_mode) == 0o600


def test_csr_only_for_an_external_ca(tmp_path: Path) -> None:
    spec = issue.make_spec("server", subject={"CN": "mqtt.example.com"})
    target = issue.Target(spec, str(tmp_path / "s.key"), None, str(tmp_path / "s.csr"))
    outcome = issue.manage(target, policy=SEED)
    assert outcome.result["certificate_action"] == "none" and outcome.result["csr_action"] == "write"
    assert not issue.manage(target, policy=SEED).changed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csr", "s.key"]


def test_no_key_material_in_results(tmp_path: Path, ca_files) -> None:
    spec = issue.make_spec("client", subject={"CN": "device"})
    target = issue.Target(spec, str(tmp_path / "c.key"), str(tmp_path / "c.crt"))
    outcome = issue.manage(target, issuer=ca_files[2], policy=SEED, regenerate_key=True)
    text = repr((outcome.result, outcome.before, outcome.after))
    for line in key_body_lines((tmp_path / "c.key").read_bytes()) + key_body_lines(ca_files[1].read_bytes()):
        assert line not in text


def test_load_issuer_refusals(ca_files, tmp_path: Path) -> None:
    cert = ca_files[0]
    with pytest.raises(
        issue.IssueError, match=re.escape("other.key is not the private key of the issuer certificate ca.crt")
    ):
        issue.load_issuer(cert.read_bytes(), "ca.crt", key_pem(key("rsa", 2048, 48), "pkcs1"), "other.key")
    leaf_spec = issue.make_spec("client", subject={"CN": "device"})
    leaf_key = key("rsa", 2048, 48)
    leaf = issue.build_certificate(leaf_spec, leaf_key, ca_files[2], NOW).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(issue.IssueError, match=re.escape("leaf.crt is not a CA certificate")):
        issue.load_issuer(leaf, "leaf.crt", key_pem(leaf_key), "leaf.key")
    encrypted = key_pem(key("rsa", 2048, 40), "pkcs8", b"pw")
    assert issue.load_issuer(cert.read_bytes(), "ca.crt", encrypted, "ca.key", b"pw").name == "ca.crt"
    with pytest.raises(
        issue.IssueError, match=re.escape("ca.key: cannot decrypt the private key with the given passphrase")
    ):
        issue.load_issuer(cert.read_bytes(), "ca.crt", encrypted, "ca.key", b"wrong")


# --------------------------------------------------------------------------- many


@pytest.mark.parametrize("name", ["../etc/passwd", ".hidden", "a/b", "", "x" * 129, "spa ce"])
def test_unsafe_client_names_are_refused(name: str) -> None:
    with pytest.raises(issue.IssueError, match="cannot be a file name"):
        issue.safe_name(name)


@pytest.mark.parametrize("mode", ["process", "thread", "serial"])
def test_generate_keys_in_every_mode(mode: str) -> None:
    specs = [issue.KeySpec("rsa", 1024), issue.KeySpec("ec", 256), issue.KeySpec("rsa", 1024)]
    keys, how = issue.generate_keys(specs, workers=2, mode=mode)
    assert how == mode
    assert isinstance(keys[0], rsa.RSAPrivateKey) and keys[0].key_size == 1024
    assert isinstance(keys[1], ec.EllipticCurvePrivateKey)
    assert issue.public_key_der(keys[0].public_key()) != issue.public_key_der(keys[2].public_key())


def test_manage_many_creates_then_leaves_alone(tmp_path: Path, ca_files) -> None:
    def targets(names: list[str]) -> list[issue.Target]:
        return [
            issue.Target(
                issue.make_spec("client", subject={"CN": n}, key_size=1024),
                str(tmp_path / f"{n}.key"),
                str(tmp_path / f"{n}.crt"),
                name=n,
            )
            for n in names
        ]

    outcomes, how = issue.manage_many(targets(["a", "b"]), issuer=ca_files[2], policy=SEED, workers=2)
    assert how == "process" and all(o.changed for o in outcomes)
    predicted, how = issue.manage_many(targets(["a", "b", "c"]), issuer=ca_files[2], policy=SEED, check_mode=True)
    assert how == "none" and [o.changed for o in predicted] == [False, False, True]
    assert not (tmp_path / "c.key").exists()
    outcomes, how = issue.manage_many(targets(["a", "b", "c"]), issuer=ca_files[2], policy=SEED, workers=2)
    assert how == "serial" and [o.changed for o in outcomes] == [False, False, True]
    for name in "abc":
        cert = x509.load_pem_x509_certificate((tmp_path / f"{name}.crt").read_bytes())
        verify_issued(cert, ca_files[2].certificate)


def test_auto_falls_back_to_threads_when_processes_cannot_start(monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing

    def no_fork(method: str | None = None) -> None:
        raise ValueError(f"cannot find context for {method!r}")

    monkeypatch.setattr(multiprocessing, "get_context", no_fork)
    keys, how = issue.generate_keys([issue.KeySpec("rsa", 1024)] * 2, workers=2)
    assert how == "thread" and all(isinstance(k, rsa.RSAPrivateKey) for k in keys)


def test_manage_many_makes_keys_in_batches(tmp_path: Path, ca_files, monkeypatch: pytest.MonkeyPatch) -> None:
    """However many names, at most two batches of keys are alive: batch k is written while batch k+1 is made."""
    monkeypatch.setattr(issue, "KEYGEN_BATCH", 3)
    batches: list[int] = []

    def observed_keygen(specs, **options):
        batches.append(len(specs))
        return issue.generate_keys(specs, **options)

    names = [f"n{i}" for i in range(8)]
    (tmp_path / "n5.key").write_bytes(key_pem(key("rsa", 1024, 5), "pkcs1"))  # kept: needs no new key
    os.chmod(tmp_path / "n5.key", 0o600)
    targets = [
        issue.Target(
            issue.make_spec("client", subject={"CN": n}, key_size=1024),
            str(tmp_path / f"{n}.key"),
            str(tmp_path / f"{n}.crt"),
            name=n,
        )
        for n in names
    ]
    outcomes, how = issue.manage_many(targets, issuer=ca_files[2], policy=SEED, workers=2, keygen=observed_keygen)
    assert batches == [3, 3, 1] and how in ("process", "serial")
    assert [o.target.name for o in outcomes] == names and all(o.changed for o in outcomes)
    for name in names:
        cert = x509.load_pem_x509_certificate((tmp_path / f"{name}.crt").read_bytes())
        loaded = serialization.load_pem_private_key((tmp_path / f"{name}.key").read_bytes(), None)
        assert issue.public_key_der(cert.public_key()) == issue.public_key_der(loaded.public_key())
