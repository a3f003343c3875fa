"""``certhygiene sandbox``: the deployment API on loopback driving a real mosquitto (real processes, real TLS)."""

from __future__ import annotations

import base64
import datetime
import http.client
import os
import socket
import stat
import time
import urllib.error

import pytest
from certhygiene.probe import probe
from support.pki import issue, key, pem
from support.sandbox import SandboxPKI, free_ports, running_sandbox, sandbox_fixture

pytestmark = pytest.mark.integration

sandbox = sandbox_fixture(scope="module")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SandboxPKI:
    return SandboxPKI(tmp_path_factory.mktemp("pki"))


def probe_sandbox(sb, pki, transport="mqtts", **kwargs):
    port = sb.mqtts_port if transport == "mqtts" else sb.wss_port
    kwargs.setdefault("ca_path", pki.path("ca.pem"))
    kwargs.setdefault("username", sb.mqtt_user)
    kwargs.setdefault("password", sb.mqtt_password)
    return probe(host="localhost", port=port, transport=transport, timeout=10, **kwargs)


def ensure_one_way(sb, pki):
    if sb.get_tls().json != {"tlsType": "one-way", "cn": "localhost", "expire": _expire(pki.leaf), "status": "running"}:
        resp = sb.push(pki.cert_with_chain, pki.key_pem)
        assert resp.status == 200, resp
        assert sb.wait_status()["status"] == "running"


def _expire(issued) -> str:
    return issued.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- auth and errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "path", "status"),
    [
        (False, "/deployments/sandbox/tls", 401),
        (("nobody", "nothing"), "/deployments/sandbox/tls", 401),
        ("wrong-secret", "/deployments/sandbox/tls", 401),
        (True, "/deployments/another/tls", 403),
        (True, "/deployments/sandbox/nothing", 404),
    ],
)
def test_auth_and_paths(sandbox, auth, path, status):
    if auth == "wrong-secret":
        auth = (sandbox.api_key, "not-the-secret")
    resp = sandbox.request("GET", path, auth=auth)
    assert resp.status == status, resp
    assert resp.json["code"] == status and resp.json["message"]
    if status == 401:
        assert resp.headers["WWW-Authenticate"].startswith("Basic")


def test_bad_bodies(sandbox, pki):
    sandbox.delete()
    assert sandbox.get_tls().status == 404
    assert "no TLS" in sandbox.get_tls().json["message"]
    assert sandbox.request("POST", sandbox.tls_path, raw=b"{not json").status == 400
    assert sandbox.request("POST", sandbox.tls_path, {"tlsType": "three-way", "cert": "x", "key": "y"}).status == 400
    resp = sandbox.push(pki.cert_with_chain, pki.key_pem, tls_type="two-way")  # no cacert
    assert resp.status == 400 and "cacert" in resp.json["message"]
    resp = sandbox.push(pki.cert_with_chain, pki.key_pem, method="PUT")  # nothing to update
    assert resp.status == 404 and "POST" in resp.json["message"]
    assert sandbox.request("DELETE", sandbox.tls_path).status == 404


@pytest.mark.parametrize(
    ("case", "rule"),
    [
        ("rsa4096", "key.algorithm"),
        ("expired", "cert.validity"),
        ("no-chain", "chain.required"),
        ("wrong-key", "pair.mismatch"),
    ],
)
def test_rejected_certificate_is_422_with_findings(sandbox, pki, case, rule):
    writes = sandbox.stats()["writes"]
    before = sandbox.get_tls()
    cert, private_key = pki.cert_with_chain, pki.key_pem
    if case == "rsa4096":
        big = issue("localhost", issuer=pki.ca, private_key=key("rsa", 4096, 45), dns=("localhost",))
        cert, private_key = pem(big, pki.ca), big.key_pem
    elif case == "expired":
        now = datetime.datetime.now(datetime.timezone.utc)
        old = issue(
            "localhost",
            issuer=pki.ca,
            private_key=key("rsa", 2048, 41),
            dns=("localhost",),
            not_before=now - datetime.timedelta(days=400),
            not_after=now - datetime.timedelta(days=1),
        )
        cert = pem(old, pki.ca)
    elif case == "no-chain":
        cert = pki.leaf_pem
    elif case == "wrong-key":
        private_key = pki.client.key_pem
    resp = sandbox.push(cert, private_key)
    assert resp.status == 422, resp
    assert resp.json["message"].startswith("certificate rejected")
    assert rule in {f["rule_id"] for f in resp.json["findings"]}
    assert all({"rule_id", "severity", "message", "hint"} <= set(f) for f in resp.json["findings"])
    assert sandbox.stats()["writes"] == writes  # nothing stored, not a write
    assert sandbox.get_tls().json == before.json


# ---- one-way: push, status, probe, idempotence, restart, delete ---------------------------------------------


