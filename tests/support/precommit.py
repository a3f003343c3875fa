"""Real pre-commit against this checkout: a snapshot hook repository and a git environment.

A user's ``.pre-commit-config.yaml`` names this repository and a ``rev``; pre-commit clones it at that rev
and ``pip install``s it into a hook environment (``language: python``), then runs the console scripts that
``.pre-commit-hooks.yaml`` names. The working tree under test is usually ahead of any commit, so
``snapshot_hook_repo`` copies the files the distribution is built from (``pyproject.toml``, the manifest
and the package folders ``[tool.setuptools.package-dir]`` names) into a scratch git repository with one
commit -- what ``pre-commit try-repo`` does with its shadow commit -- and test repositories point at it
with ``repo: <snapshot>`` / ``rev: <sha>``. The session fixtures in tests/conftest.py share one snapshot
and one ``PRE_COMMIT_HOME``, so pre-commit builds the hook environment once per test session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import tomllib

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PRE_COMMIT = str(BIN / "pre-commit")


def git(
    cwd: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=check)


def precommit_env(pre_commit_home: Path, home: Path) -> dict[str, str]:
    """The environment of a user's shell: this venv's tools on PATH, a git identity, no inherited git/vault state."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT", "ANSIBLE_VAULT"))}
    env.pop("VIRTUAL_ENV", None)
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "PRE_COMMIT_HOME": str(pre_commit_home),
            "PRE_COMMIT_COLOR": "never",
            "GIT_AUTHOR_NAME": "certhygiene tests",
            "GIT_AUTHOR_EMAIL": "tests@example.invalid",
            "GIT_COMMITTER_NAME": "certhygiene tests",
            "GIT_COMMITTER_EMAIL": "tests@example.invalid",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(home),
        }
    )
    return env


def snapshot_hook_repo(dest: Path, env: dict[str, str]) -> tuple[Path, str]:
    """A one-commit snapshot of the working tree's distribution files: (path, sha)."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    folders = set(project["tool"]["setuptools"].get("package-dir", {}).values())
    for name in ("pyproject.toml", ".pre-commit-hooks.yaml", "README.md", "LICENSE"):
        if (REPO_ROOT / name).exists():
            shutil.copy2(REPO_ROOT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for folder in sorted(folders):
        shutil.copytree(REPO_ROOT / folder, dest / folder, ignore=ignore)
    git(dest, "init", "-q", "-b", "main", env=env)
    git(dest, "add", "-A", env=env)
    git(dest, "commit", "-q", "-m", "snapshot of the working tree", env=env)
    return dest, git(dest, "rev-parse", "HEAD", env=env).stdout.strip()


def pre_commit_config(hook_repo: tuple[Path, str], hook_ids: list[str]) -> str:
    """A ``.pre-commit-config.yaml`` that takes ``hook_ids`` from the snapshot."""
    path, rev = hook_repo
    return f"repos:\n- repo: {path}\n  rev: {rev}\n  hooks:\n" + "".join(f"  - id: {h}\n" for h in hook_ids)


def run_pre_commit(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PRE_COMMIT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
