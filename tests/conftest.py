"""Shared fixtures. Helpers live in tests/support (importable as ``support``)."""

from __future__ import annotations

import socket
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
