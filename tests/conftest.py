"""Shared fixtures. Helpers live in tests/support (importable as ``support``)."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def precommit_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A user's environment for git and pre-commit; one PRE_COMMIT_HOME for the whole session."""
    from support.precommit import precommit_env as make_env

    return make_env(tmp_path_factory.mktemp("pre-commit-home"), tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory, precommit_env: dict[str, str]) -> tuple[Path, str]:
    """This working tree as a hook repository pre-commit can install from: (path, sha)."""
    from support.precommit import snapshot_hook_repo

    return snapshot_hook_repo(tmp_path_factory.mktemp("certhygiene-hooks-repo"), precommit_env)


@pytest.fixture
def immutable() -> Iterator[Callable[[Path], None]]:
    """Make paths immutable (chattr +i): even root cannot write there, as on a read-only mount."""
    made: list[Path] = []

    def make(path: Path) -> None:
        if shutil.which("chattr") is None:
            pytest.skip("chattr is not installed")
        proc = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            pytest.skip(f"chattr +i is not supported here: {proc.stderr.strip()}")
        made.append(path)

    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=False)
