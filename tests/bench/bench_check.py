#!/usr/bin/env python
"""Benchmark: ``certhygiene check`` over 10,000 files, side by side with what it is measured against.

Run by ``make bench`` (never by pytest: the name is bench_*.py and tests/bench is outside testpaths):

    .venv/bin/python tests/bench/bench_check.py [--files 10000] [--runs 3] [--openssl-files 1000] [--hook-runs 15]

In one run it times, on the same generated corpus (cached under build/bench/):

1. ``certhygiene check <dir> --format json`` as a subprocess (the whole CLI: startup, walk, read, rules, JSON);
2. a bare Python loop, also a subprocess, that only parses the same files with cryptography
   (``x509.load_pem_x509_certificates`` / ``load_pem_private_key(unsafe_skip_rsa_key_validation=True)``):
   the floor any checker built on cryptography can reach;
3. a shell loop of ``openssl x509 -noout -in f`` per certificate file (what people write by hand). One
   openssl process costs ~25 ms here, so by default it runs over ``--openssl-files`` certificate files and
   the per-file time is scaled to all certificate files (the table says so); ``--openssl-files 0`` runs all;
4. one pre-commit hook run on one file (``certhygiene-hook x.crt``, wall time, median of ``--hook-runs``).

It prints a table and the ratios against the targets of issue 2: check within 2x of the bare parse,
over 50x faster than the openssl loop, one hook run within 150 ms. Results also go to build/bench/check.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BENCH_DIR = REPO / "build" / "bench"
BIN = Path(sys.executable).parent
CORPUS_VERSION = 1

# Installed packages carry compiled bytecode (pip compiles at install); this box sets PYTHONDONTWRITEBYTECODE,
# which would make every run recompile the engine from source. Cache bytecode under build/bench instead.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = str(BENCH_DIR / "pycache")

# One site = a leaf certificate, its private key and its chain file: three files.
# A few keys sign and are signed by many certificates: generating RSA keys is the slow part.
N_LEAF_KEYS = 16

BARE_PARSE = r"""
import os, sys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
certs = keys = 0
for dirpath, dirnames, filenames in os.walk(sys.argv[1]):
    for name in filenames:
        with open(os.path.join(dirpath, name), "rb") as handle:
            data = handle.read()
        if b"PRIVATE KEY-----" in data:
            serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
            keys += 1
        elif b"CERTIFICATE-----" in data:
            certs += len(x509.load_pem_x509_certificates(data))
