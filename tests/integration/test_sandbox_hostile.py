"""The sandbox under attack (issue 9): where it listens, auth on every path, concurrent writes, malformed
requests, material in the wrong field, file modes, idle connections, backlog and a connection cap.

Real processes only: ``certhygiene sandbox`` as a subprocess, a real mosquitto, raw sockets on loopback, and the
kernel's socket table (/proc/net/tcp, /proc/net/tcp6) as the judge of where something listens.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import random
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from certhygiene.sandbox.mosquitto import find_mosquitto
from support.sandbox import SandboxPKI, SandboxProcess, running_sandbox, sandbox_fixture

pytestmark = pytest.mark.integration

sandbox = sandbox_fixture(scope="module")

EXISTS = "deployment 'sandbox' already has a TLS/SSL configuration; update it with PUT"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SandboxPKI:
    return SandboxPKI(tmp_path_factory.mktemp("pki"))


def listening(ports: list[int]) -> dict[int, set[str]]:
    """Port -> the addresses a socket listens on, as the kernel reports them (every process, both families)."""
    found: dict[int, set[str]] = {port: set() for port in ports}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != "0A":  # TCP_LISTEN
                continue
            address, port_hex = fields[1].split(":")
            port = int(port_hex, 16)
            if port in found:
                raw = bytes.fromhex(address)
                if sys.byteorder == "little":  # the kernel prints each 32-bit word in host byte order
                    raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found[port].add(str(ipaddress.ip_address(raw)))
    return found


def ensure_running(sb: SandboxProcess, pki: SandboxPKI) -> None:
    if sb.get_tls().status != 200:
        assert sb.push(pki.cert_with_chain, pki.key_pem).status == 200
    assert sb.wait_status()["status"] == "running"


def body(pki: SandboxPKI) -> dict[str, str]:
    return {"tlsType": "one-way", "cert": pki.cert_with_chain.decode(), "key": pki.key_pem.decode()}


def at_once(calls: list) -> list:
    """Run the callables in threads released together by a barrier; their results, in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def raw_request(sb: SandboxProcess, head: str, payload: bytes = b"", *, auth: bool = True) -> http.client.HTTPResponse:
    """Send ``head`` (request line + headers, CRLF-separated, without the blank line) and ``payload`` as is."""
    lines = head.rstrip("\r\n") + "\r\n"
    if auth:
        lines += f"Authorization: {sb.auth_header()}\r\n"
    sock = socket.create_connection((sb.host, sb.api_port), timeout=30)
    sock.sendall(lines.encode() + b"\r\n" + payload)
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    resp.body = resp.read()  # type: ignore[attr-defined]
    sock.close()
    return resp


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while True:
        chunk = sock.recv(65536)  # the test's own 30 s timeout raises if the server never closes
        if not chunk:
            return data
        data += chunk


# ---- every listener on the asked address, as the kernel sees it ----------------------------------------------------


def test_every_listener_is_bound_to_loopback_only(sandbox, pki):
    ensure_running(sandbox, pki)
    ports = [sandbox.api_port, sandbox.mqtt_port, sandbox.mqtts_port, sandbox.wss_port]
    assert listening(ports) == {port: {"127.0.0.1"} for port in ports}


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_loopback_binds_every_listener_to_it(tmp_path, pki):
    with running_sandbox(tmp_path, host="::1") as sb:
        ensure_running(sb, pki)
        ports = [sb.api_port, sb.mqtt_port, sb.mqtts_port, sb.wss_port]
        assert listening(ports) == {port: {"::1"} for port in ports}
        assert sb.api_url.startswith("http://[::1]:")


def _moving_mosquitto(folder: Path, ports: list[int]) -> str:
    """A real mosquitto whose listeners on ``ports`` are moved from 127.0.0.1 to 127.0.0.2 (still loopback), the way
    mosquitto 2.0.11 moves its websockets listener to every address: the sandbox must notice from the socket table."""
    moves = " ".join(f"-e 's/^listener {port} 127\\.0\\.0\\.1$/listener {port} 127.0.0.2/'" for port in ports)
    script = folder / "mosquitto-moved"
    script.write_text(f'#!/bin/sh\nsed {moves} "$2" > "$2.moved"\nexec {find_mosquitto()} -c "$2.moved"\n')
    script.chmod(0o700)
    return str(script)


def test_a_broker_listening_beyond_the_asked_address_is_refused_at_start(tmp_path):
    sb = SandboxProcess(tmp_path)
    sb.args += ["--mosquitto", _moving_mosquitto(tmp_path, [sb.mqtt_port])]
    with pytest.raises(RuntimeError) as failed:
        sb.start()
    message = str(failed.value)
    assert "exited with 1" in message
    assert f"127.0.0.2:{sb.mqtt_port}" in message and "only 127.0.0.1 was asked" in message
    assert listening([sb.mqtt_port]) == {sb.mqtt_port: set()}  # nothing left listening


