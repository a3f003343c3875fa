"""Benchmark: ``certhygiene.tls.rotate`` over 20 sandbox deployments with ``--forks 10`` against one deployment.

Each a real ``ansible-playbook`` run against a real sandbox (one API, one real mosquitto per deployment) from clean
folders: the first run deploys (PKI made, one write per deployment, probes), the second finds nothing to do (no
write). Prints times, the time ratio 20 vs 1, and the writes the sandbox counted per run.

Run: .venv/bin/python tests/bench/bench_rotation.py   (BENCH_DEPLOYMENTS=20, BENCH_FORKS=10)
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/ -> support

from support.ansible import REPO_ROOT, collections_path, run_playbook  # noqa: E402
from support.sandbox import SandboxProcess, running_sandbox  # noqa: E402

BENCH_DIR = REPO_ROOT / "build" / "bench" / "rotation"


def inventory(sb: SandboxProcess, root: Path) -> dict[str, Any]:
    hosts = {
        name: {
            "ansible_python_interpreter": sys.executable,
            "pki_dir": str(root / "pki" / name),
            "deployment_tls_deployment_id": name,
            "deployment_tls_mqtts_port": mqtts,
            "deployment_tls_wss_port": wss,
        }
        for name, (mqtts, wss) in sb.ports.items()
    }
    group = {
        "pki_connect_address": "127.0.0.1",
        "deployment_tls_api_url": sb.api_url,
        "deployment_tls_api_key": sb.api_key,
        "deployment_tls_api_secret": sb.api_secret,
        "deployment_tls_host": "127.0.0.1",
        "deployment_tls_mqtt_username": sb.mqtt_user,
        "deployment_tls_mqtt_password": sb.mqtt_password,
        "deployment_tls_retry_delay": 0.1,
        "deployment_tls_wait_timeout": 120,
    }
    return {"deployments": {"hosts": hosts, "vars": group}}


def total_writes(sb: SandboxProcess) -> int:
    return int(sb.stats()["writes"])


def rotate(sb: SandboxProcess, root: Path, label: str, forks: int) -> tuple[float, int]:
    before = total_writes(sb)
    start = time.perf_counter()
    run = run_playbook(
        root / label, [], playbook="certhygiene.tls.rotate", inventory=inventory(sb, root), forks=forks, timeout=3600
    )
    elapsed = time.perf_counter() - start
    if run.returncode != 0:
        print(run.output[-6000:])
        raise SystemExit(f"{label}: the rotation failed (exit {run.returncode})")
    return elapsed, total_writes(sb) - before


def measure(count: int, forks: int) -> dict[str, tuple[float, int]]:
    root = BENCH_DIR / f"{count}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    names = [f"dep-{i:02d}" for i in range(count)]
    with running_sandbox(root / "sandbox", deployments=names) as sb:
        return {
            "deploy": rotate(sb, root, "deploy", forks),
            "nothing to do": rotate(sb, root, "again", forks),
        }


def main() -> int:
    count = int(os.environ.get("BENCH_DEPLOYMENTS", "20"))
    forks = int(os.environ.get("BENCH_FORKS", "10"))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    collections_path()
    print(
        f"bench_rotation: certhygiene.tls.rotate, {count} deployments with --forks {forks} vs 1 deployment, {cores} cores"
    )
    one = measure(1, 1)
    many = measure(count, forks)
    print(f"{'':24} {'1 deployment':>18} {f'{count} deployments':>18} {'ratio':>7}")
    for run in ("deploy", "nothing to do"):
        (t1, w1), (tn, wn) = one[run], many[run]
        print(f"{run:24} {t1:9.1f} s {w1:2d} wr {tn:9.1f} s {wn:2d} wr {tn / t1:6.2f}x")
    print(
        f"(perfect scaling with --forks {forks}: {count / forks:.1f}x; one write per deployment to deploy, none after)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