def test_one_way_push_runs_and_serves_mqtts_and_wss(sandbox, pki):
    sandbox.delete()
    writes = sandbox.stats()["writes"]
    resp = sandbox.request(
        "POST",
        sandbox.tls_path,
        {"tlsType": "one-way", "cert": pki.cert_with_chain.decode(), "key": pki.key_pem.decode()},
    )
    assert resp.status == 200
    assert resp.json == {"tlsType": "one-way", "cn": "localhost", "expire": _expire(pki.leaf), "status": "pending"}
    assert sandbox.wait_status()["status"] == "running"
    assert sandbox.stats()["writes"] == writes + 1
    got = sandbox.get_tls()
    assert set(got.json) == {"tlsType", "cn", "expire", "status"}  # never the certificate or the key
    assert b"BEGIN" not in got.body

    for transport in ("mqtts", "wss"):
        result = probe_sandbox(sandbox, pki, transport)
        assert result.connected, result.msg
        assert result.stage == "connected"
        assert [c["common_name"] for c in result.chain] == ["localhost", "Sandbox Server CA"]

    # a second POST is a conflict; reading changes nothing
    assert sandbox.push(pki.cert_with_chain, pki.key_pem, method="POST").status == 409
    assert sandbox.stats()["writes"] == writes + 1

    key_file = os.path.join(sandbox.data_dir, "mosquitto", "server.key")
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(sandbox.data_dir, "state.db")).st_mode) == 0o600


def test_restart_keeps_the_configuration(sandbox, pki):
    ensure_one_way(sandbox, pki)
    sandbox.restart()
    assert sandbox.get_tls().json["status"] == "running"
    assert sandbox.state()["listeners"] == {
        "mqtt": sandbox.mqtt_port,
        "mqtts": sandbox.mqtts_port,
        "wss": sandbox.wss_port,
    }
    assert probe_sandbox(sandbox, pki, "mqtts").connected
    assert probe_sandbox(sandbox, pki, "wss").connected


def test_two_way_requires_a_client_certificate(sandbox, pki):
    ensure_one_way(sandbox, pki)
    resp = sandbox.push(pki.cert_with_chain, pki.key_pem, tls_type="two-way", cacert=pki.client_ca_pem, method="PUT")
    assert resp.status == 200 and resp.json["tlsType"] == "two-way"
    assert sandbox.wait_status()["status"] == "running"
    for transport in ("mqtts", "wss"):
        refused = probe_sandbox(sandbox, pki, transport)
        assert not refused.connected
        assert refused.stage == "handshake", refused.msg
        assert "client certificate" in refused.msg
        ok = probe_sandbox(
            sandbox, pki, transport, client_cert=pki.path("client.pem"), client_key=pki.path("client.key")
        )
        assert ok.connected, ok.msg
    # a client certificate from another CA is refused too
    stranger = probe_sandbox(
        sandbox, pki, "mqtts", client_cert=pki.path("server.pem"), client_key=pki.path("server.key")
    )
    assert not stranger.connected and stranger.stage == "handshake"


def test_delete_closes_the_tls_listeners(sandbox, pki):
    ensure_one_way(sandbox, pki)
    writes = sandbox.stats()["writes"]
    resp = sandbox.delete()
    assert resp.status == 204 and resp.body == b""
    assert sandbox.stats()["writes"] == writes + 1
    assert sandbox.get_tls().status == 404
    for transport in ("mqtts", "wss"):
        result = probe_sandbox(sandbox, pki, transport)
        assert result.stage == "tcp" and "refused" in result.msg
    assert sandbox.state()["listeners"]["mqtts"] is None
    assert not os.path.exists(os.path.join(sandbox.data_dir, "mosquitto", "server.key"))
    # the plain listener stays
    with socket.create_connection(("127.0.0.1", sandbox.mqtt_port), timeout=5):
        pass


# ---- faults ------------------------------------------------------------------------------------------------


def test_scripted_faults(sandbox, pki):
    sandbox.set_faults(next=["500", "429", "drop", "slow"], slow=0.2)
    try:
        first = sandbox.get_tls()
        assert first.status == 500
        second = sandbox.get_tls()
        assert second.status == 429 and second.headers["Retry-After"] == "1"
        with pytest.raises((urllib.error.URLError, http.client.RemoteDisconnected, ConnectionError)):
            sandbox.get_tls()
        slow = sandbox.get_tls()  # slow, then answered normally
        assert slow.status in (200, 404)
        assert sandbox.get_tls().status in (200, 404)  # the script is over
        assert {k: v for k, v in sandbox.stats()["faults"].items() if v} == {"500": 1, "429": 1, "drop": 1, "slow": 1}
    finally:
        sandbox.clear_faults()


