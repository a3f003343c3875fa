"""The connection probe (engine, ``certhygiene probe``, ``certhygiene.tls.tls_probe``) against the real sandbox broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from certhygiene.probe import probe
from cryptography.hazmat.primitives import hashes
from support.ansible import run_playbook
from support.sandbox import SandboxPKI, running_sandbox

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SandboxPKI:
    return SandboxPKI(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, pki: SandboxPKI):
    """A sandbox with one-way TLS running (leaf for localhost and 127.0.0.1, signed by pki.ca)."""
    with running_sandbox(tmp_path_factory.mktemp("sandbox")) as sb:
        assert sb.push(pki.cert_with_chain, pki.key_pem).status == 200
        assert sb.wait_status()["status"] == "running"
        yield sb


def run(broker, pki, transport="mqtts", host="localhost", **kwargs):
    kwargs.setdefault("ca_path", pki.path("ca.pem"))
    kwargs.setdefault("username", broker.mqtt_user)
    kwargs.setdefault("password", broker.mqtt_password)
    port = kwargs.pop("port", broker.mqtts_port if transport == "mqtts" else broker.wss_port)
    return probe(host=host, port=port, transport=transport, timeout=10, **kwargs)


@pytest.mark.parametrize("transport", ["mqtts", "wss"])
def test_strict_probe_connects_and_reports_the_chain(broker, pki, transport):
    result = run(broker, pki, transport)
    assert result.connected, result.msg
    out = result.as_dict()
    assert out["stage"] == "connected"
    assert out["tls"]["verified"] and out["tls"]["version"] in ("TLSv1.2", "TLSv1.3") and out["tls"]["cipher"]
    assert out["connack"]["reason_code"] == 0
    assert out["chain_complete"]
    leaf, ca = out["chain"]
    assert leaf["common_name"] == "localhost" and ca["common_name"] == "Sandbox Server CA"
    assert leaf["fingerprint_sha256"] == pki.leaf.cert.fingerprint(hashes.SHA256()).hex(":").upper()
    assert 3000 < leaf["days_left"] <= 3650
    assert transport in out["url"] and (transport == "mqtts" or out["path"] == "/mqtt")


@pytest.mark.parametrize(
    ("case", "stage", "words"),
    [
        ("wrong-ca", "verification", ["does not verify", "other-ca.pem"]),
        ("system-trust", "verification", ["system trust"]),
        ("wrong-hostname", "hostname", ["does not match", "mqtt.example.com"]),
        ("ip-ok", "connected", []),
        ("wrong-password", "mqtt", ["refused the CONNECT", "username and password"]),
        ("no-credentials", "mqtt", ["refused the CONNECT"]),
        ("closed-port", "tcp", ["refused"]),
        ("plain-port", "handshake", ["handshake"]),
    ],
)
@pytest.mark.parametrize("transport", ["mqtts", "wss"])
def test_failures_name_the_part_that_failed(broker, pki, case, stage, words, transport):
    kwargs: dict = {}
    if case == "wrong-ca":
        kwargs["ca_path"] = pki.path("other-ca.pem")
    elif case == "system-trust":
        kwargs["ca_path"] = None
    elif case == "wrong-hostname":
        kwargs["server_name"] = "mqtt.example.com"
    elif case == "ip-ok":
        kwargs["host"] = "127.0.0.1"
    elif case == "wrong-password":
        kwargs["password"] = "not-the-password"
    elif case == "no-credentials":
        kwargs["username"] = kwargs["password"] = None
    elif case == "closed-port":
        from support.sandbox import free_ports

        kwargs["port"] = free_ports(1)[0]
    elif case == "plain-port":
        kwargs["port"] = broker.mqtt_port
    result = run(broker, pki, transport, **kwargs)
    assert result.stage == stage, result.msg
    assert result.connected is (stage == "connected")
    assert result.msg.startswith(stage if stage != "connected" else "connected")
    for word in words:
        assert word in result.msg
    assert broker.mqtt_password not in result.msg
    if stage in ("verification", "hostname"):
        assert result.chain and result.chain[0]["common_name"] == "localhost"  # what was presented, even unverified


# ---- the CLI -----------------------------------------------------------------------------------------------------


def cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "certhygiene.cli", "probe", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_cli_ok_text_and_json(broker, pki):
    env = {"MQTT_PW": broker.mqtt_password}
    url = f"wss://localhost:{broker.wss_port}/mqtt"
    text = cli(url, "--ca", pki.path("ca.pem"), "-u", broker.mqtt_user, "--password-env", "MQTT_PW", env=env)
    assert text.returncode == 0, text.stdout + text.stderr
    assert f"{url}: OK" in text.stdout and "CN=localhost" in text.stdout and "connack: Success" in text.stdout
    js = cli(
        url,
        "--ca",
        pki.path("ca.pem"),
        "-u",
        broker.mqtt_user,
        "--password-env",
        "MQTT_PW",
        "--format",
        "json",
        env=env,
    )
    out = json.loads(js.stdout)
    assert js.returncode == 0 and out["connected"] and out["stage"] == "connected"
    assert broker.mqtt_password not in text.stdout + text.stderr + js.stdout + js.stderr


def test_cli_failure_and_usage(broker, pki):
    url = f"mqtts://localhost:{broker.mqtts_port}"
    failed = cli(url, "--ca", pki.path("other-ca.pem"), "--format", "json")
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["stage"] == "verification"
    text = cli(url, "--server-name", "mqtt.example.com", "--ca", pki.path("ca.pem"))
    assert text.returncode == 1 and "FAILED at hostname" in text.stdout
    usage = cli("http://localhost", "--ca", pki.path("ca.pem"))
    assert usage.returncode == 2 and "mqtts://" in usage.stderr


# ---- the module -------------------------------------------------------------------------------------------------


def test_module_probe_in_a_playbook(broker, pki, tmp_path):
    common = {"ca_path": pki.path("ca.pem"), "username": broker.mqtt_user, "password": "{{ mqtt_password }}"}
    plays = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "mqtts",
                    "certhygiene.tls.tls_probe": {"url": f"mqtts://localhost:{broker.mqtts_port}", **common},
                    "register": "mqtts",
                },
                {
                    "name": "wss",
                    "certhygiene.tls.tls_probe": {"url": f"wss://localhost:{broker.wss_port}/mqtt", **common},
                    "register": "wss",
                },
                {
                    "name": "wrong password, not failing",
                    "certhygiene.tls.tls_probe": {
                        "url": f"mqtts://localhost:{broker.mqtts_port}",
                        **common,
                        "password": "wrong-password-xyz",
                        "fail_on_error": False,
                    },
                    "register": "refused",
                },
                {
                    "ansible.builtin.assert": {
                        "that": [
                            "mqtts.connected and mqtts.stage == 'connected' and not mqtts.changed",
                            "mqtts.chain[0].common_name == 'localhost'",
                            "wss.connected and wss.path == '/mqtt'",
                            "not refused.connected and refused.stage == 'mqtt'",
                        ]
                    }
                },
                {
                    "name": "hostname mismatch fails the task",
                    "certhygiene.tls.tls_probe": {
                        "url": f"mqtts://localhost:{broker.mqtts_port}",
                        "server_name": "mqtt.example.com",
                        **common,
                    },
                },
            ],
        }
    ]
    secrets = tmp_path / "secrets.yml"  # not -e: ansible-playbook -vvvv echoes its command line
    secrets.write_text(json.dumps({"mqtt_password": broker.mqtt_password}))
    plays[0]["vars_files"] = [str(secrets)]
    result = run_playbook(tmp_path, plays, check=True, verbosity=4)
    assert result.recap["failed"] == 1 and result.recap["changed"] == 0, result.output[-3000:]
    assert "hostname: the certificate presented by localhost" in result.output
    assert '"stage": "hostname"' in result.output
    assert broker.mqtt_password not in result.output


def test_a_silent_port_times_out_in_the_handshake():
    import socket

    with socket.socket() as silent:  # the kernel accepts the TCP connection; nobody speaks TLS
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        result = probe(host="127.0.0.1", port=silent.getsockname()[1], timeout=0.5)
    assert result.stage == "handshake" and "no TLS answer" in result.msg


def test_an_http_port_does_not_speak_tls(broker):
    result = probe(host="127.0.0.1", port=broker.api_port, timeout=5)
    assert result.stage == "handshake", result.msg
    assert "does not speak TLS" in result.msg
