"""Run ``certhygiene sandbox`` as a real subprocess for tests (API + mosquitto on free loopback ports).

Usage::

    from support.sandbox import running_sandbox, sandbox_fixture

    def test_x(tmp_path):
        with running_sandbox(tmp_path, write_limit=6) as sb:
            status, headers, body = sb.request("GET", sb.tls_path)       # Basic auth added
            sb.push(cert_pem, key_pem)                                     # POST (or PUT if configured)
            sb.wait_status("running")
            assert sb.stats()["writes"] == 1

    # a module-scoped fixture named ``sandbox`` (the test module must import the name):
    sandbox = sandbox_fixture(scope="module")

Several deployments under one API: ``running_sandbox(folder, deployments=["a", "b", "c"])`` gives each its own free
mqtts/wss ports (``sb.ports["b"] == (mqtts, wss)``); the per-deployment helpers take ``deployment_id=``
(``sb.get_tls(deployment_id="b")``, ``sb.push(..., deployment_id="b")``, ``sb.writes("b")``). The first one is
``sb.deployment_id`` / ``sb.mqtts_port`` / ``sb.wss_port``.

Options: ``host`` (an IP address, ``::1`` for IPv6), ``client_timeout``, ``max_connections`` and the others of
``SandboxProcess``. Everything the sandbox needs is chosen here: free ports for mqtt/mqtts/wss, ``--api-port 0`` (the real port
comes back in the ready file), a data dir under the given folder, distinctive API secret and MQTT password
(passed through the environment, never on the command line). The process's stdout+stderr go to
``<folder>/sandbox.log`` (``sb.log_text()`` adds mosquitto's log). ``sb.restart()`` stops and starts it again
on the same ports and data dir. The context manager always stops it (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT = 30.0


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct TCP ports free right now on ``host`` (an IPv4 or IPv6 address)."""
    socks = []
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        for _unused in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.bind((host, 0))
            socks.append(sock)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def __iter__(self) -> Iterator[Any]:  # status, headers, json = sb.request(...)
        return iter((self.status, self.headers, self.json))

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.body[:200]!r})"


