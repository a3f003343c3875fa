"""``certhygiene sandbox --deployment ID:MQTTS:WSS`` (repeatable): several deployments under one API, each with its
own mosquitto listeners, state, write limit and counters (real processes, real TLS)."""

from __future__ import annotations

import hashlib
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from support.pki import issue, key, pem
from support.sandbox import SandboxPKI, free_ports, running_sandbox

pytestmark = pytest.mark.integration

IDS = ["alpha", "beta", "gamma"]


def presented_fingerprint(port: int) -> str | None:
    """SHA-256 of the leaf the listener presents (the stdlib, as an independent judge); None when nothing listens."""
    try:
        text = ssl.get_server_certificate(("127.0.0.1", port), timeout=10)
    except OSError:
        return None
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(text)).hexdigest()


def fingerprint(issued) -> str:
    from cryptography.hazmat.primitives import hashes

    return issued.cert.fingerprint(hashes.SHA256()).hex()


def test_three_deployments_under_one_api(tmp_path: Path) -> None:
    pki = SandboxPKI(tmp_path / "pki")
    other = issue("localhost", issuer=pki.ca, private_key=key("rsa", 2048, 45), dns=("localhost",), ips=("127.0.0.1",))
    with running_sandbox(tmp_path / "sb", deployments=IDS, write_limit=2) as sb:
        assert [d["deployment_id"] for d in sb.info["deployments"]] == IDS
        assert sb.deployment_id == "alpha" and sb.ports["alpha"] == (sb.mqtts_port, sb.wss_port)
        for name in IDS:
            assert sb.get_tls(name).status == 404
        assert sb.request("GET", "/deployments/delta/tls").status == 403

        assert sb.push(pki.cert_with_chain, pki.key_pem, deployment_id="alpha").status == 200
        assert sb.push(pem(other, pki.ca), other.key_pem, deployment_id="beta").status == 200
        for name in ("alpha", "beta"):
            assert sb.wait_status(deployment_id=name)["status"] == "running"
        assert sb.get_tls("gamma").status == 404

        # each deployment's own listeners present its own certificate; gamma has none
        assert presented_fingerprint(sb.ports["alpha"][0]) == fingerprint(pki.leaf)
        assert presented_fingerprint(sb.ports["alpha"][1]) == fingerprint(pki.leaf)
        assert presented_fingerprint(sb.ports["beta"][0]) == fingerprint(other)
        assert presented_fingerprint(sb.ports["gamma"][0]) is None
        state = sb.state()["deployments"]
        assert state["beta"]["listeners"] == {"mqtt": None, "mqtts": sb.ports["beta"][0], "wss": sb.ports["beta"][1]}
        assert state["gamma"]["listeners"]["mqtts"] is None and state["gamma"]["tls"] is None
        assert state["alpha"]["listeners"]["mqtt"] == sb.mqtt_port  # the plain listener lives with the first

        # writes are counted, and limited, per deployment
        assert sb.push(pki.cert_with_chain, pki.key_pem, deployment_id="alpha").status == 200
        limited = sb.push(pki.cert_with_chain, pki.key_pem, deployment_id="alpha")
        assert limited.status == 429 and int(limited.headers["Retry-After"]) > 0
        assert sb.push(pki.cert_with_chain, pki.key_pem, deployment_id="gamma").status == 200
        stats = sb.stats()
        assert {name: stats["deployments"][name]["writes"] for name in IDS} == {"alpha": 2, "beta": 1, "gamma": 1}
        assert stats["deployments"]["alpha"]["rate_limited"] == 1 and stats["deployments"]["gamma"]["rate_limited"] == 0
        assert stats["writes"] == 4 and stats["rate_limited"] == 1
        assert sb.writes("beta") == 1

        # deleting one closes only its listeners
        sb.wait_status(deployment_id="gamma")
        assert sb.delete("beta").status == 204
        assert presented_fingerprint(sb.ports["beta"][0]) is None
        assert presented_fingerprint(sb.ports["gamma"][0]) == fingerprint(pki.leaf)

        # a restart keeps every deployment's state and write log
        sb.restart()
        assert sb.wait_status(deployment_id="alpha")["status"] == "running"
        assert sb.wait_status(deployment_id="gamma")["status"] == "running"
        assert sb.get_tls("beta").status == 404
        assert presented_fingerprint(sb.ports["alpha"][0]) == fingerprint(pki.leaf)
        assert sb.push(pki.cert_with_chain, pki.key_pem, deployment_id="alpha").status == 429


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--deployment", "a:1"], "ID:MQTTS_PORT:WSS_PORT"),
        (["--deployment", "a b:1:2"], "letters, digits"),
        (["--deployment", "a:1:70000"], "between 1 and 65535"),
        (["--deployment", "a:{p}:{q}", "--deployment", "a:{r}:{s}"], "its own ID"),
        (["--deployment", "a:{p}:{q}", "--deployment", "b:{p}:{s}"], "distinct"),
    ],
)
def test_bad_deployment_flags_are_refused(tmp_path: Path, args: list[str], message: str) -> None:
    p, q, r, s = free_ports(4)
    argv = [a.format(p=p, q=q, r=r, s=s) for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "certhygiene.cli", "sandbox", "--data-dir", str(tmp_path), "--api-port", "0", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