def test_a_tls_listener_beyond_the_asked_address_fails_the_push(tmp_path, pki):
    sb = SandboxProcess(tmp_path)
    sb.args += ["--mosquitto", _moving_mosquitto(tmp_path, [sb.wss_port])]
    try:
        sb.start()
        assert sb.push(pki.cert_with_chain, pki.key_pem).status == 200
        failed = sb.wait_status()
        assert failed["status"] == "failed"
        assert f"127.0.0.2:{sb.wss_port}" in failed["message"] and "only 127.0.0.1 was asked" in failed["message"]
        assert listening([sb.wss_port, sb.mqtts_port]) == {sb.wss_port: set(), sb.mqtts_port: set()}
        assert sb.state()["mosquitto"]["running"]  # back on the plain listener, on the asked address
        assert listening([sb.mqtt_port]) == {sb.mqtt_port: {"127.0.0.1"}}
    finally:
        sb.stop()


@pytest.mark.parametrize("host", ["localhost", "example.com", "127.0.0.1%lo", ""])
def test_host_must_be_an_ip_address(tmp_path, host):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "certhygiene.cli",
            "sandbox",
            "--data-dir",
            str(tmp_path),
            "--host",
            host,
            "--api-port",
            "0",
            "--mosquitto",
            str(tmp_path / "no-such-mosquitto"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "--host" in result.stderr and "IP address" in result.stderr
    assert "Traceback" not in result.stderr


# ---- /_sandbox/* behind the API's credentials; 401 before 404 ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "authorized"),
    [
        ("GET", "/_sandbox/stats", 200),
        ("GET", "/_sandbox/state", 200),
        ("GET", "/_sandbox/faults", 200),
        ("PUT", "/_sandbox/faults", 200),
        ("POST", "/_sandbox/faults", 200),
        ("GET", "/_sandbox/nothing", 404),
        ("DELETE", "/_sandbox/stats", 404),
        ("GET", "/", 404),
        ("GET", "/nothing", 404),
        ("GET", "/public_api/v1/nothing", 404),
        ("PATCH", "/public_api/v1/deployments/sandbox/tls", 405),
    ],
)
def test_every_path_needs_the_credentials(sandbox, method, path, authorized):
    payload = b'{"next": []}' if method in ("PUT", "POST") else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(payload)}"
    for auth in (False, (sandbox.api_key, "not-the-secret")):
        if auth is False:
            resp = raw_request(sandbox, head, payload, auth=False)
        else:
            resp = raw_request(sandbox, head + f"\r\nAuthorization: {sandbox.auth_header(*auth)}", payload, auth=False)
        assert resp.status == 401, (auth, resp.body)
        assert resp.getheader("WWW-Authenticate", "").startswith("Basic")
        assert b"authentication required" in resp.body
        assert b"rate" not in resp.body and b"writes" not in resp.body  # nothing of the sandbox's state
    assert raw_request(sandbox, head, payload).status == authorized


def test_faults_cannot_be_set_without_credentials(sandbox):
    resp = sandbox.request("PUT", "/_sandbox/faults", {"rate": 1, "faults": ["500"]}, auth=False)
    assert resp.status == 401
    assert sandbox.request("GET", "/_sandbox/faults").json["rate"] == 0
    assert sandbox.get_tls().status in (200, 404)  # the API is unharmed


# ---- writes serialized per deployment --------------------------------------------------------------------------------


def test_twelve_simultaneous_creates_exactly_one_wins(sandbox, pki):
    for _unused in range(3):
        sandbox.delete()
        writes = sandbox.stats()["writes"]
        results = at_once([lambda: sandbox.request("POST", sandbox.tls_path, body(pki))] * 12)
        assert sorted(r.status for r in results) == [200] + [409] * 11, results
        assert {r.json["message"] for r in results if r.status == 409} == {EXISTS}
        assert sandbox.stats()["writes"] == writes + 1
        # the same answer a POST on an existing configuration gets one at a time
        alone = sandbox.request("POST", sandbox.tls_path, body(pki))
        assert (alone.status, alone.json["message"]) == (409, EXISTS)


def test_put_and_delete_together_behave_as_one_after_the_other(sandbox, pki):
    for _unused in range(8):
        if sandbox.get_tls().status != 200:
            assert sandbox.request("POST", sandbox.tls_path, body(pki)).status == 200
        put, delete = at_once([lambda: sandbox.request("PUT", sandbox.tls_path, body(pki)), sandbox.delete])
        # PUT then DELETE: 200, 204; DELETE then PUT: 204, 404. Either way nothing is left.
        assert (put.status, delete.status) in {(200, 204), (404, 204)}, (put, delete)
        assert sandbox.get_tls().status == 404, "a deleted configuration came back"


