"""The enrol role under real ansible-playbook: five device hosts (local connection, one folder each) get client
certificates from a CA on the CA host while their keys stay where they were made."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.ansible import run_playbook

pytestmark = pytest.mark.integration

DEVICES = [f"device-{n}" for n in range(1, 6)]


def inventory(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    hosts = {
        name: {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "enrol_dir": str(tmp_path / "devices" / name),
        }
        for name in DEVICES
    }
    group_vars = {
        "enrol_ca_certificate_path": str(tmp_path / "ca" / "client-ca.crt"),
        "enrol_ca_key_path": str(tmp_path / "ca" / "client-ca.key"),
        **extra,
    }
    return {"devices": {"hosts": hosts, "vars": group_vars}}


PLAYS = [
    {
        "name": "The client CA, on the CA host",
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [
            {
                "name": "CA folder",
                "ansible.builtin.file": {"path": "{{ ca_dir }}", "state": "directory", "mode": "0700"},
            },
            {
                "name": "Client CA",
                "certhygiene.tls.certificate": {
                    "kind": "ca",
                    "path": "{{ ca_dir }}/client-ca.crt",
                    "private_key_path": "{{ ca_dir }}/client-ca.key",
                    "subject": {"CN": "Fleet Client CA"},
                },
            },
        ],
    },
    {
        "name": "Enrol the devices",
        "hosts": "devices",
        "gather_facts": False,
        "roles": ["certhygiene.tls.enrol"],
    },
]


def key_body_lines(path: Path) -> list[str]:
    """The base64 lines of a PEM private key (what must never appear anywhere but on its device)."""
    lines = path.read_text().splitlines()
    assert lines[0].startswith("-----BEGIN") and "PRIVATE KEY" in lines[0]
    return [line for line in lines[1:-1] if line and ":" not in line]


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)


def enrol(tmp_path: Path, run: str, verbosity: int = 0, check: bool = False, **extra: Any) -> Any:
    localhost = {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}
    inv = inventory(tmp_path, **extra)
    inv["all"] = {"hosts": localhost, "vars": {"ca_dir": str(tmp_path / "ca")}}
    return run_playbook(tmp_path / run, PLAYS, inventory=inv, verbosity=verbosity, check=check)


def test_check_mode_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "ca").mkdir()
    run = enrol(tmp_path, "check", check=True)
    assert run.returncode == 0, run.output[-4000:]
    assert run.output.count("would make the key and the request on the device") == len(DEVICES)
    assert not (tmp_path / "devices").exists() or not any((tmp_path / "devices").rglob("*.key"))


def test_five_devices_enrol_without_moving_keys(tmp_path: Path) -> None:
    first = enrol(tmp_path, "first", verbosity=3)
    assert first.returncode == 0, first.output[-4000:]
    ca_dir = tmp_path / "ca"
    ca_cert = str(ca_dir / "client-ca.crt")
    keys: dict[str, Path] = {}
    for name in DEVICES:
        folder = tmp_path / "devices" / name
        cert, key = folder / f"{name}.crt", folder / f"{name}.key"
        keys[name] = key
        assert (key.stat().st_mode & 0o777) == 0o600
        verify = openssl("verify", "-CAfile", ca_cert, "-purpose", "sslclient", str(cert))
        assert verify.returncode == 0 and f"{cert}: OK" in verify.stdout, verify.stdout + verify.stderr
        text = openssl("x509", "-in", str(cert), "-noout", "-subject", "-ext", "extendedKeyUsage").stdout
        assert f"CN = {name}" in text or f"CN={name}" in text
        assert "TLS Web Client Authentication" in text
        # the certificate carries the device's own key
        cert_pub = openssl("x509", "-in", str(cert), "-noout", "-pubkey").stdout
        key_pub = openssl("pkey", "-in", str(key), "-pubout").stdout
        assert cert_pub and cert_pub == key_pub

    # the CA's folder holds its own two files, nothing of any device
    assert sorted(p.name for p in ca_dir.iterdir()) == ["client-ca.crt", "client-ca.key"]
    ca_bytes = b"".join(p.read_bytes() for p in ca_dir.iterdir())
    # no key body anywhere in the -vvv output (which shows every registered result), nor on the CA host
    assert "<localhost>" in first.output or "ESTABLISH LOCAL CONNECTION" in first.output  # really -vvv
    for name, key in keys.items():
        body = key_body_lines(key)
        assert len(body) > 10
        for line in body:
            assert line not in first.output, f"a line of {name}'s key is in the -vvv output"
            assert line.encode() not in ca_bytes
        assert "".join(body) not in first.output.replace("\n", "").replace("\\n", "")
    assert "PRIVATE KEY-----" not in first.output.replace("BEGIN CERTIFICATE REQUEST", "")

    key_bytes = {name: key.read_bytes() for name, key in keys.items()}
    second = enrol(tmp_path, "second")
    assert second.returncode == 0, second.output[-4000:]
    assert second.changed == 0, second.output[-4000:]
    assert second.output.count("unchanged; key") == len(DEVICES)

    # within the renewal window: new certificates for the same keys
    before = {name: (tmp_path / "devices" / name / f"{name}.crt").read_bytes() for name in DEVICES}
    renewed = enrol(tmp_path, "renew", enrol_renew_before_days=900)
    assert renewed.returncode == 0, renewed.output[-4000:]
    for name in DEVICES:
        cert = tmp_path / "devices" / name / f"{name}.crt"
        assert cert.read_bytes() != before[name]
        assert keys[name].read_bytes() == key_bytes[name]
        assert openssl("verify", "-CAfile", ca_cert, str(cert)).returncode == 0
    assert "expires in" in renewed.output and "fewer than 900" in renewed.output


def test_a_request_for_a_refused_key_signs_nothing(tmp_path: Path) -> None:
    run = enrol(tmp_path, "ec", enrol_key_type="ec")
    assert run.returncode != 0
    assert "EC" in run.output and "seed" in run.output
    assert "Traceback" not in run.output
    for name in DEVICES:
        assert not (tmp_path / "devices" / name / f"{name}.crt").exists()
