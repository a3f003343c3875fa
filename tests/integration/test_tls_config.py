"""tls_config / tls_config_info against the real sandbox (API + mosquitto), with real ansible-playbook runs."""

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


def api_args(sb: SandboxProcess, **extra: Any) -> dict[str, Any]:
    args = {
        "api_url": sb.api_url,
        "api_key": sb.api_key,
        "api_secret": sb.api_secret,
        "deployment_id": sb.deployment_id,
        "retry_delay": 0.1,
    }
    args.update(extra)
    return args


def push_args(sb: SandboxProcess, pki: SandboxPKI, tls_type: str = "one-way", **extra: Any) -> dict[str, Any]:
    args = api_args(
        sb,
        auth_type=tls_type,
        certificate_path=pki.path("server.pem"),
        certificate_chain_path=pki.path("ca.pem"),
        private_key_path=pki.path("server.key"),
        verify_endpoint={"host": sb.host, "port": sb.mqtts_port},
        wait_timeout=60,
    )
    if tls_type == "two-way":
        args["client_ca_certificate_path"] = pki.path("client-ca.pem")
    args.update(extra)
    return args


def play(*tasks: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": "tls_config", "hosts": "localhost", "gather_facts": False, "tasks": list(tasks)}]


def task(module: str, args: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": f"{module}", f"certhygiene.tls.{module}": args, **extra}


def probe_task(sb: SandboxProcess, pki: SandboxPKI, name: str, *, client: bool, transport: str = "mqtts") -> dict:
    port = sb.mqtts_port if transport == "mqtts" else sb.wss_port
    suffix = "/mqtt" if transport == "wss" else ""
    args: dict[str, Any] = {
        "url": f"{transport}://{sb.host}:{port}{suffix}",
        "server_name": "localhost",
        "ca_path": pki.path("ca.pem"),
        "username": sb.mqtt_user,
        "password": sb.mqtt_password,
        "fail_on_error": False,
    }
    if client:
        args.update(client_cert=pki.path("client.pem"), client_key=pki.path("client.key"))
    return {"name": name, "certhygiene.tls.tls_probe": args, "register": name}


def reset(sb: SandboxProcess) -> None:
    sb.clear_faults()
    if sb.get_tls().status == 200:
        assert sb.delete().status == 204


def test_push_one_way_is_idempotent_and_reads_back(tmp_path: Path, sandbox: SandboxProcess, pki: SandboxPKI) -> None:
    reset(sandbox)
    before = sandbox.stats()["writes"]
    run = run_playbook(
        tmp_path,
        play(
            task("tls_config", push_args(sandbox, pki), register="first"),
            task("tls_config", push_args(sandbox, pki), register="second"),
            task(
                "tls_config_info",
                api_args(sandbox, verify_endpoint={"host": sandbox.host, "port": sandbox.mqtts_port}),
                register="info",
            ),
            {
                "ansible.builtin.assert": {
                    "that": [
                        "first is changed",
                        "first.applied",
                        "first.after.status == 'running'",
                        "second is not changed",
                        "second.differences == []",
                        "info.present",
                        "info.config.tls_type == 'one-way'",
                        "info.config.cn == 'localhost'",
                        "info.config.endpoint.fingerprint_sha256 == first.desired.fingerprint_sha256",
                    ]
                }
            },
            probe_task(sandbox, pki, "mqtts", client=False),
            probe_task(sandbox, pki, "wss", client=False, transport="wss"),
            {"ansible.builtin.assert": {"that": ["mqtts.connected", "wss.connected"]}},
        ),
    )
    assert run.returncode == 0, run.output
    assert run.changed == 1
    assert sandbox.stats()["writes"] - before == 1  # the second push made no write
    assert sandbox.get_tls().json["tlsType"] == "one-way"


def test_canonical_content_names_and_old_aliases_push_the_same(
    tmp_path: Path, sandbox: SandboxProcess, pki: SandboxPKI
) -> None:
    """``X_content`` (the names of 0.2) pushes; the same material under the old short names is no change."""
    reset(sandbox)
    before = sandbox.stats()["writes"]

    def content(name: str) -> str:
        return f"{{{{ lookup('ansible.builtin.file', '{pki.path(name)}') }}}}"

    canonical = api_args(
        sandbox,
        certificate_content=content("server.pem"),
        chain_content=content("ca.pem"),
        private_key_content=content("server.key"),
        wait_timeout=60,
    )
    aliases = api_args(
        sandbox,
        certificate=content("server.pem"),
        chain=content("ca.pem"),
        private_key=content("server.key"),
        wait_timeout=60,
    )
    run = run_playbook(
        tmp_path,
        play(
            task("tls_config", canonical, register="first"),
            task("tls_config", aliases, register="second"),
            {"ansible.builtin.assert": {"that": ["first is changed", "first.applied", "second is not changed"]}},
        ),
    )
    assert run.returncode == 0, run.output
    assert sandbox.stats()["writes"] - before == 1


def test_check_mode_and_diff_predict_without_writing(tmp_path: Path, sandbox: SandboxProcess, pki: SandboxPKI) -> None:
    reset(sandbox)
    assert sandbox.push(pki.cert_with_chain, pki.key_pem).status == 200
    sandbox.wait_status("running")
    before = sandbox.stats()["write_attempts"]
    run = run_playbook(
        tmp_path,
        play(
            task("tls_config", push_args(sandbox, pki, "two-way"), register="r"),
            {
                "ansible.builtin.assert": {
                    "that": ["r is changed", "not r.applied", "r.differences == ['tlsType: one-way -> two-way']"]
                }
            },
        ),
        check=True,
        diff=True,
    )
    assert run.returncode == 0, run.output
    assert sandbox.stats()["write_attempts"] == before
    assert sandbox.get_tls().json["tlsType"] == "one-way"
    # the diff shows type, subject and fingerprints, never the key
    assert '"tls_type": "one-way"' in run.stdout or "tls_type: one-way" in run.stdout
    assert "Sandbox Client CA" in run.stdout and "fingerprint_sha256" in run.stdout
    assert "PRIVATE KEY" not in run.output


def test_two_way_refuses_a_client_without_certificate(tmp_path: Path, sandbox: SandboxProcess, pki: SandboxPKI) -> None:
    reset(sandbox)
    run = run_playbook(
        tmp_path,
        play(
            task("tls_config", push_args(sandbox, pki, "two-way"), register="push"),
            probe_task(sandbox, pki, "with_cert", client=True),
            probe_task(sandbox, pki, "without_cert", client=False),
            probe_task(sandbox, pki, "wss_without_cert", client=False, transport="wss"),
            {
                "ansible.builtin.assert": {
                    "that": [
                        "push is changed",
                        "with_cert.connected",
                        "not without_cert.connected",
                        "not wss_without_cert.connected",
                    ]
                }
            },
        ),
    )
    assert run.returncode == 0, run.output
    assert sandbox.get_tls().json["tlsType"] == "two-way"


def test_restart_keeps_the_configuration(tmp_path: Path, sandbox: SandboxProcess, pki: SandboxPKI) -> None:
    if sandbox.get_tls().status != 200 or sandbox.get_tls().json["tlsType"] != "two-way":
        assert (
            sandbox.push(pki.cert_with_chain, pki.key_pem, tls_type="two-way", cacert=pki.client_ca_pem).status == 200
        )
    sandbox.wait_status("running")
    sandbox.restart()
    sandbox.wait_status("running")
    run = run_playbook(
        tmp_path,
        play(
            task("tls_config", push_args(sandbox, pki, "two-way"), register="push"),
            probe_task(sandbox, pki, "with_cert", client=True),
            {"ansible.builtin.assert": {"that": ["push is not changed", "with_cert.connected"]}},
        ),
    )
    assert run.returncode == 0, run.output
    assert sandbox.stats()["write_attempts"] == 0  # counters restart with the process: nothing written since


def test_policy_errors_stop_the_task_before_anything_is_sent(
    tmp_path: Path, sandbox: SandboxProcess, pki: SandboxPKI
) -> None:
    ca = issue("Weak CA", private_key=key("rsa", 1024, 45), ca=True)
    weak = issue("localhost", issuer=ca, private_key=key("rsa", 4096, 46), dns=("localhost",))
    (tmp_path / "weak.pem").write_bytes(weak.cert_pem)
    (tmp_path / "weak.key").write_bytes(key_pem(weak.key))
    before = sandbox.stats()["write_attempts"]
    args = push_args(
        sandbox, pki, certificate_path=str(tmp_path / "weak.pem"), private_key_path=str(tmp_path / "weak.key")
    )
    run = run_playbook(tmp_path / "pb", play(task("tls_config", args)))
    assert run.returncode != 0 and run.failed == 1
    assert "nothing was sent to the deployment" in run.stdout
    assert "key.algorithm" in run.stdout  # RSA 4096 is outside the seed's RSA_1024/RSA_2048
    assert sandbox.stats()["write_attempts"] == before


def test_delete_warns_and_is_idempotent(tmp_path: Path, sandbox: SandboxProcess, pki: SandboxPKI) -> None:
    if sandbox.get_tls().status != 200:
        assert sandbox.push(pki.cert_with_chain, pki.key_pem).status == 200
        sandbox.wait_status("running")
    absent = api_args(sandbox, state="absent")
    run = run_playbook(
        tmp_path,
        play(
            task("tls_config", absent, register="first"),
            task("tls_config", absent, register="second"),
            task("tls_config_info", api_args(sandbox), register="info"),
            probe_task(sandbox, pki, "after", client=True),
            {
                "ansible.builtin.assert": {
                    "that": [
                        "first is changed",
                        "second is not changed",
                        "not info.present",
                        "not after.connected",
                        "after.stage == 'tcp'",
                    ]
                }
            },
        ),
    )
    assert run.returncode == 0, run.output
    assert run.changed == 1
    assert "disconnects every client on 8883 (mqtts) and 8084 (wss)" in run.output
    assert sandbox.get_tls().status == 404


def test_no_secret_or_key_in_any_output(tmp_path: Path, sandbox: SandboxProcess, pki: SandboxPKI) -> None:
    reset(sandbox)
    key_text = pki.key_pem.decode()
    key_lines = [line for line in key_text.splitlines() if line and not line.startswith("-----")]
    content_args = push_args(sandbox, pki)
    del content_args["private_key_path"]
    content_args["private_key"] = key_text
    wrong_secret = api_args(sandbox, api_secret=sandbox.api_secret + "-wrong", state="absent")
    run = run_playbook(
        tmp_path,
        play(
            task("tls_config", content_args, register="push"),
            probe_task(sandbox, pki, "probe", client=False),
            task("tls_config", wrong_secret, ignore_errors=True, register="denied"),
            {"ansible.builtin.assert": {"that": ["push is changed", "probe.connected", "denied is failed"]}},
        ),
        verbosity=4,
        diff=True,
    )
    assert run.returncode == 0, run.output
    assert "401 authentication failed" in run.output
    outputs = {"ansible-playbook -vvvv --diff": run.output, "sandbox logs": sandbox.log_text()}
    for where, text in outputs.items():
        assert sandbox.api_secret not in text, where
        assert sandbox.mqtt_password not in text, where
        assert "PRIVATE KEY-----" not in text.replace("[private key removed]", ""), where
        for line in key_lines[1:-1]:
            assert line not in text, where
