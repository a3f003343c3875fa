"""The `split-certificate-bundles` fixer run by real pre-commit in a real git repo, then the other hooks pass."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.pki import ThreeLevel, pem, three_level

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
PRE_COMMIT = str(Path(sys.executable).parent / "pre-commit")
# What `pip install .` of the hook repository needs.
SHIPPED = (
    "pyproject.toml",
    "README.md",
    "LICENSE",
    ".pre-commit-hooks.yaml",
    "plugins/module_utils/certhygiene",
    "cli",
    "hooks",
    "sandbox",
)


def git(cwd: Path, *args: str) -> str:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
    )
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A committed snapshot of this checkout's working tree (pre-commit installs hooks from a git revision)."""
    dest = tmp_path_factory.mktemp("hookrepo")
    for item in SHIPPED:
        src = REPO_ROOT / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif src.exists():
            (dest / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / item)
    if not (dest / "README.md").exists():
        (dest / "README.md").write_text("certhygiene\n")
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "snapshot")
    return dest, git(dest, "rev-parse", "HEAD")


def pre_commit(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), PRE_COMMIT_COLOR="never")
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run([PRE_COMMIT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_fixer_splits_the_bundle_and_the_other_hooks_pass(hook_repo: tuple[Path, str], tmp_path: Path) -> None:
    pki: ThreeLevel = three_level()
    repo_path, rev = hook_repo
    work = tmp_path / "work"
    (work / "certs").mkdir(parents=True)
    git(work, "init", "-q")
    hooks = ["split-certificate-bundles", "forbid-leaf-in-chain", "check-pem", "certhygiene"]
    (work / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {repo_path}\n  rev: {rev}\n  hooks:\n" + "".join(f"  - id: {h}\n" for h in hooks)
    )
    bundle = pem(pki.leaf, pki.intermediate, pki.root)  # as purchased: user, intermediate, root
    (work / "certs" / "server.crt").write_bytes(bundle)
    git(work, "add", "-A")
    home = tmp_path / "pre-commit-home"

    first = pre_commit(work, home, "run", "--all-files")
    output = first.stdout + first.stderr
    assert first.returncode == 1, output
    assert "split the bundle" in output and "files were modified by this hook" in output
    assert (work / "certs" / "server.crt").read_bytes() == pem(pki.leaf)
    assert (work / "certs" / "server.chain.pem").read_bytes() == pem(pki.intermediate)
    assert "dropped the root certificate 'CN=Test Root CA" in output

    git(work, "add", "-A")
    second = pre_commit(work, home, "run", "--all-files")
    output = second.stdout + second.stderr
    assert second.returncode == 0, output
    for hook in ("split certificate bundles", "forbid the leaf certificate in chain files", "check PEM encoding"):
        assert hook in output
    assert "Failed" not in output
    git(work, "commit", "-q", "-m", "split")