def test_post_and_delete_together_never_lose_an_acknowledged_create(sandbox, pki):
    for _unused in range(8):
        sandbox.delete()
        post, delete = at_once([lambda: sandbox.request("POST", sandbox.tls_path, body(pki)), sandbox.delete])
        assert post.status == 200, post
        # POST then DELETE: nothing left; DELETE (404) then POST: the acknowledged create stays.
        expected = 404 if delete.status == 204 else 200
        assert delete.status in (204, 404)
        assert sandbox.get_tls().status == expected


def test_fifty_threads_get_answers_never_a_500(sandbox, pki):
    rng = random.Random(9)
    calls = []
    for _unused in range(50):
        method = rng.choice(["POST", "PUT", "DELETE", "GET", "GET"])
        payload = body(pki) if method in ("POST", "PUT") else None
        calls.append(lambda method=method, payload=payload: sandbox.request(method, sandbox.tls_path, payload))
    results = at_once(calls)
    statuses = [r.status for r in results]
    assert set(statuses) <= {200, 204, 404, 409}, [r for r in results if r.status not in (200, 204, 404, 409)]
    final = sandbox.get_tls()
    assert final.status in (200, 404)
    # the broker converges on what the API says
    deadline = time.monotonic() + 30
    while True:
        state = sandbox.state()
        wanted = (state["tls"] is not None) and state["tls"]["status"] == "running"
        if (state["tls"] is None and state["listeners"]["mqtts"] is None) or (
            wanted and state["listeners"]["mqtts"] == sandbox.mqtts_port
        ):
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    assert "internal error" not in sandbox.log_text()


# ---- malformed requests: 400 with a reason, 413 past 1 MiB -------------------------------------------------------


def _json_post(sb: SandboxProcess, payload: bytes, path: str | None = None) -> http.client.HTTPResponse:
    target = path or f"/public_api/v1{sb.tls_path}"
    head = f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}"
    return raw_request(sb, head, payload)


FIELDS = b'{"tlsType": "one-way", "cert": "x", "key": "y", "n": '


@pytest.mark.parametrize(
    ("case", "payload", "reason"),
    [
        ("not-json", b"{not json", "not JSON"),
        ("not-utf8", b'{"tlsType": "\xff"}', "not JSON"),
        ("array", b"[1, 2]", "JSON object"),
        ("string", b'"one-way"', "JSON object"),
        ("nested-array", b"[" * 100000 + b"]" * 100000, "nested"),
        ("nested-object", b'{"a":' * 5000 + b"1" + b"}" * 5000, "nested"),
        ("long-integer", FIELDS + b"9" * 150 + b"}", "digits"),
        ("huge-integer", FIELDS + b"9" * 5000 + b"}", "digits"),
        ("long-float", FIELDS + b"1." + b"1" * 150 + b"}", "digits"),
        ("nan", FIELDS + b"NaN}", "NaN"),
        ("infinity", FIELDS + b"Infinity}", "Infinity"),
        ("minus-infinity", FIELDS + b"-Infinity}", "Infinity"),
    ],
)
def test_malformed_json_is_400_with_a_reason(sandbox, case, payload, reason):
    for path in (None, "/_sandbox/faults"):
        resp = _json_post(sandbox, payload, path)
        assert resp.status == 400, (case, path, resp.body[:300])
        message = http_json(resp)["message"]
        assert reason in message, message
    assert sandbox.request("GET", "/_sandbox/faults").json["rate"] == 0


def http_json(resp: http.client.HTTPResponse) -> dict:
    import json

    return json.loads(resp.body)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("header", "payload", "status", "reason"),
    [
        ("Content-Length: abc", b"", 400, "Content-Length"),
        ("Content-Length: -5", b"", 400, "Content-Length"),
        ("Content-Length: 1e3", b"", 400, "Content-Length"),
        ("Content-Length: 3\r\nContent-Length: 4", b"abcd", 400, "Content-Length"),
        ("Transfer-Encoding: chunked", b"5\r\nhello\r\n0\r\n\r\n", 400, "Transfer-Encoding"),
        (f"Content-Length: {1024 * 1024 + 1}", b"", 413, "1048576"),
        (f"Content-Length: {10**30}", b"", 413, "1048576"),
    ],
)
def test_bad_framing_is_refused_with_a_reason(sandbox, header, payload, status, reason):
    for auth in (True, False):
        head = f"POST /public_api/v1{sandbox.tls_path} HTTP/1.1\r\nHost: x\r\n{header}"
        resp = raw_request(sandbox, head, payload, auth=auth)
        assert resp.status == status, resp.body
        assert reason in http_json(resp)["message"]
        assert resp.getheader("Connection") == "close"  # the rest of the stream cannot be trusted


