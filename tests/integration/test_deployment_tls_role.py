"""The deployment_tls role against the real sandbox: check -> push -> wait until running -> probe mqtts and wss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.ansible import run_playbook
from support.pki import issue, key, key_pem
from support.sandbox import SandboxPKI, SandboxProcess, sandbox_fixture

pytestmark = pytest.mark.integration

sandbox = sandbox_fixture(scope="module")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SandboxPKI:
    return SandboxPKI(tmp_path_factory.mktemp("pki"))


def role_vars(sb: SandboxProcess, pki: SandboxPKI, **extra: Any) -> dict[str, Any]:
    settings = {
        "deployment_tls_api_url": sb.api_url,
        "deployment_tls_api_key": sb.api_key,
        "deployment_tls_api_secret": sb.api_secret,
        "deployment_tls_deployment_id": sb.deployment_id,
        "deployment_tls_certificate_path": pki.path("server.pem"),
        "deployment_tls_certificate_chain_path": pki.path("ca.pem"),
        "deployment_tls_private_key_path": pki.path("server.key"),
        "deployment_tls_client_ca_certificate_path": pki.path("client-ca.pem"),
        "deployment_tls_host": sb.host,
        "deployment_tls_server_name": "localhost",
        "deployment_tls_mqtts_port": sb.mqtts_port,
        "deployment_tls_wss_port": sb.wss_port,
        "deployment_tls_server_ca_path": pki.path("ca.pem"),
        "deployment_tls_mqtt_username": sb.mqtt_user,
        "deployment_tls_mqtt_password": sb.mqtt_password,
        "deployment_tls_retry_delay": 0.1,
        "deployment_tls_wait_timeout": 60,
    }
    settings.update(extra)
    return settings


def apply(tmp_path: Path, sb: SandboxProcess, pki: SandboxPKI, *checks: str, **extra: Any) -> Any:
    plays = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {"ansible.builtin.include_role": {"name": "certhygiene.tls.deployment_tls"}},
                {"ansible.builtin.assert": {"that": list(checks) or ["true"]}},
            ],
        }
    ]
    return run_playbook(tmp_path, plays, extra_vars=role_vars(sb, pki, **extra), verbosity=1)


def test_one_way_then_two_way_then_absent(tmp_path: Path, sandbox: SandboxProcess, pki: SandboxPKI) -> None:
    start = sandbox.stats()["writes"]
    first = apply(
        tmp_path / "one-way",
        sandbox,
        pki,
        "deployment_tls_push is changed",
        "deployment_tls_mqtts.connected",
        "deployment_tls_wss.connected",
        "deployment_tls_mqtts.tls.verified",
    )
    assert first.returncode == 0, first.output
    assert first.changed == 1

    again = apply(
        tmp_path / "again",
        sandbox,
        pki,
        "deployment_tls_push is not changed",
        "deployment_tls_mqtts.connected",
        "deployment_tls_wss.connected",
    )
    assert again.returncode == 0, again.output
    assert again.changed == 0
    assert sandbox.stats()["writes"] - start == 1

    two_way = apply(
        tmp_path / "two-way",
        sandbox,
        pki,
        "deployment_tls_push is changed",
        "deployment_tls_push.differences == ['tlsType: one-way -> two-way']",
        "deployment_tls_mqtts.connected",
        "deployment_tls_wss.connected",
        deployment_tls_auth_type="two-way",
        deployment_tls_client_certificate_path=pki.path("client.pem"),
        deployment_tls_client_key_path=pki.path("client.key"),
    )
    assert two_way.returncode == 0, two_way.output
    assert sandbox.get_tls().json["tlsType"] == "two-way"

    absent = apply(tmp_path / "absent", sandbox, pki, "deployment_tls_delete is changed", deployment_tls_state="absent")
    assert absent.returncode == 0, absent.output
    assert "disconnects every client on 8883 (mqtts) and 8084 (wss)" in absent.output
    assert sandbox.get_tls().status == 404
    for text in (first.output, two_way.output, absent.output):
        assert sandbox.api_secret not in text and sandbox.mqtt_password not in text


def test_bad_material_stops_at_the_check(tmp_path: Path, sandbox: SandboxProcess, pki: SandboxPKI) -> None:
    expired = issue("localhost", issuer=pki.ca, private_key=key("rsa", 2048, 47), dns=("localhost",), days=30)
    (tmp_path / "short.pem").write_bytes(expired.cert_pem)
    (tmp_path / "short.key").write_bytes(key_pem(expired.key))
    before = sandbox.stats()["write_attempts"]
    run = apply(
        tmp_path / "pb",
        sandbox,
        pki,
        deployment_tls_certificate_path=str(tmp_path / "short.pem"),
        deployment_tls_private_key_path=str(tmp_path / "short.key"),
    )
    assert run.returncode != 0
    assert "cert.validity" in run.stdout
    assert "Check the material against the deployment's import rules" in run.stdout
    assert sandbox.stats()["write_attempts"] == before
