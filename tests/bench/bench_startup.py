#!/usr/bin/env python
"""Benchmark: start-up of ``certhygiene check`` and of each pre-commit hook, side by side with python + cryptography.

Never run by pytest (tests/bench is outside testpaths). Run it after ``tests/bench/bench_check.py`` has made the
corpus and the non-editable hook venv (build/bench/corpus-v1-10000, build/bench/hook-venv):

    .venv/bin/python tests/bench/bench_startup.py [--runs 15] [--bin build/bench/hook-venv/bin ...] [--file d000/site00000.crt]

``--bin`` may be repeated (e.g. a venv with the main branch installed, then one with this checkout): the venvs
are timed in the same rounds, one column each, so a before/after comparison sees the same load.

Every command runs once per round, the rounds interleave them (the box is shared: a disturbance hits all of
them alike), and the table gives the median wall time and its ratio to ``python -c "import cryptography.x509"``
(the floor of any tool built on cryptography; issue 13's goal for a one-file hook run is 1.5x).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH_DIR = REPO / "build" / "bench"
HOOKS = (
    "certhygiene-hook",
    "certhygiene-check-pem",
    "certhygiene-check-key-size",
    "certhygiene-check-cert-expiry",
    "certhygiene-check-cert-key-pair",
    "certhygiene-forbid-leaf-in-chain",
    "certhygiene-forbid-encrypted-private-keys",
    "certhygiene-forbid-plaintext-private-keys",
    "certhygiene-split-certificate-bundles",
)
# As bench_check.py: bytecode cached under build/bench (this box sets PYTHONDONTWRITEBYTECODE).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = str(BENCH_DIR / "pycache")


def commands_of(bin_dir: Path, one: str, empty: Path) -> list[tuple[str, list[str]]]:
    """(label, command) of everything timed, for the venv whose bin folder is ``bin_dir``."""
    commands = [
        ("python + import cryptography.x509", [str(bin_dir / "python"), "-c", "import cryptography.x509"]),
        (
            "certhygiene check <empty> --format json",
            [str(bin_dir / "certhygiene"), "check", str(empty), "--format", "json"],
        ),
        ("certhygiene check one.crt", [str(bin_dir / "certhygiene"), "check", one]),
        ("certhygiene --version", [str(bin_dir / "certhygiene"), "--version"]),
    ]
    return commands + [(f"{hook} one.crt", [str(bin_dir / hook), one]) for hook in HOOKS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--bin",
        action="append",
        help="a venv's bin folder (default: build/bench/hook-venv/bin); repeat to compare venvs in the same rounds",
    )
    parser.add_argument("--corpus", default=str(BENCH_DIR / "corpus-v1-10000"), help="folder the commands run in")
    parser.add_argument("--file", default="d000/site00000.crt", help="the one file, relative to --corpus")
    args = parser.parse_args(argv)

    bins = [Path(b).absolute() for b in args.bin or [str(BENCH_DIR / "hook-venv" / "bin")]]
    empty = BENCH_DIR / "empty-dir"
    empty.mkdir(parents=True, exist_ok=True)
    runs = [(column, label, cmd) for column, b in enumerate(bins) for label, cmd in commands_of(b, args.file, empty)]
    walls: dict[tuple[int, str], list[float]] = {(column, label): [] for column, label, _cmd in runs}
    for round_ in range(args.runs + 1):  # round 0 writes bytecode and is not counted
        shift = round_ % len(runs)
        for column, label, cmd in runs[shift:] + runs[:shift]:
            started = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, env=ENV, cwd=args.corpus, check=False)
            wall = time.perf_counter() - started
            if proc.returncode not in (0, 1):
                sys.exit(f"bench: {label} exited {proc.returncode}:\n{proc.stderr.decode()[-2000:]}")
            if round_:
                walls[column, label].append(wall)
    print(f"load {os.getloadavg()[0]:.1f}; median wall of {args.runs} interleaved runs; x base: over the first row")
    for column, b in enumerate(bins):
        print(f"  [{column}] {b}")
    print(f"{'command':50}" + "".join(f" {f'[{c}] median s':>13} {'x base':>6}" for c in range(len(bins))))
    for label, _cmd in commands_of(bins[0], args.file, empty):
        cells = ""
        for column in range(len(bins)):
            base = statistics.median(walls[column, runs[0][1]])
            median = statistics.median(walls[column, label])
            cells += f" {median:13.4f} {median / base:6.2f}"
        print(f"{label:50}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
