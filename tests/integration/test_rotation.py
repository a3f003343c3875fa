"""The rotation: ``certhygiene.tls.rotate`` (real ansible-playbook) over an inventory of three deployments served by
one real sandbox (three real mosquitto brokers): deploy, nothing to do, renew one, roll back a refused one."""

from __future__ import annotations

import hashlib
import ssl
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from support.ansible import run_playbook
from support.sandbox import SandboxProcess, running_sandbox

pytestmark = pytest.mark.integration

HOSTS = ["dep-a", "dep-b", "dep-c"]


def presented(port: int) -> str | None:
    """SHA-256 of the leaf a listener presents (the stdlib as an independent judge)."""
    try:
        text = ssl.get_server_certificate(("127.0.0.1", port), timeout=10)
    except OSError:
        return None
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(text)).hexdigest()


def file_fingerprint(path: Path) -> str:
    return x509.load_pem_x509_certificate(path.read_bytes()).fingerprint(hashes.SHA256()).hex()


def inventory(sb: SandboxProcess, root: Path, host_vars: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    hosts = {}
    for name in sb.ports:
        mqtts, wss = sb.ports[name]
        hosts[name] = {
            "ansible_python_interpreter": sys.executable,
            "pki_dir": str(root / "pki" / name),
            "deployment_tls_deployment_id": name,
            "deployment_tls_mqtts_port": mqtts,
            "deployment_tls_wss_port": wss,
            **(host_vars or {}).get(name, {}),
        }
    return {
        "deployments": {
            "hosts": hosts,
            "vars": {
                "pki_connect_address": "127.0.0.1",
                "deployment_tls_api_url": sb.api_url,
                "deployment_tls_api_key": sb.api_key,
                "deployment_tls_api_secret": sb.api_secret,
                "deployment_tls_host": "127.0.0.1",
                "deployment_tls_mqtt_username": sb.mqtt_user,
                "deployment_tls_mqtt_password": sb.mqtt_password,
                "deployment_tls_retry_delay": 0.1,
                "deployment_tls_wait_timeout": 60,
            },
        }
    }


def rotate(sb: SandboxProcess, root: Path, run: str, **host_vars: dict[str, Any]) -> Any:
    return run_playbook(
        root / run,
        [],
        playbook="certhygiene.tls.rotate",
        inventory=inventory(sb, root, host_vars),
        verbosity=1,
    )


def writes(sb: SandboxProcess) -> dict[str, int]:
    per = sb.stats()["deployments"]
    return {name: per[name]["writes"] for name in HOSTS}


def host_recap(output: str, host: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(host + " ") and "ok=" in line)


def test_rotate_three_deployments(tmp_path: Path) -> None:
    with running_sandbox(tmp_path / "sb", deployments=HOSTS) as sb:
        pki = {name: tmp_path / "pki" / name for name in HOSTS}

        # 1. the first run deploys all three
        first = rotate(sb, tmp_path, "first")
        assert first.returncode == 0, first.output[-6000:]
        assert writes(sb) == {"dep-a": 1, "dep-b": 1, "dep-c": 1}
        live = {name: file_fingerprint(pki[name] / "cloud.crt") for name in HOSTS}
        for name in HOSTS:
            mqtts, wss = sb.ports[name]
            assert presented(mqtts) == live[name] and presented(wss) == live[name]
        assert len(set(live.values())) == 3  # each deployment its own PKI

        # 2. nothing due: no change, no write
        attempts = sb.stats()["write_attempts"]
        second = rotate(sb, tmp_path, "second")
        assert second.returncode == 0, second.output[-6000:]
        assert second.changed == 0, second.output[-6000:]
        assert writes(sb) == {"dep-a": 1, "dep-b": 1, "dep-c": 1}
        assert sb.stats()["write_attempts"] == attempts
        assert second.output.count("nothing to push") == 3

        # 3. dep-b due for renewal: only dep-b is written, and presents the new certificate (same key)
        key_b = (pki["dep-b"] / "cloud.key").read_bytes()
        third = rotate(sb, tmp_path, "renew", **{"dep-b": {"pki_renew_before_days": 900}})
        assert third.returncode == 0, third.output[-6000:]
        assert writes(sb) == {"dep-a": 1, "dep-b": 2, "dep-c": 1}
        renewed = file_fingerprint(pki["dep-b"] / "cloud.crt")
        assert renewed != live["dep-b"]
        assert presented(sb.ports["dep-b"][0]) == renewed and presented(sb.ports["dep-b"][1]) == renewed
        assert (pki["dep-b"] / "cloud.key").read_bytes() == key_b
        for name in ("dep-a", "dep-c"):
            assert presented(sb.ports[name][0]) == live[name]
        live["dep-b"] = renewed

        # 4. dep-c gets a certificate for the wrong name: the probe fails hostname verification, it is rolled back
        old_c = (pki["dep-c"] / "cloud.crt").read_bytes()
        fourth = rotate(sb, tmp_path, "wrong-name", **{"dep-c": {"pki_connect_address": "wrong.example.com"}})
        assert fourth.returncode == 2, fourth.output[-6000:]
        assert "failed=1" in host_recap(fourth.output, "dep-c")
        for name in ("dep-a", "dep-b"):
            assert "failed=0" in host_recap(fourth.output, name)
        message = next(line for line in fourth.output.splitlines() if "Rotation of deployment dep-c failed" in line)
        assert "Probe mqtts" in message and "hostname" in message.lower()
        assert f"presents the previous certificate {_colon(live['dep-c'])}" in message
        assert "pushed back: 1 write" in message and "cloud.crt.rejected" in message
        # the endpoint presents the old certificate again; pki_dir holds the old files, the refused one beside them
        assert presented(sb.ports["dep-c"][0]) == live["dep-c"] and presented(sb.ports["dep-c"][1]) == live["dep-c"]
        assert (pki["dep-c"] / "cloud.crt").read_bytes() == old_c
        rejected = x509.load_pem_x509_certificate((pki["dep-c"] / "cloud.crt.rejected").read_bytes())
        assert "wrong.example.com" in rejected.subject.rfc4514_string()
        # one write for the rotation, one for the rollback; nothing for the others
        assert writes(sb) == {"dep-a": 1, "dep-b": 2, "dep-c": 3}
        for name in ("dep-a", "dep-b"):
            assert presented(sb.ports[name][0]) == live[name]

        for run in (first, second, third, fourth):
            assert sb.api_secret not in run.output and sb.mqtt_password not in run.output
            assert "PRIVATE KEY" not in run.output


def _colon(hexdigest: str) -> str:
    return ":".join(hexdigest[i : i + 2] for i in range(0, len(hexdigest), 2)).upper()


def test_a_rate_limited_rotation_is_reported_not_hammered(tmp_path: Path) -> None:
    """Two-way TLS, write limit reached: the 429's Retry-After (an hour) is beyond what a task waits, so the push
    stops at once; the previous certificate stays live (no rollback write), pki_dir is restored, the host says why."""
    with running_sandbox(tmp_path / "sb", deployments=["dep-a"], write_limit=1) as sb:
        inv = inventory(sb, tmp_path)
        inv["deployments"]["vars"].update(pki_two_way=True, pki_client_names=["probe-client", "device-1"])
        first = run_playbook(tmp_path / "first", [], playbook="certhygiene.tls.rotate", inventory=inv)
        assert first.returncode == 0, first.output[-6000:]
        assert sb.get_tls("dep-a").json["tlsType"] == "two-way"  # and the probes passed with probe-client.crt
        live = file_fingerprint(tmp_path / "pki" / "dep-a" / "cloud.crt")
        old = (tmp_path / "pki" / "dep-a" / "cloud.crt").read_bytes()
        attempts = sb.stats()["write_attempts"]

        inv["deployments"]["hosts"]["dep-a"]["pki_renew_before_days"] = 900
        limited = run_playbook(tmp_path / "limited", [], playbook="certhygiene.tls.rotate", inventory=inv)
        assert limited.returncode == 2, limited.output[-6000:]
        message = next(line for line in limited.output.splitlines() if "Rotation of deployment dep-a failed" in line)
        assert "429" in message and "retry after" in message
        assert "(it had not been replaced)" in message
        assert sb.stats()["write_attempts"] == attempts + 1  # one refused attempt, no retry, no rollback write
        assert sb.stats()["deployments"]["dep-a"]["rate_limited"] == 1
        assert presented(sb.ports["dep-a"][0]) == live
        assert (tmp_path / "pki" / "dep-a" / "cloud.crt").read_bytes() == old
        assert (tmp_path / "pki" / "dep-a" / "cloud.crt.rejected").exists()
