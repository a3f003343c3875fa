"""The seed's own openssl recipes, run with the openssl CLI (an independent judge), and the engine's verdicts on them.

Also: the fixes the hints name, run for real, turn a failing file into a passing one.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from certhygiene.check import check_material, check_paths
from certhygiene.policy import load_policy
from support.seed import ADDRESS, OPENSSL_CNF, openssl, seed_recipe

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl CLI is not installed")

SEED = load_policy("seed", discover=False)
EMQX = load_policy("emqx-cloud", discover=False)


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_recipe(tmp_path_factory.mktemp("seed"))


def read(folder: Path, name: str) -> bytes:
    return (folder / name).read_bytes()


def ids(report: Any) -> set[str]:
    return {f.rule_id for f in report.findings}


def test_openssl_agrees_on_what_it_made(seed_dir: Path) -> None:
    assert "Version: 3 (0x2)" in openssl(seed_dir, "x509", "-in", "cloud.crt", "-noout", "-text")
    assert "Version: 1 (0x0)" in openssl(seed_dir, "x509", "-in", "client.crt", "-noout", "-text")
    assert "cloud.crt: OK" in openssl(seed_dir, "verify", "-CAfile", "cloud-ca.crt", "cloud.crt")


def test_seed_server_two_way_configuration_passes(seed_dir: Path) -> None:
    report = check_material(
        certificate=read(seed_dir, "cloud.crt"),
        chain=read(seed_dir, "cloud-ca.crt"),
        private_key=read(seed_dir, "cloud.key"),
        client_ca=read(seed_dir, "client-ca.crt"),
        auth_type="two-way",
        policy=SEED,
    )
    assert report.findings == []
    assert report.facts["subject_alt_names"] == [f"DNS:{ADDRESS}"]
    assert report.facts["key_name"] == "RSA_2048" and report.facts["version"] == 3


def test_seed_server_without_chain_fails_chain_required(seed_dir: Path) -> None:
    report = check_material(
        certificate=read(seed_dir, "cloud.crt"), private_key=read(seed_dir, "cloud.key"), policy=SEED
    )
    assert ids(report) == {"chain.required"}


def test_seed_client_recipe_is_v1(seed_dir: Path) -> None:
    """The seed's client recipe has no -extfile: OpenSSL 3 writes an X.509 v1 certificate."""
    report = check_material(
        certificate=read(seed_dir, "client.crt"),
        chain=read(seed_dir, "client-ca.crt"),
        private_key=read(seed_dir, "client.key"),
        policy=SEED,
    )
    assert "cert.version" in ids(report)
    assert "pair.mismatch" not in ids(report)
    # a v1 certificate is not a CA: as the client CA of two-way TLS it fails
    bad_ca = check_material(
        certificate=read(seed_dir, "cloud.crt"),
        chain=read(seed_dir, "cloud-ca.crt"),
        client_ca=read(seed_dir, "client.crt"),
        auth_type="two-way",
        policy=SEED,
    )
    assert "client_ca.invalid" in ids(bad_ca)


def test_seed_folder(seed_dir: Path) -> None:
    """The seed's recipe, word for word, passes: cloud-ca.crt verifiably issued cloud.crt, so it is its chain (the
    seed: "For self-signed certificate, server CA certificate is required"); client.crt is a client certificate
    (named so, and issued by client-ca.crt), never imported, so its X.509 v1 and its CN "Client" are no finding."""
    report = check_paths([str(seed_dir)], SEED, root=str(seed_dir))
    assert report.findings == [] and report.input_errors == []
    checked = {Path(p).name for p in report.files_checked}
    assert {"cloud.crt", "cloud.key", "cloud.csr", "cloud-ca.crt", "client.crt", "client.key"} <= checked
    assert "openssl.cnf" not in checked


def test_placeholder_address_fails_identity(tmp_path: Path) -> None:
    folder = seed_recipe(tmp_path / "seed", address="CONNECT_ADDRESS")
    report = check_material(certificate=read(folder, "cloud.crt"), chain=read(folder, "cloud-ca.crt"), policy=SEED)
    assert ids(report) == {"cert.identity"}


