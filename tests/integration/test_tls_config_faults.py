"""tls_config against a sandbox that injects faults: 500s, 429 with Retry-After, slow answers, dropped connections.

Each push either converges with the right ``changed`` (and one accepted write), or fails with a message that says
what was not applied, and the previous configuration stays in place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.ansible import run_playbook
from support.sandbox import SandboxPKI, SandboxProcess, running_sandbox, sandbox_fixture

pytestmark = pytest.mark.integration

# A slow answer takes 3 s; the client gives up after 1.5 or 2 s (the write still lands).
sandbox = sandbox_fixture(scope="module", fault_slow=3.0)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SandboxPKI:
    return SandboxPKI(tmp_path_factory.mktemp("pki"))


def push_args(sb: SandboxProcess, pki: SandboxPKI, tls_type: str, **extra: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "api_url": sb.api_url,
        "api_key": sb.api_key,
        "api_secret": sb.api_secret,
        "deployment_id": sb.deployment_id,
        "auth_type": tls_type,
        "certificate_path": pki.path("server.pem"),
        "certificate_chain_path": pki.path("ca.pem"),
        "private_key_path": pki.path("server.key"),
        "timeout": 1.5,
        "retries": 4,
        "retry_delay": 0.1,
        "wait_timeout": 60,
    }
    if tls_type == "two-way":
        args["client_ca_certificate_path"] = pki.path("client-ca.pem")
    args.update(extra)
    return args


def push(tmp_path: Path, sb: SandboxProcess, pki: SandboxPKI, tls_type: str, **extra: Any) -> Any:
    plays = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [{"certhygiene.tls.tls_config": push_args(sb, pki, tls_type, **extra), "register": "push"}],
        }
    ]
    return run_playbook(tmp_path, plays, verbosity=1)


def start_from(sb: SandboxProcess, pki: SandboxPKI, tls_type: str) -> None:
    """A known previous configuration, set without faults."""
    sb.clear_faults()
    current = sb.get_tls()
    if current.status != 200 or current.json["tlsType"] != tls_type:
        cacert = pki.client_ca_pem if tls_type == "two-way" else None
        assert sb.push(pki.cert_with_chain, pki.key_pem, tls_type=tls_type, cacert=cacert).status == 200
    sb.wait_status("running")


WRITES = ["POST", "PUT", "DELETE"]


@pytest.mark.parametrize(
    ("faults", "methods"),
    [
        (["500", "500"], WRITES),
        (["429"], WRITES),
        (["drop", "drop"], WRITES),
        (["500", "drop", "429"], ["GET"]),
    ],
    ids=["500-on-write", "429-retry-after", "dropped-write", "faulty-reads"],
)
def test_push_converges_through_faults(
    tmp_path: Path, sandbox: SandboxProcess, pki: SandboxPKI, faults: list[str], methods: list[str]
) -> None:
    start_from(sandbox, pki, "one-way")
    before = sandbox.stats()
    sandbox.set_faults(next=faults, methods=methods)
    run = push(tmp_path, sandbox, pki, "two-way")
    sandbox.clear_faults()
    assert run.returncode == 0, run.output
    assert run.changed == 1
    after = sandbox.stats()
    assert after["writes"] - before["writes"] == 1  # exactly one accepted write
    assert sum(after["faults"].values()) - sum(before["faults"].values()) == len(faults)
    assert sandbox.get_tls().json["tlsType"] == "two-way"


def test_slow_write_that_lands_is_not_repeated(tmp_path: Path, sandbox: SandboxProcess, pki: SandboxPKI) -> None:
    """The client times out, the sandbox applies the write anyway: the next read sees it, no second write."""
    start_from(sandbox, pki, "two-way")
    before = sandbox.stats()
    sandbox.set_faults(next=["slow"], methods=WRITES)
    run = push(tmp_path, sandbox, pki, "one-way", timeout=2)
    sandbox.clear_faults()
    assert run.returncode == 0, run.output
    assert run.changed == 1
    assert '"error": "timeout"' in run.stdout
    assert sandbox.stats()["writes"] - before["writes"] == 1
    assert sandbox.wait_status("running")["tlsType"] == "one-way"


def test_persistent_failure_leaves_the_previous_configuration(
    tmp_path: Path, sandbox: SandboxProcess, pki: SandboxPKI
) -> None:
    start_from(sandbox, pki, "one-way")
    before = sandbox.stats()
    sandbox.set_faults(rate=1.0, faults=["500"], methods=WRITES)
    run = push(tmp_path, sandbox, pki, "two-way", retries=2)
    sandbox.clear_faults()
    assert run.returncode != 0 and run.failed == 1
    assert (
        "Pushing the TLS configuration failed: PUT /public_api/v1/deployments/sandbox/tls: no success after 3"
        in run.stdout
    )
    assert "Nothing was applied: the deployment keeps its previous configuration (one-way, cn=localhost" in run.stdout
    assert sandbox.stats()["writes"] == before["writes"]
    assert sandbox.get_tls().json["tlsType"] == "one-way"
    assert sandbox.api_secret not in run.output and "PRIVATE KEY" not in run.output


def test_write_limit_is_reported_not_waited_for(tmp_path: Path, pki: SandboxPKI) -> None:
    """The real service allows 6 writes an hour; past the limit the task says when to retry instead of hanging."""
    with running_sandbox(tmp_path / "limited", write_limit=1) as sb:
        assert push(tmp_path / "one", sb, pki, "one-way").returncode == 0
        second = push(tmp_path / "two", sb, pki, "two-way")
        assert second.returncode != 0
        assert "rate limited (429); the service asks to retry after" in second.stdout
        assert "Nothing was applied: the deployment keeps its previous configuration (one-way" in second.stdout
        assert sb.get_tls().json["tlsType"] == "one-way"
