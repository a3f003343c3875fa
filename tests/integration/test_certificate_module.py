"""certhygiene.tls.certificate and certhygiene.tls.client_certificates, run for real by ansible-playbook."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.ansible import run_playbook
from support.pki import key, key_pem

pytestmark = pytest.mark.integration


def play(*tasks: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": "certificates", "hosts": "localhost", "gather_facts": False, "tasks": list(tasks)}]


def cert_task(name: str, folder: Path, stem: str, register: str | None = None, **options: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "name": name,
        "certhygiene.tls.certificate": {
            "path": str(folder / f"{stem}.crt"),
            "private_key_path": str(folder / f"{stem}.key"),
            **options,
        },
    }
    if register:
        task["register"] = register
    return task


def issuer(folder: Path, stem: str) -> dict[str, str]:
    return {"issuer_certificate_path": str(folder / f"{stem}.crt"), "issuer_key_path": str(folder / f"{stem}.key")}


def show(var: str) -> dict[str, Any]:
    return {"name": f"show {var}", "ansible.builtin.debug": {"msg": f"RESULT {{{{ {var} | to_json }}}} END"}}


def result_of(output: str, index: int = 0) -> Any:
    chunks = [c.split(" END")[0] for c in output.split("RESULT ")[1:]]
    return json.loads(chunks[index].replace('\\"', '"'))


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir()) if p.is_file()}


def key_lines(*paths: Path) -> list[str]:
    lines: list[str] = []
    for path in paths:
        lines += [line for line in path.read_text().splitlines() if line and not line.startswith("-----")]
    return lines


def openssl_verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", "verify", "-x509_strict", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def hierarchy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Root CA, intermediate, server (signed by the intermediate) and client (signed by the root), via the module."""
    work = tmp_path_factory.mktemp("certificate_module")
    certs = work / "certs"
    certs.mkdir()
    # Reuse cached test keys for the CAs (the module keeps a fitting key); the leaves get new keys.
    for stem, slot in (("root", 60), ("inter", 61)):
        (certs / f"{stem}.key").write_bytes(key_pem(key("rsa", 2048, slot), "pkcs1"))
        (certs / f"{stem}.key").chmod(0o600)
    tasks = [
        cert_task("root CA", certs, "root", kind="ca", subject={"CN": "Root CA", "O": "Acme"}),
        cert_task(
            "intermediate", certs, "inter", kind="intermediate", subject={"CN": "Intermediate"}, **issuer(certs, "root")
        ),
        cert_task(
            "server",
            certs,
            "server",
            register="server",
            kind="server",
            subject={"CN": "mqtt.example.com", "O": "Acme"},
            subject_alt_names=["IP:127.0.0.1", "localhost"],
            csr_path=str(certs / "server.csr"),
            **issuer(certs, "inter"),
        ),
        cert_task("client", certs, "client", kind="client", subject={"CN": "device-1"}, **issuer(certs, "root")),
        show("server"),
    ]
    first = run_playbook(work / "first", play(*tasks), diff=True)
    assert first.returncode == 0, first.output[-3000:]
    return {"work": work, "certs": certs, "tasks": tasks, "first": first}


def test_first_run_makes_everything(hierarchy: dict[str, Any]) -> None:
    assert hierarchy["first"].changed == 4
    server = result_of(hierarchy["first"].stdout)
    assert server["subject_alt_names"] == ["DNS:localhost", "DNS:mqtt.example.com", "IP:127.0.0.1"]
    assert (
        server["key_action"] == "create" and server["certificate_action"] == "write" and server["csr_action"] == "write"
    )
    assert "certificate" in " ".join(server["changes"])
    assert server["issuer"] == "CN=Intermediate"
    certs = hierarchy["certs"]
    assert (certs / "root.key").read_bytes() == key_pem(key("rsa", 2048, 60), "pkcs1")  # kept, not replaced
    assert (certs / "server.key").stat().st_mode & 0o777 == 0o600