class SandboxProcess:
    """One ``certhygiene sandbox`` subprocess; attributes mirror its ready file."""

    def __init__(
        self,
        folder: Path,
        *,
        deployment_id: str = "sandbox",
        write_limit: int | None = None,
        apply_delay: float = 0.1,
        fault_rate: float | None = None,
        faults: str | None = None,
        fault_seed: int | None = None,
        fault_slow: float | None = None,
        profile: str | None = None,
        mqtt_port: int | None = None,
        host: str = "127.0.0.1",
        client_timeout: float | None = None,
        max_connections: int | None = None,
        deployments: list[str] | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.folder / "sandbox-data"
        self.ready_file = self.folder / "sandbox-ready.json"
        self.log_path = self.folder / "sandbox.log"
        self.host = host
        ids = list(deployments) if deployments else [deployment_id]
        ports = free_ports(1 + 2 * len(ids), host)
        self.mqtt_port = ports[0] if mqtt_port is None else mqtt_port
        self.ports: dict[str, tuple[int, int]] = {
            name: (ports[1 + 2 * index], ports[2 + 2 * index]) for index, name in enumerate(ids)
        }
        self.deployment_id = ids[0]
        self.mqtts_port, self.wss_port = self.ports[ids[0]]
        self.api_key = "test-key-" + secrets.token_hex(4)
        self.api_secret = "test-secret-" + secrets.token_hex(12)
        self.mqtt_user = "tester"
        self.mqtt_password = "test-mqtt-pw-" + secrets.token_hex(12)
        self.api_port = 0
        self.api_url = ""
        self.base_url = ""
        self.info: dict[str, Any] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        args = [
            "--data-dir", str(self.data_dir),
            "--host", self.host,
            "--api-port", "0",
            "--mqtt-port", str(self.mqtt_port),
            "--apply-delay", str(apply_delay),
            "--ready-file", str(self.ready_file),
        ]  # fmt: skip
        if deployments:
            for name, (mqtts, wss) in self.ports.items():
                args += ["--deployment", f"{name}:{mqtts}:{wss}"]
        else:
            args += ["--mqtts-port", str(self.mqtts_port), "--wss-port", str(self.wss_port)]
            args += ["--deployment-id", deployment_id]
        if write_limit is not None:
            args += ["--write-limit", str(write_limit)]
        if fault_rate is not None:
            args += ["--fault-rate", str(fault_rate)]
        if faults is not None:
            args += ["--faults", faults]
        if fault_seed is not None:
            args += ["--fault-seed", str(fault_seed)]
        if fault_slow is not None:
            args += ["--fault-slow", str(fault_slow)]
        if profile is not None:
            args += ["--profile", profile]
        if client_timeout is not None:
            args += ["--client-timeout", str(client_timeout)]
        if max_connections is not None:
            args += ["--max-connections", str(max_connections)]
        self.args = args + list(extra_args)

    # ---- process -----------------------------------------------------------------------------------
    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "certhygiene.cli", "sandbox", *self.args]

    def start(self) -> SandboxProcess:
        if self.ready_file.exists():
            self.ready_file.unlink()
        env = dict(os.environ)
        env.update(
            {
                "CERTHYGIENE_SANDBOX_API_KEY": self.api_key,
                "CERTHYGIENE_SANDBOX_API_SECRET": self.api_secret,
                "CERTHYGIENE_SANDBOX_MQTT_USER": self.mqtt_user,
                "CERTHYGIENE_SANDBOX_MQTT_PASSWORD": self.mqtt_password,
                "PYTHONUNBUFFERED": "1",
            }
        )
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.ready_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"certhygiene sandbox exited with {self.proc.returncode}:\n{self.log_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"certhygiene sandbox not ready after {START_TIMEOUT}s:\n{self.log_text()}")
            time.sleep(0.05)
        self.info = json.loads(self.ready_file.read_text())
        self.api_port = int(self.info["api_port"])
        self.api_url = self.info["api_url"]
        self.base_url = self.info["base_url"]
        return self

    def stop(self) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL (a crash): mosquitto dies with it (PDEATHSIG)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None

    def restart(self) -> SandboxProcess:
        self.stop()
        return self.start()

    def log_text(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        for index, name in enumerate(self.ports):
            folder = self.data_dir / ("mosquitto" if index == 0 else f"mosquitto-{name}")
            for extra in ("mosquitto.log", "mosquitto.stderr"):
                path = folder / extra
                if path.exists():
                    text += f"\n--- {folder.name}/{extra} ---\n" + path.read_text(errors="replace")
        return text

    # ---- HTTP --------------------------------------------------------------------------------------
    @property
    def tls_path(self) -> str:
        return f"/deployments/{self.deployment_id}/tls"

    def tls_path_of(self, deployment_id: str | None = None) -> str:
        return f"/deployments/{deployment_id or self.deployment_id}/tls"

    @property
    def tls_url(self) -> str:
        return self.api_url + self.tls_path

    def auth_header(self, key: str | None = None, secret: str | None = None) -> str:
        token = f"{key or self.api_key}:{secret or self.api_secret}".encode()
        return "Basic " + base64.b64encode(token).decode()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: bool | tuple[str, str] = True,
        raw: bytes | None = None,
        timeout: float = 20.0,
    ) -> Response:
        """A request to ``api_url + path`` (or ``base_url + path`` for ``/_sandbox/...``); never raises on HTTP errors."""
        url = (self.base_url if path.startswith("/_sandbox") else self.api_url) + path
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if auth is True:
            headers["Authorization"] = self.auth_header()
        elif isinstance(auth, tuple):
            headers["Authorization"] = self.auth_header(*auth)
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return Response(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as err:
            return Response(err.code, dict(err.headers), err.read())

    def get_tls(self, deployment_id: str | None = None) -> Response:
        return self.request("GET", self.tls_path_of(deployment_id))

    def push(
        self,
        cert_pem: bytes | str,
        key_pem: bytes | str,
        *,
        tls_type: str = "one-way",
        cacert: bytes | str | None = None,
        method: str | None = None,
        deployment_id: str | None = None,
    ) -> Response:
        """POST (or PUT when TLS is configured) ``cert`` = leaf followed by chain, ``key``, ``cacert``."""

        def text(value: bytes | str | None) -> str | None:
            return value.decode() if isinstance(value, bytes) else value

        body: dict[str, Any] = {"tlsType": tls_type, "cert": text(cert_pem), "key": text(key_pem)}
        if cacert is not None:
            body["cacert"] = text(cacert)
        if method is None:
            method = "PUT" if self.get_tls(deployment_id).status == 200 else "POST"
        return self.request(method, self.tls_path_of(deployment_id), body)

    def delete(self, deployment_id: str | None = None) -> Response:
        return self.request("DELETE", self.tls_path_of(deployment_id))

    def wait_status(self, *wanted: str, timeout: float = 30.0, deployment_id: str | None = None) -> dict[str, Any]:
        """Poll GET until ``status`` is one of ``wanted`` (default running/failed); return the body."""
        wanted = wanted or ("running", "failed")
        deadline = time.monotonic() + timeout
        while True:
            resp = self.get_tls(deployment_id)
            body = resp.json if resp.status == 200 else None
            if body and body.get("status") in wanted:
                return dict(body)
            if time.monotonic() > deadline:
                raise AssertionError(f"status not {wanted} after {timeout}s: {resp!r}")
            time.sleep(0.05)

    # /_sandbox/* takes the same Basic auth as the API.
    def stats(self) -> dict[str, Any]:
        resp = self.request("GET", "/_sandbox/stats")
        assert resp.status == 200, resp
        return dict(resp.json)

    def writes(self, deployment_id: str | None = None) -> int:
        """Accepted writes to one deployment, as the sandbox counts them (/_sandbox/stats)."""
        return int(self.stats()["deployments"][deployment_id or self.deployment_id]["writes"])

    def state(self) -> dict[str, Any]:
        resp = self.request("GET", "/_sandbox/state")
        assert resp.status == 200, resp
        return dict(resp.json)

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """E.g. ``set_faults(next=["500", "drop"])`` or ``set_faults(rate=0.5, faults=["slow"], seed=1)``."""
        resp = self.request("PUT", "/_sandbox/faults", settings)
        assert resp.status == 200, resp
        return dict(resp.json)

    def clear_faults(self) -> None:
        self.set_faults(rate=0, next=[], methods=None)


@contextmanager
def running_sandbox(folder: Path, **options: Any) -> Iterator[SandboxProcess]:
    """Start a sandbox in ``folder`` (see SandboxProcess for options), yield it, always stop it."""
    sandbox = SandboxProcess(folder, **options)
    try:
        yield sandbox.start()
    finally:
        sandbox.stop()


def sandbox_fixture(scope: str = "module", **options: Any) -> Any:
    """A pytest fixture yielding a running SandboxProcess (scope ``module`` by default)."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload]
    def _sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
        with running_sandbox(tmp_path_factory.mktemp("sandbox"), **options) as sandbox:
            yield sandbox

    return _sandbox


class SandboxPKI:
    """Material for the sandbox: a server CA + leaf for ``localhost``/127.0.0.1, a client CA + client, a stranger CA.

    Written as PEM files under ``folder``: ca.pem, server.pem (leaf), server-chain.pem (leaf + CA), server.key,
    client-ca.pem, client.pem, client.key, other-ca.pem. Keys come from support.pki's cache (slots 40..44).
    """

    def __init__(self, folder: Path, host: str = "localhost") -> None:
        from support.pki import issue, key, pem

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca = issue("Sandbox Server CA", private_key=key("rsa", 2048, 40), ca=True)
        self.leaf = issue(host, issuer=self.ca, private_key=key("rsa", 2048, 41), dns=(host,), ips=("127.0.0.1",))
        self.client_ca = issue("Sandbox Client CA", private_key=key("rsa", 2048, 42), ca=True)
        self.client = issue("Sandbox Client", issuer=self.client_ca, private_key=key("rsa", 2048, 43), client=True)
        self.other_ca = issue("Stranger CA", private_key=key("rsa", 2048, 44), ca=True)
        self.ca_pem = pem(self.ca)
        self.leaf_pem = pem(self.leaf)
        self.cert_with_chain = pem(self.leaf, self.ca)
        self.key_pem = self.leaf.key_pem
        self.client_ca_pem = pem(self.client_ca)
        files = {
            "ca.pem": self.ca_pem,
            "server.pem": self.leaf_pem,
            "server-chain.pem": self.cert_with_chain,
            "server.key": self.key_pem,
            "client-ca.pem": self.client_ca_pem,
            "client.pem": pem(self.client),
            "client.key": self.client.key_pem,
            "other-ca.pem": pem(self.other_ca),
        }
        for name, data in files.items():
            path = self.folder / name
            path.write_bytes(data)
            if name.endswith(".key"):
                path.chmod(0o600)

    def path(self, name: str) -> str:
        return str(self.folder / name)
