"""Real pre-commit in a real git repository: commits blocked by the hooks, a clean commit passing.

How the hooks reach pre-commit: see tests/support/precommit.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from support.pki import key, key_pem, pem, three_level
from support.precommit import BIN, REPO_ROOT, git, pre_commit_config

pytestmark = pytest.mark.integration

HOOK_IDS = [
    "forbid-encrypted-private-keys",
    "check-key-size",
    "forbid-leaf-in-chain",
    "check-cert-expiry",
    "check-cert-key-pair",
    "check-pem",
    "certhygiene",
]


@pytest.fixture
def cert_repo(tmp_path: Path, hook_repo: tuple[Path, str], precommit_env: dict[str, str]) -> Path:
    """A git repository of certificates with the hooks installed, and a first clean commit."""
    repo = tmp_path / "certs"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main", env=precommit_env)
    (repo / ".pre-commit-config.yaml").write_text(pre_commit_config(hook_repo, HOOK_IDS))
    install = subprocess.run(
        [str(BIN / "pre-commit"), "install", "--install-hooks"],
        cwd=repo,
        env=precommit_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    git(repo, "add", ".pre-commit-config.yaml", env=precommit_env)
    git(repo, "commit", "-q", "-m", "pre-commit config", env=precommit_env)
    return repo


def commit(repo: Path, files: dict[str, bytes], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    for name, data in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        git(repo, "add", name, env=env)
    return git(repo, "commit", "-m", "add certificates", env=env, check=False)


def head_subject(repo: Path, env: dict[str, str]) -> str:
    return git(repo, "log", "-1", "--format=%s", env=env).stdout.strip()


def test_clean_commit_passes(cert_repo: Path, precommit_env: dict[str, str]) -> None:
    pki = three_level()
    result = commit(
        cert_repo,
        {
            "tls/cloud.crt": pki.leaf.cert_pem,
            "tls/cloud-chain.pem": pem(pki.intermediate),
            "tls/cloud.key": key_pem(pki.leaf.key, "pkcs1"),
        },
        precommit_env,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for hook_name in ("forbid encrypted private keys", "check key algorithm and size", "certhygiene (whole policy)"):
        assert hook_name in output and "Passed" in output
    assert head_subject(cert_repo, precommit_env) == "add certificates"


def encrypted_key() -> dict[str, bytes]:
    return {"tls/server.key": key_pem(key("rsa", 2048, 12), "pkcs8", password=b"secret passphrase")}


def rsa_4096() -> dict[str, bytes]:
    return {"tls/big.key": key_pem(key("rsa", 4096), "pkcs1")}


def leaf_in_chain() -> dict[str, bytes]:
    pki = three_level()
    return {"tls/cloud.crt": pki.leaf.cert_pem, "tls/cloud-chain.pem": pem(pki.leaf, pki.intermediate)}


@pytest.mark.parametrize(
    "files, hook_name, path, rule",
    [
        (encrypted_key, "forbid encrypted private keys", "tls/server.key", "key.encrypted"),
        (rsa_4096, "check key algorithm and size", "tls/big.key", "key.algorithm"),
        (leaf_in_chain, "forbid the leaf certificate in chain files", "tls/cloud-chain.pem", "chain.leaf"),
    ],
    ids=["encrypted-key", "rsa-4096", "leaf-in-chain"],
)
def test_commit_blocked(
    files: object, hook_name: str, path: str, rule: str, cert_repo: Path, precommit_env: dict[str, str]
) -> None:
    content = files()  # type: ignore[operator]
    result = commit(cert_repo, content, precommit_env)
    output = result.stdout + result.stderr
    print(output)  # shown by pytest -rP: what the user sees in the terminal
    assert result.returncode != 0, output
    assert head_subject(cert_repo, precommit_env) == "pre-commit config"  # nothing was committed
    # pre-commit names the failing hook; the hook names the file, the rule and the fix
    assert f"{hook_name}" in output and "Failed" in output
    lines = [line for line in output.splitlines() if line.startswith(path) and f"[{rule}]" in line]
    assert lines, output
    assert "Fix:" in lines[0]
    for data in content.values():
        if b"PRIVATE KEY" in data:
            body = data.decode().splitlines()[3]  # a base64 line inside the key block
            assert body not in output


def test_hook_ids_are_those_of_the_manifest() -> None:
    manifest = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    assert set(HOOK_IDS) <= {hook["id"] for hook in manifest}