def test_v1_fix_from_the_hint_passes(seed_dir: Path, tmp_path: Path) -> None:
    for name in ("client.csr", "client-ca.crt", "client-ca.key"):
        shutil.copy(seed_dir / name, tmp_path / name)
    (tmp_path / "openssl.cnf").write_text(OPENSSL_CNF.replace("CONNECT_ADDRESS", ADDRESS))
    openssl(
        tmp_path,
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
        "-extfile",
        "openssl.cnf",
        "-extensions",
        "v3_req",
    )
    report = check_material(
        certificate=read(tmp_path, "client.crt"), chain=read(tmp_path, "client-ca.crt"), policy=SEED
    )
    assert "cert.version" not in ids(report)


@pytest.mark.parametrize(
    ("make", "fix"),
    [
        (
            ["genrsa", "-aes256", "-passout", "pass:secret", "-out", "server.key", "2048"],
            ["pkey", "-in", "server.key", "-passin", "pass:secret", "-out", "server.key.plain"],
        ),
        (
            ["rsa", "-in", "plain.key", "-aes256", "-traditional", "-passout", "pass:secret", "-out", "server.key"],
            ["rsa", "-in", "server.key", "-passin", "pass:secret", "-traditional", "-out", "server.key.plain"],
        ),
    ],
    ids=["pkcs8-encrypted", "legacy-proc-type"],
)
def test_encrypted_keys_and_the_hint_fix(seed_dir: Path, tmp_path: Path, make: list[str], fix: list[str]) -> None:
    shutil.copy(seed_dir / "cloud.key", tmp_path / "plain.key")
    openssl(tmp_path, *make)
    report = check_material(certificate=None, private_key=read(tmp_path, "server.key"), policy=SEED)
    assert ids(report) == {"key.encrypted"}
    assert "openssl pkey -in KEY -out KEY.plain" in report.findings[0].hint
    openssl(tmp_path, *fix)
    assert check_material(certificate=None, private_key=read(tmp_path, "server.key.plain"), policy=SEED).findings == []


def test_der_and_pkcs12_and_their_fixes(seed_dir: Path, tmp_path: Path) -> None:
    openssl(tmp_path, "x509", "-in", str(seed_dir / "cloud.crt"), "-outform", "DER", "-out", "cloud.der")
    report = check_material(certificate=read(tmp_path, "cloud.der"), chain=read(seed_dir, "cloud-ca.crt"), policy=SEED)
    assert ids(report) == {"pem.encoding"}
    openssl(tmp_path, "x509", "-inform", "DER", "-in", "cloud.der", "-out", "cloud.der.pem")
    fixed = check_material(
        certificate=read(tmp_path, "cloud.der.pem"), chain=read(seed_dir, "cloud-ca.crt"), policy=SEED
    )
    assert fixed.findings == []
    openssl(
        tmp_path,
        "pkcs12",
        "-export",
        "-in",
        str(seed_dir / "cloud.crt"),
        "-inkey",
        str(seed_dir / "cloud.key"),
        "-passout",
        "pass:",
        "-out",
        "cloud.p12",
    )
    p12 = check_material(certificate=read(tmp_path, "cloud.p12"), policy=SEED)
    assert ids(p12) == {"pem.encoding"} and "PKCS#12" in p12.findings[0].message


def test_ec_key_from_ecparam_under_emqx_cloud(tmp_path: Path) -> None:
    """`openssl ecparam -genkey` writes EC PARAMETERS + a SEC1 key; the published rules take PKCS#1/PKCS#8 only."""
    (tmp_path / "ec.key").write_text(openssl(tmp_path, "ecparam", "-name", "prime256v1", "-genkey"))
    report = check_material(certificate=None, private_key=read(tmp_path, "ec.key"), policy=EMQX)
    assert ids(report) == {"pem.encoding"}
    assert any("SEC1" in f.message for f in report.findings)
    assert any("EC PARAMETERS" in f.message for f in report.findings)
    openssl(tmp_path, "pkey", "-in", "ec.key", "-out", "ec.key.pk8")
    assert check_material(certificate=None, private_key=read(tmp_path, "ec.key.pk8"), policy=EMQX).findings == []
    seed = check_material(certificate=None, private_key=read(tmp_path, "ec.key.pk8"), policy=SEED)
    assert ids(seed) == {"key.algorithm"}
