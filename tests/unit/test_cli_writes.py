"""Issue 9's data-loss commands, run as a user runs them (the real ``certhygiene`` command): nothing is lost.

Each of these exited 0 (or crashed) on main and lost a file; now each refuses with exit 2 and a message
naming the file and the fix, or with ``--force`` replaces it keeping a backup, or writes nothing at all.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from support.pki import ThreeLevel, key, key_pem, pem, three_level

CERTHYGIENE = str(Path(sys.executable).parent / "certhygiene")
KEY = key_pem(key("rsa", 2048, 82), "pkcs1")
BACKUP = re.compile(r"^server\.key\.\d+\.\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2}~$")


@pytest.fixture(scope="module")
def pki() -> ThreeLevel:
    return three_level()


@pytest.fixture
def work(tmp_path: Path, pki: ThreeLevel) -> Path:
    (tmp_path / "bundle.pem").write_bytes(pem(pki.leaf, pki.intermediate, pki.root))
    (tmp_path / "b.pem").write_bytes(pem(pki.leaf, pki.intermediate, pki.root))
    (tmp_path / "leaf.crt").write_bytes(pem(pki.leaf))
    (tmp_path / "intermediates").mkdir()
    (tmp_path / "intermediates" / "int.pem").write_bytes(pem(pki.intermediate, pki.root))
    for name in ("server.key", "k.key"):
        (tmp_path / name).write_bytes(KEY)
        (tmp_path / name).chmod(0o600)
    return tmp_path


def certhygiene(cwd: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CERTHYGIENE, *command.split()], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def files_in(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "command",
    [
        "split bundle.pem --cert-out server.crt --chain-out server.key",
        "complete leaf.crt --intermediates intermediates --no-aia --chain-out k.key",
    ],
)
def test_an_existing_private_key_is_refused_then_replaced_only_with_force(work: Path, command: str) -> None:
    target = "server.key" if "server.key" in command else "k.key"
    before = files_in(work)
    proc = certhygiene(work, command)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{target} (--chain-out) holds a private key; writing there would lose it" in proc.stderr
    assert "Choose another output file, or use --force" in proc.stderr and "Traceback" not in proc.stderr
    assert files_in(work) == before  # not even server.crt: all or nothing
    assert "PRIVATE KEY-----" not in proc.stdout + proc.stderr

    forced = certhygiene(work, command + " --force")
    assert forced.returncode == 0, forced.stderr
    copies = [p for p in work.iterdir() if p.name.startswith(f"{target}.") and p.name.endswith("~")]
    assert len(copies) == 1 and copies[0].read_bytes() == KEY and stat.S_IMODE(copies[0].stat().st_mode) == 0o600
    assert f"{target}: the old file was kept as {copies[0]}" in forced.stdout


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("split b.pem --cert-out b.pem --chain-out chain.pem", "b.pem (--cert-out) is an input of this command"),
        (
            "complete leaf.crt --intermediates intermediates --no-aia --chain-out leaf.crt",
            "leaf.crt (--chain-out) is an input of this command",
        ),
        (
            "split b.pem --cert-out same.pem --chain-out same.pem",
            "same.pem (--chain-out) and same.pem (--cert-out) are the same file",
        ),
    ],
)
def test_an_input_or_the_same_file_twice_is_refused(work: Path, command: str, message: str) -> None:
    before = files_in(work)
    proc = certhygiene(work, command)
    assert proc.returncode == 2 and message in proc.stderr, proc.stdout + proc.stderr
    assert files_in(work) == before


def test_split_in_place_with_force_keeps_the_bundle_as_a_backup(work: Path, pki: ThreeLevel) -> None:
    proc = certhygiene(work, "split b.pem --cert-out b.pem --chain-out chain.pem --force")
    assert proc.returncode == 0, proc.stderr
    assert (work / "b.pem").read_bytes() == pem(pki.leaf) and (work / "chain.pem").read_bytes() == pem(pki.intermediate)
    copies = list(work.glob("b.pem.*~"))
    assert len(copies) == 1 and copies[0].read_bytes() == pem(pki.leaf, pki.intermediate, pki.root)
    # --force never makes two outputs share a file.
    proc = certhygiene(work, "split bundle.pem --cert-out same.pem --chain-out same.pem --force")
    assert proc.returncode == 2 and "are the same file" in proc.stderr


@pytest.mark.parametrize("case", ["read-only folder", "output is a folder", "missing parent"])
def test_a_write_failure_leaves_no_half_output_and_no_traceback(work: Path, immutable, case: str) -> None:
    (work / "ro").mkdir()
    (work / "adir").mkdir()
    chain_out = {"read-only folder": "ro/chain.pem", "output is a folder": "adir", "missing parent": "nope/chain.pem"}
    if case == "read-only folder":
        immutable(work / "ro")
    before = files_in(work)
    proc = certhygiene(work, f"split bundle.pem --cert-out server.crt --chain-out {chain_out[case]}")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and chain_out[case].rstrip("/") in proc.stderr
    expected = {
        "read-only folder": "read-only or immutable); nothing was changed",
        "output is a folder": "is a folder; give the path of a file in it",
        "missing parent": "does not exist; create it first",
    }[case]
    assert expected in proc.stderr
    assert files_in(work) == before and not (work / "server.crt").exists()  # the certificate was not written alone
    assert not [p for p in work.rglob(".*") if p.is_file()]  # no temporary left


def test_check_output_is_atomic_and_survives_a_non_utf8_file_name(work: Path, immutable) -> None:
    bad = os.fsdecode(b"bad\xff.crt")
    certs = work / "certs"
    certs.mkdir()
    (certs / bad).write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    (work / "report.txt").write_text("the old report\n")
    proc = certhygiene(work, "check certs -o report.txt")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "report written to report.txt" in proc.stdout
    report = (work / "report.txt").read_bytes()
    assert b"[pem.encoding]" in report and b"\xff" not in report and b"bad" in report
    # A failed write keeps the old report whole (it used to be truncated first).
    immutable(work)
    proc = certhygiene(work, "check certs -o report.txt --format json")
    assert proc.returncode == 2 and "cannot write report.txt" in proc.stderr and "Traceback" not in proc.stderr
    assert (work / "report.txt").read_bytes() == report


def test_check_output_never_over_a_key_or_a_checked_file(work: Path) -> None:
    proc = certhygiene(work, "check leaf.crt -o server.key")
    assert proc.returncode == 2 and "server.key (--output) holds a private key" in proc.stderr
    assert (work / "server.key").read_bytes() == KEY
    proc = certhygiene(work, "check leaf.crt -o leaf.crt")
    assert proc.returncode == 2 and "leaf.crt (--output) is an input of this command" in proc.stderr


def test_an_output_through_a_symbolic_link_updates_the_target(work: Path, pki: ThreeLevel) -> None:
    (work / "live").mkdir()
    (work / "archive").mkdir()
    (work / "archive" / "chain1.pem").write_bytes(b"")
    (work / "live" / "chain.pem").symlink_to("../archive/chain1.pem")
    proc = certhygiene(work, "split bundle.pem --cert-out live/cert.pem --chain-out live/chain.pem")
    assert proc.returncode == 0, proc.stderr
    assert (work / "live" / "chain.pem").is_symlink()
    assert (work / "archive" / "chain1.pem").read_bytes() == pem(pki.intermediate)
    (work / "live" / "privkey.pem").symlink_to("../server.key")
    proc = certhygiene(work, "split bundle.pem --cert-out live/cert.pem --chain-out live/privkey.pem")
    assert proc.returncode == 2 and "holds a private key" in proc.stderr
    assert (work / "server.key").read_bytes() == KEY