print(certs, keys)
"""


def make_corpus(n_files: int) -> Path:
    """build/bench/corpus-v<version>-<n>/dNNN/site-XXXXX.{crt,key,chain.pem}; made once, then reused."""
    root = BENCH_DIR / f"corpus-v{CORPUS_VERSION}-{n_files}"
    marker = root.with_name(root.name + ".complete")  # outside the corpus: it is no certificate
    if marker.exists():
        return root
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if root.exists():
        shutil.rmtree(root)
    started = time.perf_counter()
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certhygiene bench"),
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
            ]
        )

    def new_key() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def cert(
        subject: str,
        key: rsa.RSAPrivateKey,
        issuer: x509.Certificate | None,
        issuer_key: rsa.RSAPrivateKey,
        ca: bool,
        dns: str | None = None,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(issuer.subject if issuer else name(subject))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650 if ca else 825))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca and issuer else None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if issuer is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
        else:
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns or subject)]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    pem = serialization.Encoding.PEM
    root_key, inter_key = new_key(), new_key()
    root_cert = cert("Bench Root CA", root_key, None, root_key, ca=True)
    inter_cert = cert("Bench Intermediate CA", inter_key, root_cert, root_key, ca=True)
    chain_pem = inter_cert.public_bytes(pem) + root_cert.public_bytes(pem)
    leaf_keys = [new_key() for _unused in range(N_LEAF_KEYS)]
    key_pems = [
        k.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
        for k in leaf_keys
    ]
    tmp = root.with_name(root.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    sites = (n_files + 2) // 3
    written = 0
    for i in range(sites):
        folder = tmp / f"d{i // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        host = f"site{i:05d}.bench.example.com"
        leaf = cert(host, leaf_keys[i % N_LEAF_KEYS], inter_cert, inter_key, ca=False, dns=host)
        for suffix, data in (
            (".crt", leaf.public_bytes(pem)),
            (".key", key_pems[i % N_LEAF_KEYS]),
            (".chain.pem", chain_pem),
        ):
            if written == n_files:
                break
            (folder / f"site{i:05d}{suffix}").write_bytes(data)
            written += 1
    tmp.rename(root)
    marker.write_text(f"{written} files\n")
    print(f"corpus: generated {written} files in {time.perf_counter() - started:.1f} s under {root}", flush=True)
    return root


def hook_env() -> Path | None:
    """A venv with this checkout installed as pre-commit installs it (``pip install .``, not editable).

    Made once under build/bench/hook-venv (dependencies from the configured index), the package reinstalled
    on every run so the current working tree is measured. None when it cannot be built.
    """
    venv = BENCH_DIR / "hook-venv"
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    try:
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
            subprocess.run([*pip, "setuptools>=70.1", "cryptography>=42", "PyYAML>=6"], check=True, capture_output=True)
        subprocess.run(
            [*pip, "--no-deps", "--force-reinstall", "--no-build-isolation", str(REPO)], check=True, capture_output=True
        )
    except subprocess.CalledProcessError as exc:
        print(f"bench: cannot build {venv} ({exc.stderr.decode()[-300:]}); timing the editable .venv hook only")
        return None
    return venv / "bin"


def timed(cmd: list[str], **kwargs: Any) -> tuple[float, float, subprocess.CompletedProcess[bytes]]:
    """(wall seconds, CPU seconds user+sys of the child, the process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env=ENV, check=False, **kwargs)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