def test_openssl_accepts_the_hierarchy(hierarchy: dict[str, Any]) -> None:
    certs = hierarchy["certs"]
    server = openssl_verify(
        "-CAfile",
        str(certs / "root.crt"),
        "-untrusted",
        str(certs / "inter.crt"),
        "-purpose",
        "sslserver",
        "-verify_hostname",
        "mqtt.example.com",
        str(certs / "server.crt"),
    )
    assert server.returncode == 0, server.stdout + server.stderr
    client = openssl_verify("-CAfile", str(certs / "root.crt"), "-purpose", "sslclient", str(certs / "client.crt"))
    assert client.returncode == 0, client.stdout + client.stderr
    csr = subprocess.run(
        ["openssl", "req", "-verify", "-noout", "-in", str(certs / "server.csr")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert csr.returncode == 0, csr.stderr
    text = subprocess.run(
        ["openssl", "x509", "-noout", "-text", "-in", str(certs / "inter.crt")],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert "CA:TRUE, pathlen:0" in text and "Certificate Sign, CRL Sign" in text


def test_second_run_changes_nothing(hierarchy: dict[str, Any]) -> None:
    before = snapshot(hierarchy["certs"])
    second = run_playbook(hierarchy["work"] / "second", play(*hierarchy["tasks"]))
    assert second.returncode == 0, second.output[-3000:]
    assert second.changed == 0
    assert result_of(second.stdout)["changes"] == []
    assert snapshot(hierarchy["certs"]) == before


def test_check_mode_predicts_a_new_san_and_writes_nothing(hierarchy: dict[str, Any]) -> None:
    certs = hierarchy["certs"]
    before = snapshot(certs)
    tasks = [dict(t) for t in hierarchy["tasks"]]
    server = dict(tasks[2]["certhygiene.tls.certificate"])
    server["subject_alt_names"] = [*server["subject_alt_names"], "DNS:mqtt2.example.com"]
    tasks[2] = {**tasks[2], "certhygiene.tls.certificate": server}
    run = run_playbook(hierarchy["work"] / "check", play(*tasks), check=True, diff=True)
    assert run.returncode == 0, run.output[-3000:]
    assert run.changed == 1
    result = result_of(run.stdout)
    assert result["changes"] == [
        "subject_alt_names change: add DNS:mqtt2.example.com",
        "the CSR's subject_alt_names change: write it",
    ]
    assert result["key_action"] == "keep"
    assert '+        "DNS:mqtt2.example.com",' in run.stdout
    assert snapshot(certs) == before
    # and the real run does what check mode said
    real = run_playbook(hierarchy["work"] / "real", play(*tasks))
    assert real.changed == 1 and result_of(real.stdout)["changes"] == result["changes"]
    assert (certs / "server.key").read_bytes() == before["server.key"][0]
    again = run_playbook(hierarchy["work"] / "again", play(*tasks))
    assert again.changed == 0


def test_no_key_bytes_in_vvvv_and_diff_output_even_with_issuer_key_content(
    tmp_path: Path, hierarchy: dict[str, Any]
) -> None:
    certs = hierarchy["certs"]
    task = cert_task(
        "client from key content",
        tmp_path,
        "device",
        kind="client",
        subject={"CN": "device-9"},
        issuer_certificate_content=(certs / "root.crt").read_text(),
        issuer_key_content=(certs / "root.key").read_text(),
    )
    run = run_playbook(tmp_path / "run", play(task), verbosity=4, diff=True)
    assert run.returncode == 0, run.output[-3000:]
    assert "<localhost> ESTABLISH LOCAL CONNECTION" in run.output
    assert "PRIVATE KEY-----" not in run.output
    for line in key_lines(certs / "root.key", tmp_path / "device.key"):
        assert line not in run.output


def test_ec_is_refused_under_seed_and_made_under_emqx_cloud(tmp_path: Path) -> None:
    ec_ca = cert_task("EC CA", tmp_path, "ec-ca", kind="ca", key_type="ec", subject={"CN": "EC CA"})
    refused = run_playbook(tmp_path / "seed", play(ec_ca))
    assert refused.failed == 1
    assert "EC_prime256v1 is not allowed by policy 'seed': it allows RSA_1024, RSA_2048" in refused.output
    assert not (tmp_path / "ec-ca.key").exists()
    cloud = {"profile": "emqx-cloud", "key_type": "ec"}
    made = run_playbook(
        tmp_path / "cloud",
        play(
            cert_task("EC CA", tmp_path, "ec-ca", kind="ca", subject={"CN": "EC CA"}, **cloud),
            cert_task(
                "EC server",
                tmp_path,
                "ec-server",
                subject={"CN": "mqtt.example.com"},
                **cloud,
                **issuer(tmp_path, "ec-ca"),
            ),
        ),
    )
    assert made.returncode == 0, made.output[-3000:]
    verify = openssl_verify("-CAfile", str(tmp_path / "ec-ca.crt"), str(tmp_path / "ec-server.crt"))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert (tmp_path / "ec-server.key").read_bytes().startswith(b"-----BEGIN EC PRIVATE KEY-----")


def test_unreadable_key_fails_naming_the_file_and_is_left_alone(tmp_path: Path, hierarchy: dict[str, Any]) -> None:
    encrypted = key_pem(key("rsa", 2048, 62), "pkcs8", b"passphrase")
    (tmp_path / "locked.key").write_bytes(encrypted)
    task = cert_task(
        "client", tmp_path, "locked", kind="client", subject={"CN": "locked"}, **issuer(hierarchy["certs"], "root")
    )
    run = run_playbook(tmp_path / "run", play(task))
    assert run.failed == 1
    assert f"{tmp_path / 'locked.key'}: the private key is encrypted (passphrase-protected)" in run.output
    assert "regenerate_key: true" in run.output
    assert "Traceback" not in run.output
    assert (tmp_path / "locked.key").read_bytes() == encrypted
    assert not (tmp_path / "locked.crt").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"kind": "server", "subject": {"CN": "intranet"}, "subject_alt_names": ["localhost"], "signed": True},
            "needs the deployment's fully qualified domain name or IP address",
        ),
        ({"kind": "client", "subject": {"CN": "c"}}, "kind client needs an issuer"),
        ({"kind": "ca", "subject": {"CN": "c", "C": "Germany"}}, "C must be a two-letter country code"),
        ({"kind": "ca", "subject": {"CN": "c"}, "key_size": 4096}, "RSA_4096 is not allowed by policy 'seed'"),
        ({"kind": "ca", "subject": {"CN": "c"}, "signed": True}, "a ca certificate is self-signed"),
    ],
)
def test_bad_options_fail_with_a_clear_message(
    tmp_path: Path, hierarchy: dict[str, Any], options: dict[str, Any], message: str
) -> None:
    options = dict(options)
    if options.pop("signed", False):
        options.update(issuer(hierarchy["certs"], "root"))
    run = run_playbook(tmp_path, play(cert_task("bad", tmp_path, "bad", **options)))
    assert run.failed == 1 and message in run.output
    assert "Traceback" not in run.output
    assert not (tmp_path / "bad.key").exists()


