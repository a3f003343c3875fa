"""Start-up cost: what a one-file run of each pre-commit hook and of ``certhygiene check FILE`` imports.

A one-file hook run must stay close to python plus the cryptography import (issue 13), so modules that only some
runs need are imported where they are used: importlib.metadata (``--version``), the process pool (large checks),
JSON (``--format json``), the network modules (AIA downloads), argparse (the hooks read their usual options
themselves). Each case runs the real console entry point (as its console script does: ``sys.exit(function())``) in a
fresh interpreter on a real certificate set and lists ``sys.modules`` at exit; only what ``cryptography.x509``
and ``serialization`` themselves import is allowed besides. Not timed: the timings are tests/bench/bench_startup.py.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.pki import key_pem, pem, three_level

REPO = Path(__file__).resolve().parents[2]
HOOK_IDS = [hook["id"] for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())]

# Never needed by a one-file run (module and its submodules), unless cryptography itself imports it.
NOT_AT_STARTUP = (
    "importlib.metadata",  # --version only
    "multiprocessing",  # the process pool of large checks
    "concurrent.futures",
    "logging",
    "socket",  # AIA downloads, probes
    "ssl",
    "http",
    "urllib",
    "email",
    "zipfile",
    "json",  # --format json only
    "yaml",  # a policy file only
    "threading",
    "subprocess",  # an executable vault password file only
    "tempfile",  # writing files only
    "signal",  # stopping the pool's forks on the way out of an error only
)
# The hooks' usual arguments (options, then file names) are read without argparse (hooks/_common.quick_args).
HOOK_NOT_AT_STARTUP = (*NOT_AT_STARTUP, "argparse")

# Runs the entry point as its console script does (``sys.exit(function())``; the certhygiene program's ``run``
# ends the process itself, its exit handlers run), and writes sys.modules to a file at exit (stdout is the
# command's own).
PROBE = r"""
import atexit, sys
target, report = sys.argv[1], sys.argv[2]
def record():
    with open(report, "w") as handle:
        handle.write("\n".join(sorted(sys.modules)))
atexit.register(record)
module, _, attribute = target.partition(":")
sys.argv = [attribute, *sys.argv[3:]]
sys.exit(getattr(__import__(module, fromlist=[attribute]), attribute)())
"""

BASELINE = "import sys, cryptography.x509; from cryptography.hazmat.primitives import serialization; " + (
    "print('\\n'.join(sorted(sys.modules)))"
)


def entry_point(script: str) -> str:
    """``module:function`` of an installed console script of the certhygiene distribution."""
    points = {ep.name: ep.value for ep in importlib.metadata.distribution("certhygiene").entry_points}
    assert script in points, f"{script} is not an installed console script (make venv)"
    return points[script]


def hook_script(hook_id: str) -> str:
    hooks = {hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    return str(hooks[hook_id]["entry"])


@pytest.fixture(scope="module")
def baseline() -> set[str]:
    """What python plus the cryptography import (and its serialization package) load by themselves."""
    result = subprocess.run([sys.executable, "-c", BASELINE], capture_output=True, text=True, check=True, timeout=60)
    return set(result.stdout.split())


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean certificate set as a repository holds it: leaf, its chain, its key."""
    folder = tmp_path_factory.mktemp("repo")
    pki = three_level()
    (folder / "cloud.crt").write_bytes(pki.leaf.cert_pem)
    (folder / "cloud-chain.pem").write_bytes(pem(pki.intermediate))
    (folder / "cloud.key").write_bytes(key_pem(pki.leaf.key, "pkcs1"))
    return folder


def run_probe(target: str, args: list[str], folder: Path, tmp_path: Path) -> tuple[str, set[str], str]:
    """(exit code, modules imported at exit, output) of one run of ``target`` with ``args`` in ``folder``."""
    report = tmp_path / "modules.txt"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, target, str(report), *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert report.exists(), f"the probe did not finish: {result.stderr[-2000:]}"
    return str(result.returncode), set(report.read_text().split("\n")), result.stdout + result.stderr


def offending(imported: set[str], baseline: set[str], forbidden: tuple[str, ...]) -> list[str]:
    extra = imported - baseline
    return sorted(m for m in extra if any(m == name or m.startswith(name + ".") for name in forbidden))


def test_every_hook_of_the_manifest_is_covered() -> None:
    # The table below is the manifest itself: a new hook is checked without editing this file.
    assert len(HOOK_IDS) >= 9
    for hook_id in HOOK_IDS:
        entry_point(hook_script(hook_id))


@pytest.mark.parametrize("hook_id", HOOK_IDS)
def test_a_one_file_hook_run_imports_only_what_it_needs(
    hook_id: str, repository: Path, baseline: set[str], tmp_path: Path
) -> None:
    target = entry_point(hook_script(hook_id))
    code, imported, output = run_probe(target, ["cloud.crt"], repository, tmp_path)
    assert code == "0", output
    assert "certhygiene.check" in imported or hook_id == "split-certificate-bundles"
    # The fixer parses its file (argparse is its parser), but builds chains and writes only for a bundle.
    forbidden = NOT_AT_STARTUP if hook_id == "split-certificate-bundles" else HOOK_NOT_AT_STARTUP
    extra = ("certhygiene.chain", "certhygiene.files") if hook_id == "split-certificate-bundles" else ()
    assert offending(imported, baseline, (*forbidden, *extra)) == [], f"{hook_id} imported them at start-up"