# ---- material checked before it is stored; files 0600 --------------------------------------------------------------


@pytest.mark.parametrize("where", ["before the certificate", "after the chain"])
def test_a_private_key_in_cert_is_422_naming_the_field(sandbox, pki, where):
    sandbox.delete()
    cert = pki.key_pem + pki.cert_with_chain if where.startswith("before") else pki.cert_with_chain + pki.key_pem
    resp = sandbox.push(cert, pki.key_pem, method="POST")
    assert resp.status == 422, resp
    assert "'cert'" in resp.json["message"] and "private key" in resp.json["message"]
    assert resp.json["findings"] and resp.json["findings"][0]["path"] == "cert"
    key_lines = [line for line in pki.key_pem.decode().splitlines() if line and not line.startswith("-----")]
    assert not [line for line in key_lines if line.encode() in resp.body]  # the key is not echoed
    assert sandbox.get_tls().status == 404  # nothing stored


def test_a_private_key_in_cacert_is_422_naming_the_field(sandbox, pki):
    sandbox.delete()
    resp = sandbox.push(
        pki.cert_with_chain,
        pki.key_pem,
        tls_type="two-way",
        cacert=pki.client_ca_pem + pki.client.key_pem,
        method="POST",
    )
    assert resp.status == 422, resp
    assert "'cacert'" in resp.json["message"] and "private key" in resp.json["message"]
    assert sandbox.get_tls().status == 404


def test_every_file_the_sandbox_writes_is_private(sandbox, pki):
    sandbox.delete()
    resp = sandbox.push(pki.cert_with_chain, pki.key_pem, tls_type="two-way", cacert=pki.client_ca_pem)
    assert resp.status == 200
    assert sandbox.wait_status()["status"] == "running"
    seen = []
    for folder, _dirs, files in os.walk(sandbox.data_dir):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
        for name in files:
            mode = stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode)
            seen.append((name, oct(mode)))
    assert {"server.crt", "server.key", "client-ca.crt", "mosquitto.conf", "passwd", "state.db"} <= {
        n for n, _unused in seen
    }
    assert [entry for entry in seen if entry[1] != "0o600"] == []


# ---- connections: idle timeout, backlog, cap ---------------------------------------------------------------------------


def test_idle_and_half_open_connections_are_closed(tmp_path):
    with running_sandbox(tmp_path, client_timeout=1) as sb:
        get = f"GET /public_api/v1{sb.tls_path} HTTP/1.1\r\nHost: x\r\nAuthorization: {sb.auth_header()}\r\n\r\n"
        half_body = (
            f"POST /public_api/v1{sb.tls_path} HTTP/1.1\r\nHost: x\r\nAuthorization: {sb.auth_header()}\r\n"
            'Content-Length: 100\r\n\r\n{"tlsType"'
        )
        for sent in (b"", b"GET / HTTP/1.1\r\nHost: x\r\n", half_body.encode(), get.encode()):
            with socket.create_connection((sb.host, sb.api_port), timeout=30) as sock:
                sock.sendall(sent)
                answer = read_until_closed(sock)
            if sent.startswith(b"GET /public"):  # answered, then closed while idle on keep-alive
                assert answer.startswith(b"HTTP/1.1 404") and answer.count(b"HTTP/1.1") == 1
            elif sent.startswith(b"POST"):
                assert answer.startswith(b"HTTP/1.1 408"), answer
            else:
                assert answer == b"", answer
        assert sb.get_tls().status == 404  # still serving


def test_listen_backlog_is_not_five(sandbox):
    ss = shutil.which("ss")
    if ss is None:
        pytest.skip("ss (iproute2) not installed")
    out = subprocess.run(
        [ss, "-ltnH", f"sport = :{sandbox.api_port}"], capture_output=True, text=True, check=True
    ).stdout
    state, _recv_q, send_q, *_unused = out.split()
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    assert state == "LISTEN"
    assert int(send_q) == min(128, somaxconn)  # for a listening socket, Send-Q is its backlog


def test_connections_past_the_cap_get_503(tmp_path):
    with running_sandbox(tmp_path, max_connections=4, client_timeout=20) as sb:
        held = [socket.create_connection((sb.host, sb.api_port), timeout=30) for _unused in range(4)]
        try:
            # connections are accepted in order: the four idle ones hold every slot, the fifth is refused
            with socket.create_connection((sb.host, sb.api_port), timeout=30) as extra:
                resp = http.client.HTTPResponse(extra)
                resp.begin()
                assert resp.status == 503
                assert b"too many connections" in resp.read()
                assert resp.getheader("Retry-After") == "1"
        finally:
            for sock in held:
                sock.close()
        deadline = time.monotonic() + 20
        while sb.get_tls().status == 503:  # slots come back when the held connections close
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert sb.get_tls().status == 404