def clients_task(folder: Path, ca: Path, names: list[str], register: str = "clients") -> dict[str, Any]:
    return {
        "name": "client certificates",
        "register": register,
        "certhygiene.tls.client_certificates": {
            "names": names,
            "dir": str(folder),
            "ca_certificate_path": str(ca / "root.crt"),
            "ca_key_path": str(ca / "root.key"),
            "subject": {"O": "Acme Fleet"},
        },
    }


def test_client_certificates_batch(tmp_path: Path, hierarchy: dict[str, Any]) -> None:
    ca = hierarchy["certs"]
    folder = tmp_path / "clients"
    folder.mkdir()
    first = run_playbook(
        tmp_path / "first", play(clients_task(folder, ca, ["dev-1", "dev-2", "dev-3"]), show("clients"))
    )
    assert first.returncode == 0, first.output[-3000:]
    result = result_of(first.stdout)
    assert result["created"] == ["dev-1", "dev-2", "dev-3"] and result["renewed"] == [] and result["unchanged"] == []
    assert result["key_generation"] in ("process", "thread")
    for name in ("dev-1", "dev-2", "dev-3"):
        verify = openssl_verify("-CAfile", str(ca / "root.crt"), "-purpose", "sslclient", str(folder / f"{name}.crt"))
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert (folder / f"{name}.key").stat().st_mode & 0o777 == 0o600
        assert result["certificates"][name]["path"] == str(folder / f"{name}.crt")

    before = snapshot(folder)
    check = run_playbook(
        tmp_path / "check",
        play(clients_task(folder, ca, ["dev-1", "dev-2", "dev-3", "dev-4"]), show("clients")),
        check=True,
        diff=True,
    )
    assert check.returncode == 0 and check.changed == 1
    predicted = result_of(check.stdout)
    assert predicted["created"] == ["dev-4"] and predicted["unchanged"] == ["dev-1", "dev-2", "dev-3"]
    assert predicted["key_generation"] == "none"
    assert snapshot(folder) == before

    (folder / "dev-2.crt").unlink()
    second = run_playbook(
        tmp_path / "second", play(clients_task(folder, ca, ["dev-1", "dev-2", "dev-3", "dev-4"]), show("clients"))
    )
    result = result_of(second.stdout)
    assert result["created"] == ["dev-2", "dev-4"] and result["unchanged"] == ["dev-1", "dev-3"]
    assert (folder / "dev-2.key").read_bytes() == before["dev-2.key"][0]  # the key was kept
    assert "PRIVATE KEY-----" not in first.output + check.output + second.output

    third = run_playbook(tmp_path / "third", play(clients_task(folder, ca, ["dev-1", "dev-2", "dev-3", "dev-4"])))
    assert third.returncode == 0 and third.changed == 0


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["ok", "../escape"], "client name '../escape' cannot be a file name"),
        (["twice", "twice"], "names: twice is listed twice"),
    ],
)
def test_client_certificates_refuse_bad_names(
    tmp_path: Path, hierarchy: dict[str, Any], names: list[str], message: str
) -> None:
    run = run_playbook(tmp_path, play(clients_task(tmp_path, hierarchy["certs"], names)))
    assert run.failed == 1 and message in run.output
    assert not list(tmp_path.glob("*.key"))