def best_of(runs: int, cmd: list[str], ok: tuple[int, ...] = (0,)) -> tuple[float, float, bytes]:
    """Best wall and best CPU time of ``runs`` runs (the box is shared: the best run is the least disturbed)."""
    walls, cpus = [], []
    out = b""
    for _unused in range(runs):
        wall, cpu, proc = timed(cmd)
        if proc.returncode not in ok:
            sys.exit(f"bench: {' '.join(cmd[:3])} ... exited {proc.returncode}:\n{proc.stderr.decode()[-2000:]}")
        walls.append(wall)
        cpus.append(cpu)
        out = proc.stdout
    return min(walls), min(cpus), out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="runs of each whole-corpus timing (best is kept)")
    parser.add_argument(
        "--openssl-files",
        type=int,
        default=1000,
        help="certificate files the openssl loop runs over (0 = all); scaled to all",
    )
    parser.add_argument("--hook-runs", type=int, default=15)
    args = parser.parse_args(argv)

    corpus = make_corpus(args.files)
    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    cert_files = [p for p in files if p.suffix == ".crt" or p.name.endswith(".chain.pem")]
    certhygiene = str(BIN / "certhygiene")
    hook = str(BIN / "certhygiene-hook")
    load = os.getloadavg()[0]
    for warm in ([certhygiene, "rules"], [hook, "--help"]):  # compile bytecode once, outside the timings
        timed(warm)

    # 1. the whole CLI (exit 1 is fine: the corpus is not meant to be clean)
    check_wall, check_cpu, out = best_of(args.runs, [certhygiene, "check", str(corpus), "--format", "json"], ok=(0, 1))
    try:
        document = json.loads(out)
    except ValueError:
        sys.exit("bench: certhygiene check did not print JSON")
    findings = document.get("findings", []) if isinstance(document, dict) else document
    # 2. the bare parse
    bare_wall, bare_cpu, out = best_of(args.runs, [sys.executable, "-c", BARE_PARSE, str(corpus)])
    parsed = out.decode().split()
    # 3. the openssl loop
    sample = cert_files if args.openssl_files <= 0 else cert_files[: args.openssl_files]
    with tempfile.NamedTemporaryFile("w", suffix=".lst", delete=False) as listing:
        listing.write("\n".join(str(p) for p in sample) + "\n")
    try:
        loop = f'while IFS= read -r f; do openssl x509 -noout -in "$f" || exit 1; done < "{listing.name}"'
        ssl_wall, ssl_cpu, _unused = best_of(1, ["bash", "-c", loop])
    finally:
        os.unlink(listing.name)
    scale = len(cert_files) / len(sample)
    ssl_wall, ssl_cpu = ssl_wall * scale, ssl_cpu * scale
    # 4. one hook run on one file (the console script pre-commit runs, with the whole policy), as pre-commit
    #    installs it (a non-editable venv) and from this checkout's editable .venv
    one = str(cert_files[0].relative_to(corpus))
    installed = hook_env()
    hooks = [("installed", str(installed / "certhygiene-hook"))] if installed else []
    hooks.append(("editable .venv", hook))
    hook_rows = []
    for where, command in hooks:
        timed([command, one], cwd=str(corpus))  # bytecode
        walls, cpus = [], []
        for _unused in range(args.hook_runs):
            wall, cpu, proc = timed([command, one], cwd=str(corpus))
            if proc.returncode not in (0, 1):
                sys.exit(f"bench: {command} exited {proc.returncode}:\n{proc.stderr.decode()[-2000:]}")
            walls.append(wall * 1000)
            cpus.append(cpu * 1000)
        hook_rows.append((where, walls, cpus))
    hook_walls, hook_cpus = hook_rows[0][1], hook_rows[0][2]
    hook_wall, hook_cpu = statistics.median(hook_walls), statistics.median(hook_cpus)

    n = len(files)
    ssl_note = "all measured" if scale == 1 else f"{len(sample)} files measured, scaled"
    rows = [
        ("certhygiene check --format json", check_wall, check_cpu, n, f"{len(findings)} findings"),
        (
            "bare cryptography parse loop",
            bare_wall,
            bare_cpu,
            n,
            " ".join(parsed[:1]) + " certs, keys " + " ".join(parsed[1:]),
        ),
        ("openssl x509 -noout loop", ssl_wall, ssl_cpu, len(cert_files), ssl_note),
    ]
    print(f"\ncorpus: {n} files ({len(cert_files)} certificate files) in {corpus.relative_to(REPO)}; load {load:.1f}")
    print(f"{'what':34} {'wall s':>8} {'cpu s':>8} {'files':>6} {'ms/file':>8}  note")
    for label, wall, cpu, count, note in rows:
        print(f"{label:34} {wall:8.2f} {cpu:8.2f} {count:6d} {wall * 1000 / count:8.3f}  {note}")
    for where, walls, cpus in hook_rows:
        label = f"one hook run ({where})"
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        print(
            f"{label:34} {wall / 1000:8.3f} {cpu / 1000:8.3f} {1:6d} {wall:8.1f}  "
            f"median of {len(walls)}; best {min(walls):.0f} ms wall, {min(cpus):.0f} ms cpu"
        )

    results = {
        "check_over_bare_parse": (check_wall / bare_wall, check_cpu / bare_cpu, "<=", 2.0),
        "openssl_loop_over_check": (ssl_wall / check_wall, ssl_cpu / check_cpu, ">=", 50.0),
        "hook_ms": (hook_wall, hook_cpu, "<=", 150.0),
    }
    print(f"\n{'ratio':26} {'wall':>9} {'cpu':>9}   target")
    for name, (wall, cpu, op, target) in results.items():
        met = wall <= target if op == "<=" else wall >= target
        print(f"{name:26} {wall:9.2f} {cpu:9.2f}   {op} {target:g}: {'met' if met else 'MISSED'} (wall)")
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    record = {
        "files": n,
        "certificate_files": len(cert_files),
        "load_average": load,
        "check": {"wall_s": check_wall, "cpu_s": check_cpu},
        "bare_parse": {"wall_s": bare_wall, "cpu_s": bare_cpu},
        "openssl_loop": {"wall_s": ssl_wall, "cpu_s": ssl_cpu, "files_measured": len(sample)},
        "hook": {where: {"wall_ms": walls, "cpu_ms": cpus} for where, walls, cpus in hook_rows},
        "ratios": {name: {"wall": wall, "cpu": cpu} for name, (wall, cpu, _op, _t) in results.items()},
    }
    (BENCH_DIR / "check.json").write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