@pytest.mark.parametrize(
    ("args", "needs"),
    [
        (["check", "cloud.crt"], ()),
        (["check", "cloud.crt", "--format", "sarif"], ("json", "urllib", "pathlib")),
        (["check", "."], ()),
    ],
    ids=["text", "sarif", "folder"],
)
def test_certhygiene_check_imports_only_what_it_needs(
    args: list[str], needs: tuple[str, ...], repository: Path, baseline: set[str], tmp_path: Path
) -> None:
    code, imported, output = run_probe(entry_point("certhygiene"), args, repository, tmp_path)
    assert code == "0", output
    assert "certhygiene.check" in imported
    forbidden = tuple(name for name in NOT_AT_STARTUP if name not in needs)
    assert offending(imported, baseline, forbidden) == [], f"certhygiene {' '.join(args)} imported them"
    if needs:  # the probe sees what a run does import
        assert "json" in imported


def test_version_still_names_the_distribution_version(tmp_path: Path) -> None:
    # importlib.metadata is imported only for --version now: the option must still say the installed version.
    code, imported, output = run_probe(entry_point("certhygiene"), ["--version"], tmp_path, tmp_path)
    assert (code, output.strip()) == ("0", f"certhygiene {importlib.metadata.version('certhygiene')}")
    assert "importlib.metadata" in imported


# --- the interpreter's own start and end


GC_STATE = r"""
import gc, sys
import datetime, functools, re, typing, certhygiene  # what _crypto imports besides cryptography
if sys.argv[1] == "off":
    gc.disable()
started = []
gc.callbacks.append(lambda phase, info: started.append(info["generation"]) if phase == "start" else None)
import certhygiene._crypto
# What the import made is frozen: the young generation's count starts again from nothing.
print(gc.isenabled(), gc.get_freeze_count() > 10000, gc.get_count()[0] < 100, *started)
"""


@pytest.mark.parametrize(("before", "enabled"), [("on", "True"), ("off", "False")])
def test_cryptography_is_imported_without_collections_and_the_collector_left_as_it_was(
    before: str, enabled: str
) -> None:
    # cryptography's import makes tens of thousands of objects: the collector, left on, would walk them again and
    # again while they are made (~20 collections, older generations too). _crypto pauses it for the import (at
    # most the young generation is collected as it ends), freezes what the import made (no later collection walks
    # it: ~4 ms of the first collections after the import), and leaves the collector as it found it.
    result = subprocess.run(
        [sys.executable, "-c", GC_STATE, before], capture_output=True, text=True, check=True, timeout=60
    )
    state, frozen, young, *generations = result.stdout.split()
    assert (state, frozen, young) == (enabled, "True", "True")
    assert len(generations) <= 2 and set(generations) <= {"0"}, generations


EXIT_STATE = r"""
import atexit, gc, sys
# Registered first, so it runs last: after the door's own exit handler.
atexit.register(lambda: print("frozen at exit:", len(gc.get_objects()) < 100))  # the run's objects too
from certhygiene.cli.main import main
print("exit code:", main(sys.argv[1:]))
"""


def test_a_door_ends_without_walking_its_heap_and_says_everything_first(repository: Path) -> None:
    # The CLI and hooks freeze the heap at exit (the last collections would walk cryptography's objects for
    # nothing: ~10 ms of a run); the report is complete and the exit code is the command's.
    result = subprocess.run(
        [sys.executable, "-c", EXIT_STATE, "check", "cloud.crt", "cloud-chain.pem", "cloud.key"],
        cwd=repository,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert result.stdout.splitlines() == [
        "certhygiene: 3 files checked, no findings (profile seed)",
        "exit code: 0",
        "frozen at exit: True",
    ]


PROGRAM = r"""
import atexit, sys, threading, time
case = sys.argv[1]
if case != "broken pipe":
    atexit.register(lambda: print("exit handler ran"))
if case == "thread":
    threading.Thread(target=lambda: (time.sleep(0.5), print("thread done"))).start()
from certhygiene.cli.main import run
sys.argv = ["certhygiene", *sys.argv[2:]]
run()
"""


@pytest.mark.parametrize(
    ("case", "args", "code", "stdout"),
    [
        (
            "clean",
            ["check", "cloud.crt", "cloud-chain.pem", "cloud.key"],
            0,
            ["certhygiene: 3 files checked, no findings (profile seed)", "exit handler ran"],
        ),
        ("usage error", ["check", "missing.crt"], 2, ["exit handler ran"]),
        (
            "thread",  # the usual exit: it waits for the thread
            ["check", "cloud.crt", "cloud-chain.pem", "cloud.key"],
            0,
            ["certhygiene: 3 files checked, no findings (profile seed)", "thread done", "exit handler ran"],
        ),
    ],
)
def test_the_program_ends_with_its_exit_code_its_output_and_exit_handlers(
    case: str, args: list[str], code: int, stdout: list[str], repository: Path
) -> None:
    # `certhygiene` (run) ends without the interpreter's teardown, but nothing a normal exit does is lost.
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, case, *args],
        cwd=repository,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert (result.returncode, result.stdout.splitlines()) == (code, stdout), result.stderr
    assert result.stderr == ("certhygiene check: no such file or folder: missing.crt\n" if code == 2 else "")


def test_the_program_whose_reader_went_away_fails_quietly(repository: Path) -> None:
    # `certhygiene check ... | head -0`: the report cannot be delivered; exit 1, no "Exception ignored" noise.
    with subprocess.Popen(
        [sys.executable, "-c", PROGRAM, "broken pipe", "check", "cloud.crt", "cloud-chain.pem", "cloud.key"],
        cwd=repository,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        assert process.wait(timeout=120) == 1
        assert process.stderr.read() == b""
