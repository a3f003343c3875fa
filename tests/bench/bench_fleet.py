"""Benchmark: ``certhygiene.tls.client_certificates`` at fleet scale (default 10,000 names; env BENCH_FLEET) against
the raw key-generation loop on every core, side by side, with peak memory.

- raw: N RSA-2048 key generations in a pool of one worker process per core (the limit: nothing but keys);
- batch: one real ``ansible-playbook`` run of one ``client_certificates`` task for the N names from a clean folder;
- batch at N/10: the same at a tenth of the names, to show that peak memory does not grow with N.

Each measurement runs in its own child process; peak memory is the largest resident set of any process of that
measurement (ru_maxrss of the child and its descendants).

Run: .venv/bin/python tests/bench/bench_fleet.py   (BENCH_FLEET=2000 for a quicker run)
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/ -> support

from support.ansible import REPO_ROOT, collections_path, run_playbook  # noqa: E402

BENCH_DIR = REPO_ROOT / "build" / "bench" / "fleet"


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _keygen(_index: int) -> int:
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return 1


def child_raw(count: int) -> float:
    import concurrent.futures

    start = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(max_workers=cores()) as pool:
        made = sum(pool.map(_keygen, range(count), chunksize=64))
    assert made == count
    return time.perf_counter() - start


def child_batch(count: int) -> float:
    from certhygiene import issue

    root = BENCH_DIR / f"batch-{count}"
    shutil.rmtree(root, ignore_errors=True)
    out, ca = root / "out", root / "ca"
    out.mkdir(parents=True)
    ca.mkdir()
    spec = issue.make_spec("ca", subject={"CN": "Fleet Client CA", "O": "certhygiene bench"})
    issue.manage(issue.Target(spec, str(ca / "ca.key"), str(ca / "ca.crt")))
    play = [
        {
            "name": "fleet",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Issue the fleet's client certificates in one task",
                    "certhygiene.tls.client_certificates": {
                        "names": [f"device-{i:05d}" for i in range(count)],
                        "dir": str(out),
                        "ca_certificate_path": str(ca / "ca.crt"),
                        "ca_key_path": str(ca / "ca.key"),
                    },
                }
            ],
        }
    ]
    start = time.perf_counter()
    run = run_playbook(root, play, timeout=7200)
    elapsed = time.perf_counter() - start
    made = len(list(out.glob("*.crt")))
    if run.returncode != 0 or made != count:
        print(run.output[-4000:], file=sys.stderr)
        raise SystemExit(f"batch: the playbook failed or made {made} of {count} certificates")
    shutil.rmtree(out, ignore_errors=True)
    return elapsed


def measure(what: str, count: int) -> dict[str, float]:
    """Run one measurement in a child process; its time and peak resident set (MiB)."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child", what, str(count)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{what} {count}: failed\n{proc.stderr[-4000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        what, count = sys.argv[2], int(sys.argv[3])
        seconds = child_raw(count) if what == "raw" else child_batch(count)
        peak = max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        )
        print(json.dumps({"seconds": seconds, "peak_mib": peak / 1024}))
        return 0
    count = int(os.environ.get("BENCH_FLEET", "10000"))
    collections_path()
    print(f"bench_fleet: {count} client certificates (RSA 2048), {cores()} cores")
    small = max(2, count // 10)
    results = {
        f"raw keygen, {count} keys on {cores()} cores": measure("raw", count),
        f"client_certificates, {count} names": measure("batch", count),
        f"client_certificates, {small} names": measure("batch", small),
    }
    print(f"{'':44} {'total s':>9} {'ms/cert':>8} {'peak MiB':>9}")
    for label, row in results.items():
        n = small if label.endswith(f" {small} names") else count
        print(f"{label:44} {row['seconds']:9.1f} {row['seconds'] / n * 1000:8.1f} {row['peak_mib']:9.1f}")
    raw, batch, tenth = results.values()
    print(f"client_certificates vs raw keygen on all cores: {batch['seconds'] / raw['seconds']:.2f}x the time")
    print(f"peak memory at {count} names vs {small}: {batch['peak_mib'] / tenth['peak_mib']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
