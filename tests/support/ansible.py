"""Run real ``ansible-playbook`` against this checkout of the collection."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS_DIR = REPO_ROOT / "build" / "collections"
_RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)


def collections_path() -> Path:
    """build/collections/ansible_collections/certhygiene/tls -> the repo root (live code, no build step)."""
    link = COLLECTIONS_DIR / "ansible_collections" / "certhygiene" / "tls"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        try:
            link.symlink_to(REPO_ROOT, target_is_directory=True)
        except FileExistsError:
            pass
    return COLLECTIONS_DIR


def ansible_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": str(collections_path()),
            "ANSIBLE_ROLES_PATH": str(REPO_ROOT / "roles"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_HOST_KEY_CHECKING": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "PATH": bindir + os.pathsep + env.get("PATH", ""),
        }
    )
    if extra:
        env.update(extra)
    return env


@dataclass
class PlaybookRun:
    returncode: int
    stdout: str
    stderr: str
    recap: dict[str, int]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def changed(self) -> int:
        return self.recap.get("changed", -1)

    @property
    def failed(self) -> int:
        return self.recap.get("failed", -1)


def run_playbook(
    workdir: Path,
    plays: list[dict[str, Any]] | str,
    *,
    extra_vars: dict[str, Any] | None = None,
    check: bool = False,
    diff: bool = False,
    verbosity: int = 0,
    env: dict[str, str] | None = None,
    timeout: int = 600,
    inventory: dict[str, Any] | None = None,
    playbook: str | None = None,
    forks: int | None = None,
) -> PlaybookRun:
    """Write ``plays`` (a list of plays, or YAML text) to a playbook in ``workdir`` and run it on localhost.

    ``inventory``: a YAML inventory (as a dict) instead of localhost alone; ``playbook``: run this playbook (for
    example a collection playbook, ``certhygiene.tls.rotate``) instead of writing ``plays``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if playbook is None:
        path = workdir / "playbook.yml"
        path.write_text(plays if isinstance(plays, str) else yaml.safe_dump(plays, sort_keys=False))
        playbook = str(path)
    if inventory is None:
        inventory_path = workdir / "inventory.ini"
        inventory_path.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    else:
        inventory_path = workdir / "inventory.yml"
        inventory_path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory_path), playbook]
    if forks:
        cmd += ["--forks", str(forks)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    proc = subprocess.run(
        cmd, cwd=workdir, env=ansible_env(env), capture_output=True, text=True, timeout=timeout, check=False
    )
    recap: dict[str, int] = {}
    recaps = list(_RECAP.finditer(proc.stdout))
    if recaps:
        keys = ("ok", "changed", "unreachable", "failed", "skipped")
        recap = {k: int(v) for k, v in zip(keys, recaps[-1].groups()[1:], strict=True)}
    return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, recap)
