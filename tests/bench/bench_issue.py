"""Benchmark: issuing N client certificates (default 200; env BENCH_CLIENTS).

Side by side, in one run, each a real ``ansible-playbook`` on localhost from a clean folder:

- batch:  one ``certhygiene.tls.client_certificates`` task for all names;
- loop:   ``certhygiene.tls.certificate`` in a loop over the names;
- community.crypto: ``openssl_privatekey`` + ``openssl_csr`` + ``x509_certificate`` (ownca) looped over the names,
  installed for the benchmark only into build/bench/collections (ansible-galaxy, else the copy bundled in the
  ``ansible`` package from PyPI);

and the raw limit: N RSA-2048 key generations in a Python loop, and that divided by the cores.
Prints the times and the ratios (targets: batch >= 20x faster than community.crypto, loop >= 2x).

Run: .venv/bin/python tests/bench/bench_issue.py   (BENCH_CLIENTS=20 for a quick run; BENCH_SKIP_COMMUNITY=1 to skip it)
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/ -> support

from support.ansible import COLLECTIONS_DIR, REPO_ROOT, collections_path, run_playbook  # noqa: E402

BENCH_DIR = REPO_ROOT / "build" / "bench"
BENCH_COLLECTIONS = BENCH_DIR / "collections"
CRYPTO = BENCH_COLLECTIONS / "ansible_collections" / "community" / "crypto"


def ensure_community_crypto() -> str | None:
    """Install community.crypto for the benchmark only; returns how, or None when it cannot be had."""
    if (CRYPTO / "MANIFEST.json").exists():
        return "already in build/bench/collections"
    BENCH_COLLECTIONS.mkdir(parents=True, exist_ok=True)
    galaxy = Path(sys.executable).parent / "ansible-galaxy"
    try:
        proc = subprocess.run(
            [str(galaxy), "collection", "install", "community.crypto", "-p", str(BENCH_COLLECTIONS)],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        if proc.returncode == 0 and (CRYPTO / "MANIFEST.json").exists():
            return "ansible-galaxy"
    except (OSError, subprocess.TimeoutExpired):
        pass
    # Galaxy unreachable: the `ansible` package on PyPI bundles community.crypto. Take only that collection.
    download = BENCH_DIR / "download"
    download.mkdir(parents=True, exist_ok=True)
    wheels = glob.glob(str(download / "ansible-*.whl"))
    if not wheels:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(download), "ansible>=12,<13"],
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = glob.glob(str(download / "ansible-*.whl"))
        if proc.returncode != 0 or not wheels:
            return None
    prefix = "ansible_collections/community/crypto/"
    with zipfile.ZipFile(wheels[0]) as wheel:
        for name in wheel.namelist():
            if name.startswith(prefix):
                wheel.extract(name, BENCH_COLLECTIONS)
    return f"extracted from {Path(wheels[0]).name}"


def make_ca(folder: Path) -> None:
    from certhygiene import issue

    folder.mkdir(parents=True, exist_ok=True)
    spec = issue.make_spec("ca", subject={"CN": "Bench Client CA", "O": "certhygiene bench"})
    issue.manage(issue.Target(spec, str(folder / "ca.key"), str(folder / "ca.crt")))


def names(count: int) -> list[str]:
    return [f"device-{i:04d}" for i in range(count)]


def play(tasks: list[dict]) -> list[dict]:
    return [{"name": "bench", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def batch_play(out: Path, ca: Path, count: int) -> list[dict]:
    return play(
        [
            {
                "name": "Issue all client certificates in one task",
                "certhygiene.tls.client_certificates": {
                    "names": names(count),
                    "dir": str(out),
                    "ca_certificate_path": str(ca / "ca.crt"),
                    "ca_key_path": str(ca / "ca.key"),
                },
            }
        ]
    )


def loop_play(out: Path, ca: Path, count: int) -> list[dict]:
    return play(
        [
            {
                "name": "Issue one client certificate per loop item",
                "loop": names(count),
                "certhygiene.tls.certificate": {
                    "kind": "client",
                    "path": f"{out}/{{{{ item }}}}.crt",
                    "private_key_path": f"{out}/{{{{ item }}}}.key",
                    "subject": {"CN": "{{ item }}"},
                    "issuer_certificate_path": str(ca / "ca.crt"),
                    "issuer_key_path": str(ca / "ca.key"),
                },
            }
        ]
    )


def crypto_play(out: Path, ca: Path, count: int) -> list[dict]:
    return play(
        [
            {
                "name": "Private keys",
                "loop": names(count),
                "community.crypto.openssl_privatekey": {"path": f"{out}/{{{{ item }}}}.key", "size": 2048},
            },
            {
                "name": "CSRs",
                "loop": names(count),
                "community.crypto.openssl_csr": {
                    "path": f"{out}/{{{{ item }}}}.csr",
                    "privatekey_path": f"{out}/{{{{ item }}}}.key",
                    "common_name": "{{ item }}",
                    "key_usage": ["digitalSignature"],
                    "key_usage_critical": True,
                    "extended_key_usage": ["clientAuth"],
                },
            },
            {
                "name": "Certificates signed by the CA",
                "loop": names(count),
                "community.crypto.x509_certificate": {
                    "path": f"{out}/{{{{ item }}}}.crt",
                    "csr_path": f"{out}/{{{{ item }}}}.csr",
                    "provider": "ownca",
                    "ownca_path": str(ca / "ca.crt"),
                    "ownca_privatekey_path": str(ca / "ca.key"),
                    "ownca_not_after": "+825d",
                },
            },
        ]
    )


def timed_run(label: str, work: Path, plays: list[dict], count: int) -> float:
    out = work / "out"
    shutil.rmtree(work, ignore_errors=True)
    out.mkdir(parents=True)
    env = {"ANSIBLE_COLLECTIONS_PATH": f"{COLLECTIONS_DIR}{os.pathsep}{BENCH_COLLECTIONS}"}
    start = time.perf_counter()
    run = run_playbook(work, plays, env=env, timeout=3600)
    elapsed = time.perf_counter() - start
    made = len(list(out.glob("*.crt")))
    if run.returncode != 0 or made != count:
        print(run.output[-4000:])
        raise SystemExit(f"{label}: the playbook failed or made {made} of {count} certificates")
    return elapsed


def raw_keygen(count: int) -> float:
    from cryptography.hazmat.primitives.asymmetric import rsa

    start = time.perf_counter()
    for _unused in range(count):
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return time.perf_counter() - start


def main() -> int:
    count = int(os.environ.get("BENCH_CLIENTS", "200"))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    collections_path()
    root = BENCH_DIR / "issue"
    ca = root / "ca"
    make_ca(ca)
    print(f"bench_issue: {count} client certificates (RSA 2048), {cores} cores")

    results: dict[str, float] = {}
    results["raw"] = raw_keygen(count)
    results["batch"] = timed_run("batch", root / "batch", batch_play(root / "batch" / "out", ca, count), count)
    results["loop"] = timed_run("loop", root / "loop", loop_play(root / "loop" / "out", ca, count), count)
    how = None if os.environ.get("BENCH_SKIP_COMMUNITY") else ensure_community_crypto()
    if how:
        print(f"community.crypto: {how}")
        results["community"] = timed_run(
            "community.crypto", root / "community", crypto_play(root / "community" / "out", ca, count), count
        )
    else:
        print("community.crypto: not available (skipped)")

    limit = results["raw"] / cores
    rows = [
        ("raw limit: RSA-2048 keygen, Python loop", results["raw"]),
        (f"raw limit / {cores} cores", limit),
        ("certhygiene.tls.client_certificates (1 task)", results["batch"]),
        (f"certhygiene.tls.certificate (loop of {count})", results["loop"]),
    ]
    if "community" in results:
        rows.append((f"community.crypto (3 modules x loop of {count})", results["community"]))
    print(f"{'':48} {'total s':>9} {'ms/cert':>9}")
    for label, seconds in rows:
        print(f"{label:48} {seconds:9.2f} {seconds / count * 1000:9.1f}")
    print(f"keygen: {results['raw'] / count * 1000:.1f} ms per RSA-2048 key")
    print(f"batch vs raw limit / cores: {results['batch'] / limit:.2f}x the limit")
    print(f"batch vs loop: {results['loop'] / results['batch']:.1f}x faster")
    if "community" in results:
        batch_ratio = results["community"] / results["batch"]
        loop_ratio = results["community"] / results["loop"]
        print(
            f"batch vs community.crypto: {batch_ratio:.1f}x faster (target >= 20x) {'OK' if batch_ratio >= 20 else 'MISSED'}"
        )
        print(
            f"loop  vs community.crypto: {loop_ratio:.1f}x faster (target >= 2x) {'OK' if loop_ratio >= 2 else 'MISSED'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
