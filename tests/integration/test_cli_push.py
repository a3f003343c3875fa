"""`certhygiene push` / `certhygiene delete` against the real sandbox (API + mosquitto), as a pipeline runs them."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.pki import issue, key_pem
from support.sandbox import SandboxPKI, SandboxProcess, sandbox_fixture

pytestmark = pytest.mark.integration

sandbox = sandbox_fixture(scope="module")
COMMAND = str(Path(sys.executable).parent / "certhygiene")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SandboxPKI:
    return SandboxPKI(tmp_path_factory.mktemp("pki"))


def env_for(sb: SandboxProcess, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTHYGIENE_")}
    env.update({"CERTHYGIENE_API_KEY": sb.api_key, "CERTHYGIENE_API_SECRET": sb.api_secret, **extra})
    return env


def argv(sb: SandboxProcess, pki: SandboxPKI, *extra: str, verb: str = "push") -> list[str]:
    args = [COMMAND, verb, "--api-url", sb.api_url, "--deployment-id", sb.deployment_id, "--retry-delay", "0.1"]
    if verb == "push":
        args += ["--cert", pki.path("server.pem"), "--chain", pki.path("ca.pem"), "--key", pki.path("server.key")]
    return args + list(extra)


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=180, check=False)


def reset(sb: SandboxProcess) -> None:
    if sb.get_tls().status == 200:
        assert sb.delete().status == 204


def test_push_then_identical_push_makes_no_write_check_predicts_delete(
    sandbox: SandboxProcess, pki: SandboxPKI
) -> None:
    reset(sandbox)
    env = env_for(sandbox)
    writes = sandbox.stats()["writes"]

    predicted = run(argv(sandbox, pki, "--check"), env)
    assert predicted.returncode == 1, predicted.stderr
    assert "plan: create" in predicted.stdout and "would change; nothing was written" in predicted.stdout
    assert sandbox.stats()["writes"] == writes and sandbox.get_tls().status == 404

    first = run(argv(sandbox, pki, "--wait", "--wait-timeout", "60", "--format", "json"), env)
    assert first.returncode == 0, first.stdout + first.stderr
    result = json.loads(first.stdout)
    assert (result["ok"], result["changed"], result["outcome"], result["action"]) == (True, True, "applied", "create")
    assert result["after"]["status"] == "running" and result["after"]["cn"] == "localhost"
    assert sandbox.stats()["writes"] == writes + 1

    again = run(argv(sandbox, pki), env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "plan: none (the deployment already has it)" in again.stdout and "result: nothing to do" in again.stdout
    assert sandbox.stats()["writes"] == writes + 1  # the identical push made no write

    same = run(argv(sandbox, pki, "--check"), env)
    assert same.returncode == 0 and "check: nothing to do" in same.stdout

    two_way = run(
        argv(sandbox, pki, "--auth-type", "two-way", "--client-ca", pki.path("client-ca.pem"), "--check"), env
    )
    assert two_way.returncode == 1 and "tlsType: one-way -> two-way" in two_way.stdout
    assert sandbox.stats()["writes"] == writes + 1 and sandbox.get_tls().json["tlsType"] == "one-way"

    would_delete = run(argv(sandbox, pki, "--check", verb="delete"), env)
    assert would_delete.returncode == 1 and "TLS configuration present -> absent" in would_delete.stdout
    assert "disconnects every client on 8883 (mqtts) and 8084 (wss)" in would_delete.stderr
    assert sandbox.get_tls().status == 200

    deleted = run(argv(sandbox, pki, verb="delete"), env)
    assert deleted.returncode == 0 and "result: changed (applied)" in deleted.stdout, deleted.stdout
    assert sandbox.get_tls().status == 404
    gone = run(argv(sandbox, pki, verb="delete"), env)
    assert gone.returncode == 0 and "result: nothing to do" in gone.stdout
    for output in (first, again, same, two_way, would_delete, deleted, gone):
        assert sandbox.api_secret not in output.stdout + output.stderr
        assert "PRIVATE KEY" not in output.stdout + output.stderr


def test_credentials_never_in_argv_ps_output_or_logs(sandbox: SandboxProcess, pki: SandboxPKI, tmp_path: Path) -> None:
    reset(sandbox)
    args = argv(sandbox, pki, "--wait", "--wait-timeout", "60", "--format", "json")
    assert sandbox.api_secret not in " ".join(args)
    proc = subprocess.Popen(args, env=env_for(sandbox), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    while proc.poll() is None:  # what `ps` shows of the running push
        ps = subprocess.run(
            ["ps", "-ww", "-o", "args=", "-p", str(proc.pid)], capture_output=True, text=True, check=False
        )
        seen.append(ps.stdout)
        time.sleep(0.02)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    assert any("certhygiene push" in line for line in seen)
    assert not any(sandbox.api_secret in line or sandbox.api_key in line for line in seen)
    for text in (out, err, sandbox.log_text()):
        assert sandbox.api_secret not in text


def test_credentials_file_and_no_flag_for_secrets(sandbox: SandboxProcess, pki: SandboxPKI, tmp_path: Path) -> None:
    reset(sandbox)
    creds = tmp_path / "credentials.yml"
    creds.write_text(f"api_key: {sandbox.api_key}\napi_secret: {sandbox.api_secret}\n")
    creds.chmod(0o600)
    bare = env_for(sandbox)
    del bare["CERTHYGIENE_API_KEY"], bare["CERTHYGIENE_API_SECRET"]
    done = run(argv(sandbox, pki, "--credentials-file", str(creds)), bare)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sandbox.get_tls().status == 200

    missing = run(argv(sandbox, pki), bare)
    assert missing.returncode == 2
    assert "no API credentials: set CERTHYGIENE_API_KEY and CERTHYGIENE_API_SECRET" in missing.stderr
    flag = run(argv(sandbox, pki, "--api-secret", "x"), bare)
    assert flag.returncode == 2 and "unrecognized arguments: --api-secret" in flag.stderr


def test_refusals_exit_1_and_usage_errors_exit_2(sandbox: SandboxProcess, pki: SandboxPKI, tmp_path: Path) -> None:
    reset(sandbox)
    writes = sandbox.stats()["writes"]
    wrong = run(argv(sandbox, pki), env_for(sandbox, CERTHYGIENE_API_SECRET="wrong-secret-value"))
    assert wrong.returncode == 1 and "401 authentication failed" in wrong.stdout, wrong.stdout + wrong.stderr
    assert "wrong-secret-value" not in wrong.stdout + wrong.stderr

    now = datetime.datetime.now(datetime.timezone.utc)
    expired = issue(
        "localhost",
        dns=("localhost",),
        not_before=now - datetime.timedelta(days=30),
        not_after=now - datetime.timedelta(days=1),
    )
    (tmp_path / "expired.pem").write_bytes(expired.cert_pem)
    (tmp_path / "expired.key").write_bytes(key_pem(expired.key, "pkcs1"))
    args: list[str] = [COMMAND, "push", "--api-url", sandbox.api_url, "--deployment-id", sandbox.deployment_id]
    args += ["--cert", str(tmp_path / "expired.pem"), "--key", str(tmp_path / "expired.key"), "--format", "json"]
    refused = run(args, env_for(sandbox))
    assert refused.returncode == 1
    result: dict[str, Any] = json.loads(refused.stdout)
    assert result["ok"] is False and "nothing was sent to the deployment" in result["message"]
    assert "cert.validity" in {f["rule_id"] for f in result["findings"]}
    assert result["requests"] == [] and sandbox.stats()["writes"] == writes

    absent = run([*argv(sandbox, pki)[:-2], "--key", str(tmp_path / "nope.key")], env_for(sandbox))
    assert absent.returncode == 2 and f"--key {tmp_path / 'nope.key'}" in absent.stderr
    assert "Traceback" not in absent.stderr
    no_ca = run(argv(sandbox, pki, "--auth-type", "two-way"), env_for(sandbox))
    assert no_ca.returncode == 2 and "--auth-type two-way needs --client-ca" in no_ca.stderr
    assert sandbox.stats()["writes"] == writes
