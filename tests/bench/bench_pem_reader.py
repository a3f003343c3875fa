#!/usr/bin/env python
"""Benchmark: the PEM reader and the check on files of many broken PEM blocks must take linear time.

Run by ``make bench`` (never by pytest):

    .venv/bin/python tests/bench/bench_pem_reader.py [--blocks 10000 40000 160000] [--runs 3]

Each file holds N blocks whose base64 decodes but is no certificate: every block is a ``pem.encoding``
finding. Two times per size (best of ``--runs``): ``read_file`` alone, and ``check_paths`` on the file (reading,
rules, and a finding per block with its line range). The table gives the time per 1000 blocks and the ratio of
each size's time to the first size's, against the ratio of the sizes: a linear reader keeps the per-block time
flat (a quadratic one multiplies it by the size ratio: issue 9 measured 15 s at 40k blocks).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "plugins" / "module_utils"))

from certhygiene.check import check_paths  # noqa: E402
from certhygiene.material import read_file  # noqa: E402

BROKEN_BLOCK = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


def best_of(runs: int, work: object) -> float:
    best = float("inf")
    for _unused in range(runs):
        start = time.perf_counter()
        work()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--blocks", type=int, nargs="+", default=[10_000, 40_000, 160_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-pem-") as folder:
        for count in args.blocks:
            path = os.path.join(folder, f"broken-{count}.crt")
            with open(path, "wb") as handle:
                handle.write(BROKEN_BLOCK * count)
            read = best_of(args.runs, lambda p=path: read_file(p))
            report = check_paths([path], root=folder)
            assert len(report.findings) == count, (len(report.findings), count)
            check = best_of(args.runs, lambda p=path: check_paths([p], root=folder))
            rows.append((count, read, check))
    first_count, _first_read, first_check = rows[0]
    print(
        f"{'blocks':>8}  {'read_file':>10}  {'per 1k':>8}  {'check':>9}  {'per 1k':>8}  {'size x':>6}  {'check x':>7}"
    )
    for count, read, check in rows:
        print(
            f"{count:>8}  {read:>9.3f}s  {read / count * 1000:>7.4f}s  {check:>8.3f}s  {check / count * 1000:>7.4f}s"
            f"  {count / first_count:>6.1f}  {check / first_check:>7.1f}"
        )
    last_count, _last_read, last_check = rows[-1]
    growth = (last_check / first_check) / (last_count / first_count)
    print(f"check time grows {growth:.2f}x as fast as the input (1.0 = linear)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
