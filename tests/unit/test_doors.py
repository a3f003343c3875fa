"""The architecture's import rule: the doors (modules, hooks, CLI, sandbox) import the engine, never each other,
and the engine imports no door (nor Ansible)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOORS = {"cli": "certhygiene.cli", "hooks": "certhygiene.hooks", "sandbox": "certhygiene.sandbox"}
# `certhygiene sandbox` is how the sandbox is started (DESIGN.md): the launcher may import what it launches.
LAUNCHERS = {"cli/sandbox.py"}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def offences(folder: str, forbidden: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        if str(path.relative_to(ROOT)) in LAUNCHERS:
            continue
        bad = sorted(name for name in imported(path) if any(name == f or name.startswith(f + ".") for f in forbidden))
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    return found


def test_no_door_imports_another_door() -> None:
    for folder, own in DOORS.items():
        assert offences(folder, set(DOORS.values()) - {own}) == {}, folder


def test_the_engine_imports_no_door_and_no_ansible() -> None:
    assert offences("plugins/module_utils/certhygiene", {*DOORS.values(), "ansible", "ansible_collections"}) == {}


def test_the_rule_finds_an_offence(tmp_path: Path) -> None:
    """The check itself can fail: a door importing another is found."""
    (tmp_path / "x.py").write_text("def f():\n    from certhygiene.hooks._common import run_hook\n")
    assert imported(tmp_path / "x.py") == {"certhygiene.hooks._common"}
