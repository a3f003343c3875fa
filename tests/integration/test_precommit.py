"""Real pre-commit in a real git repository: commits blocked by the hooks, a clean commit passing.

How the hooks reach pre-commit here, and why: a user's ``.pre-commit-config.yaml`` names this repository
and a ``rev``; pre-commit clones it at that rev and ``pip install``s it into a hook environment
(``language: python``), then runs the console scripts that ``.pre-commit-hooks.yaml`` names. The lead
commits only now and then, so the working tree under test is usually ahead of any commit. The session
fixture therefore snapshots the files the distribution is built from (``pyproject.toml``, the manifest and
the package folders ``[tool.setuptools.package-dir]`` names) into a scratch git repository with one
commit -- what ``pre-commit try-repo`` does with its shadow commit -- and the test repositories point at
it with ``repo: <snapshot>`` / ``rev: <sha>``. pre-commit really clones, builds and installs the
package and its dependencies once per session (``PRE_COMMIT_HOME`` is a session temp dir), then
``pre-commit install`` puts the git hook in place and plain ``git commit`` runs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml
from support.pki import key, key_pem, pem, three_level

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOOK_IDS = [
    "forbid-encrypted-private-keys",
    "check-key-size",
    "forbid-leaf-in-chain",
    "check-cert-expiry",
    "check-cert-key-pair",
    "check-pem",
    "certhygiene",
]


def git(
    cwd: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=check)


@pytest.fixture(scope="session")
def base_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT", "ANSIBLE_VAULT"))}
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit-home")),
            "PRE_COMMIT_COLOR": "never",
            "GIT_AUTHOR_NAME": "certhygiene tests",
            "GIT_AUTHOR_EMAIL": "tests@example.invalid",
            "GIT_COMMITTER_NAME": "certhygiene tests",
            "GIT_COMMITTER_EMAIL": "tests@example.invalid",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(tmp_path_factory.mktemp("home")),
        }
    )
    return env


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory, base_env: dict[str, str]) -> tuple[Path, str]:
    """A one-commit snapshot of the working tree's distribution files: (path, sha)."""
    snapshot = tmp_path_factory.mktemp("certhygiene-hooks-repo")
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    folders = set(project["tool"]["setuptools"].get("package-dir", {}).values())
    files = ["pyproject.toml", ".pre-commit-hooks.yaml", "README.md", "LICENSE"]
    for name in files:
        if (REPO_ROOT / name).exists():
            shutil.copy2(REPO_ROOT / name, snapshot / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for folder in sorted(folders):
        shutil.copytree(REPO_ROOT / folder, snapshot / folder, ignore=ignore)
    git(snapshot, "init", "-q", "-b", "main", env=base_env)
    git(snapshot, "add", "-A", env=base_env)
    git(snapshot, "commit", "-q", "-m", "snapshot of the working tree", env=base_env)
    sha = git(snapshot, "rev-parse", "HEAD", env=base_env).stdout.strip()
    return snapshot, sha


@pytest.fixture
def cert_repo(tmp_path: Path, hook_repo: tuple[Path, str], base_env: dict[str, str]) -> Path:
    """A git repository of certificates with the hooks installed, and a first clean commit."""
    repo = tmp_path / "certs"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main", env=base_env)
    config = {"repos": [{"repo": str(hook_repo[0]), "rev": hook_repo[1], "hooks": [{"id": i} for i in HOOK_IDS]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    install = subprocess.run(
        [str(BIN / "pre-commit"), "install", "--install-hooks"], cwd=repo, env=base_env, capture_output=True, text=True
    )
    assert install.returncode == 0, install.stdout + install.stderr
    git(repo, "add", ".pre-commit-config.yaml", env=base_env)
    git(repo, "commit", "-q", "-m", "pre-commit config", env=base_env)
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


def test_clean_commit_passes(cert_repo: Path, base_env: dict[str, str]) -> None:
    pki = three_level()
    result = commit(
        cert_repo,
        {
            "tls/cloud.crt": pki.leaf.cert_pem,
            "tls/cloud-chain.pem": pem(pki.intermediate),
            "tls/cloud.key": key_pem(pki.leaf.key, "pkcs1"),
        },
        base_env,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for hook_name in ("forbid encrypted private keys", "check key algorithm and size", "certhygiene (whole policy)"):
        assert hook_name in output and "Passed" in output
    assert head_subject(cert_repo, base_env) == "add certificates"


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
    files: object, hook_name: str, path: str, rule: str, cert_repo: Path, base_env: dict[str, str]
) -> None:
    content = files()  # type: ignore[operator]
    result = commit(cert_repo, content, base_env)
    output = result.stdout + result.stderr
    print(output)  # shown by pytest -rP: what the user sees in the terminal
    assert result.returncode != 0, output
    assert head_subject(cert_repo, base_env) == "pre-commit config"  # nothing was committed
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