def test_faults_only_on_chosen_methods_and_write_not_applied(sandbox, pki):
    sandbox.delete()
    writes = sandbox.stats()["writes"]
    sandbox.set_faults(next=["500", "drop"], methods=["POST"])
    try:
        assert sandbox.get_tls().status == 404  # GET is not faulted
        assert sandbox.push(pki.cert_with_chain, pki.key_pem, method="POST").status == 500
        with pytest.raises((urllib.error.URLError, http.client.RemoteDisconnected, ConnectionError)):
            sandbox.push(pki.cert_with_chain, pki.key_pem, method="POST")
        assert sandbox.get_tls().status == 404  # neither fault applied anything
        assert sandbox.stats()["writes"] == writes
        assert sandbox.push(pki.cert_with_chain, pki.key_pem, method="POST").status == 200
    finally:
        sandbox.clear_faults()
    assert sandbox.wait_status()["status"] == "running"


def test_random_faults_from_the_command_line(tmp_path):
    with running_sandbox(tmp_path, fault_rate=1.0, faults="500", fault_seed=7) as sb:
        assert [sb.get_tls().status for _unused in range(3)] == [500, 500, 500]
        assert sb.stats()["faults"]["500"] == 3
        assert sb.request("GET", "/_sandbox/faults").json["rate"] == 1.0


# ---- write limit --------------------------------------------------------------------------------------------


def test_write_limit_answers_429_with_retry_after(tmp_path):
    pki = SandboxPKI(tmp_path / "pki")
    with running_sandbox(tmp_path / "sb", write_limit=2) as sb:
        assert sb.push(pki.cert_with_chain, pki.key_pem).status == 200
        assert sb.push(pki.cert_with_chain, pki.key_pem).status == 200
        limited = sb.push(pki.cert_with_chain, pki.key_pem)
        assert limited.status == 429, limited
        assert 3500 <= int(limited.headers["Retry-After"]) <= 3600
        assert "write limit" in limited.json["message"]
        assert sb.delete().status == 429
        assert sb.get_tls().status == 200  # reads are never limited
        assert sb.stats()["writes"] == 2 and sb.stats()["rate_limited"] == 2
        sb.restart()  # the window is kept in SQLite
        assert sb.push(pki.cert_with_chain, pki.key_pem).status == 429


# ---- process hygiene ----------------------------------------------------------------------------------------


def test_killed_sandbox_takes_mosquitto_down(tmp_path):
    with running_sandbox(tmp_path) as sb:
        pid = sb.state()["mosquitto"]["pid"]
        assert pid
        sb.kill()
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()


def test_cli_prints_where_it_listens_and_never_a_secret(sandbox, pki):
    ensure_one_way(sandbox, pki)
    sandbox.request("GET", sandbox.tls_path, auth=(sandbox.api_key, "wrong"))
    log = sandbox.log_text()
    assert f"api_url:   {sandbox.api_url}" in log
    assert f"mqtts://127.0.0.1:{sandbox.mqtts_port}" in log
    assert sandbox.api_secret not in log
    assert sandbox.mqtt_password not in log
    assert base64.b64encode(f"{sandbox.api_key}:{sandbox.api_secret}".encode()).decode() not in log
    key_body = [line for line in pki.key_pem.decode().splitlines() if line and not line.startswith("-----")]
    assert not [line for line in key_body if line in log]
    client_key = pki.client.key_pem.decode().splitlines()[1]
    assert client_key not in log


def test_stopping_is_clean(tmp_path):
    sb = running_sandbox(tmp_path)
    with sb as proc:
        pid = proc.state()["mosquitto"]["pid"]
        assert proc.stop() == 0
    assert not os.path.exists(f"/proc/{pid}")


def test_bad_arguments(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "certhygiene.cli",
            "sandbox",
            "--data-dir",
            str(tmp_path),
            "--mqtts-port",
            "1",
            "--wss-port",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "distinct" in result.stderr


def test_port_in_use_fails_the_start_with_mosquittos_reason(tmp_path):
    import subprocess
    import sys

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        mqtts, wss = free_ports(2)
        ports = ["--mqtt-port", str(port), "--mqtts-port", str(mqtts), "--wss-port", str(wss)]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "certhygiene.cli",
                "sandbox",
                "--data-dir",
                str(tmp_path),
                "--api-port",
                "0",
                *ports,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert "cannot start" in result.stderr and "Address already in use" in result.stderr


def test_apply_failure_is_reported_as_failed_and_recovers(tmp_path):
    pki = SandboxPKI(tmp_path / "pki")
    with running_sandbox(tmp_path / "sb") as sb:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", sb.mqtts_port))
            busy.listen()
            assert sb.push(pki.cert_with_chain, pki.key_pem).status == 200
            failed = sb.wait_status()
        assert failed["status"] == "failed" and "Address already in use" in failed["message"]
        assert sb.state()["mosquitto"]["running"]  # back on the plain listener
        assert sb.push(pki.cert_with_chain, pki.key_pem).status == 200  # PUT: the configuration exists
        assert sb.wait_status() == {
            "tlsType": "one-way",
            "cn": "localhost",
            "expire": _expire(pki.leaf),
            "status": "running",
        }
