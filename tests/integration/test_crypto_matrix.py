"""The cryptography version matrix: the engine and the modules on the managed nodes people have.

One interpreter per distribution's cryptography (scripts/crypto-matrix.sh builds and caches them):
3.4.8 (Ubuntu 22.04, Python 3.10), 36.0.2 (RHEL 9, Python 3.9), 38.0.4 (Debian 12), 41.0.7 (Ubuntu 24.04,
Python 3.12), 43.0.3 (Debian 13, Python 3.13), the newest release, and /usr/bin/python3 with Debian's
python3-cryptography. On each: the engine's unit tests, and one real ansible-playbook run of certificate,
client_certificates, certificate_check and certificate_chain with ``ansible_python_interpreter`` pointing at
it. Every node must give the same findings and make certificates with the same properties. A node with
cryptography 2.9 gets the floor message, and nothing is written.

Run with ``make crypto-matrix`` (part of ``make test``).
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID
from support.ansible import REPO_ROOT, ansible_env
from support.pki import ThreeLevel, issue, issue_pss, key, key_pem, pem, three_level

pytestmark = [pytest.mark.integration, pytest.mark.crypto_matrix]

# Nodes that must work, and the one below the floor.
NODES = ("3.4.8", "36.0.2", "38.0.4", "41.0.7", "43.0.3", "newest", "debian-system")
BELOW_FLOOR = "2.9"
FLOOR_WORDS = "cryptography >= 3.4.8 (found 2.9)"
# The engine's unit tests (the doors' tests need the pip package's own Python floor, 3.10).
ENGINE_TESTS = (
    "tests/unit/test_rules.py",
    "tests/unit/test_chain.py",
    "tests/unit/test_issue.py",
    "tests/unit/test_policy.py",
    "tests/unit/test_report.py",
    "tests/unit/test_vault.py",
    "tests/unit/test_openssl_recipes.py",
    "tests/unit/test_crypto_compat.py",
    "tests/unit/test_signature_fast_path.py",
    "tests/unit/test_records.py",
)


@pytest.fixture(scope="module")
def interpreters() -> dict[str, str]:
    """name -> python of each matrix environment (built on first use, then cached)."""
    proc = subprocess.run(
        ["bash", "scripts/crypto-matrix.sh", "envs"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = dict(line.split("\t", 1) for line in proc.stdout.splitlines() if "\t" in line)
    missing = [name for name in (*NODES, BELOW_FLOOR) if name not in found]
    assert not missing, f"matrix environments not built: {missing}\n{proc.stderr[-3000:]}"
    return found


def node_python(interpreters: dict[str, str], name: str) -> str:
    # Debian's package is used as a user has it: the system interpreter itself (the venv beside it only
    # carries pytest for the engine's tests).
    return "/usr/bin/python3" if name == "debian-system" else interpreters[name]


@pytest.fixture(scope="module")
def engine_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed layout of the pip package (what pyproject's package-dir maps), as links to this checkout."""
    root = tmp_path_factory.mktemp("engine-tree")
    package = root / "certhygiene"
    package.mkdir()
    for source in sorted((REPO_ROOT / "plugins/module_utils/certhygiene").glob("*.py")):
        (package / source.name).symlink_to(source)
    (package / "cli").symlink_to(REPO_ROOT / "cli", target_is_directory=True)
    (package / "hooks").symlink_to(REPO_ROOT / "hooks", target_is_directory=True)
    return root


def run_python(python: str, engine_tree: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(engine_tree), str(REPO_ROOT / "tests")])
    env.pop("PYTHONHOME", None)
    return subprocess.run(
        [python, *args], cwd=cwd or REPO_ROOT, env=env, capture_output=True, text=True, timeout=900, check=False
    )


# --------------------------------------------------------------------------------------------- engine tests


@pytest.mark.parametrize("node", NODES)
def test_engine_unit_tests_pass(node: str, interpreters: dict[str, str], engine_tree: Path) -> None:
    proc = run_python(
        interpreters[node], engine_tree, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *ENGINE_TESTS
    )
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, f"{node}:\n{tail}"
    assert " passed" in proc.stdout and " failed" not in proc.stdout, tail


# ----------------------------------------------------------------------------------------- the playbook run


def write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def make_inputs(folder: Path, pki: ThreeLevel) -> dict[str, dict[str, str]]:
    """Material for certificate_check (one case per known finding) and certificate_chain, made once."""
    expired = issue(
        "expired.example.com",
        issuer=pki.intermediate,
        private_key=key("rsa", 2048, 61),
        dns=("expired.example.com",),
        not_before=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc),
        not_after=datetime.datetime(2021, 1, 1, tzinfo=datetime.timezone.utc),
    )
    pss_leaf = issue_pss(
        "pss.example.com", issuer=pki.intermediate, private_key=key("rsa", 2048, 62), dns=("pss.example.com",)
    )
    ec_leaf = issue("ec.example.com", issuer=pki.intermediate, private_key=key("ec", 256, 63), dns=("ec.example.com",))
    ed_root = issue("Ed Root", private_key=key("ed25519", 0, 64), ca=True)
    ed_leaf = issue("ed.example.com", issuer=ed_root, private_key=key("ed25519", 0, 65), dns=("ed.example.com",))
    chain = pem(pki.intermediate)
    cases: dict[str, dict[str, str]] = {
        # clean; the key is traditional PKCS#1 ("BEGIN RSA PRIVATE KEY"): it must never read as encrypted
        "clean_pkcs1_key": {
            "certificate_path": write(folder / "clean/server.crt", pem(pki.leaf)),
            "private_key_path": write(folder / "clean/server.key", key_pem(pki.leaf.key, "pkcs1")),
            "chain_path": write(folder / "clean/server.chain.pem", chain),
        },
        "encrypted_key": {
            "certificate_path": write(folder / "enc/server.crt", pem(pki.leaf)),
            "private_key_path": write(folder / "enc/server.key", key_pem(pki.leaf.key, "pkcs8", b"secret")),
            "chain_path": write(folder / "enc/server.chain.pem", chain),
        },
        "expired": {
            "certificate_path": write(folder / "expired/server.crt", pem(expired)),
            "private_key_path": write(folder / "expired/server.key", key_pem(expired.key)),
            "chain_path": write(folder / "expired/server.chain.pem", chain),
        },
        "leaf_in_chain_wrong_order": {
            "certificate_path": write(folder / "order/server.crt", pem(pki.leaf)),
            "chain_path": write(folder / "order/server.chain.pem", pem(pki.root, pki.leaf, pki.intermediate)),
        },
        "pss_signed": {
            "certificate_path": write(folder / "pss/server.crt", pem(pss_leaf)),
            "private_key_path": write(folder / "pss/server.key", key_pem(pss_leaf.key)),
            "chain_path": write(folder / "pss/server.chain.pem", chain),
        },
        "ec_under_rsa_mismatched_key": {
            "certificate_path": write(folder / "ec/server.crt", pem(ec_leaf)),
            "private_key_path": write(folder / "ec/server.key", key_pem(key("ec", 256, 66), "sec1")),
            "chain_path": write(folder / "ec/server.chain.pem", chain),
        },
        "ed25519": {
            "certificate_path": write(folder / "ed/server.crt", pem(ed_leaf)),
            "private_key_path": write(folder / "ed/server.key", key_pem(ed_leaf.key)),
            "chain_path": write(folder / "ed/server.chain.pem", pem(ed_root)),
        },
    }
    write(folder / "bundle/bundle.pem", pem(pki.root, pki.leaf, pki.intermediate))
    write(folder / "bundle/pss-bundle.pem", pem(pki.root, pss_leaf, pki.intermediate))
    return cases


def node_tasks(cases: dict[str, dict[str, str]], inputs: Path) -> list[dict[str, Any]]:
    out = "{{ node_dir }}"
    subject = {"O": "certhygiene matrix", "C": "DE"}
    server = {  # made, then asked for again: the second run must change nothing
        "kind": "server",
        "path": f"{out}/pki/server.crt",
        "private_key_path": f"{out}/pki/server.key",
        "key_type": "rsa",
        "key_size": 2048,
        "subject": {**subject, "CN": "mqtt.example.com"},
        "subject_alt_names": ["mqtt.example.com", "127.0.0.1"],
        "days": 365,
        "issuer_certificate_path": f"{out}/pki/ca.crt",
        "issuer_key_path": f"{out}/pki/ca.key",
    }
    tasks: list[dict[str, Any]] = [
        {"name": "node folder", "ansible.builtin.file": {"path": f"{out}/pki", "state": "directory", "mode": "0755"}},
        {
            "name": "CA",
            "certhygiene.tls.certificate": {
                "kind": "ca",
                "path": f"{out}/pki/ca.crt",
                "private_key_path": f"{out}/pki/ca.key",
                "key_type": "rsa",
                "key_size": 2048,
                "subject": {**subject, "CN": "Matrix CA"},
                "days": 3650,
            },
            "register": "r_ca",
        },
        {
            "name": "server certificate",
            "certhygiene.tls.certificate": server,
            "register": "r_server",
        },
        {
            "name": "server certificate again (idempotent)",
            "certhygiene.tls.certificate": dict(server),  # a copy: no YAML alias
            "register": "r_server_again",
        },
        {
            "name": "client certificates",
            "certhygiene.tls.client_certificates": {
                "names": ["device-1", "device-2"],
                "dir": f"{out}/pki",
                "ca_certificate_path": f"{out}/pki/ca.crt",
                "ca_key_path": f"{out}/pki/ca.key",
                "key_type": "rsa",
                "key_size": 2048,
                "subject": subject,
                "days": 365,
            },
            "register": "r_clients",
        },
        {
            "name": "check what the node made",
            "certhygiene.tls.certificate_check": {
                "certificate_path": f"{out}/pki/server.crt",
                "private_key_path": f"{out}/pki/server.key",
                "chain_path": f"{out}/pki/ca.crt",
            },
            "register": "r_check_made",
        },
    ]
    for name, options in cases.items():
        tasks.append(
            {
                "name": f"check {name}",
                "certhygiene.tls.certificate_check": dict(options),
                "register": f"r_case_{name}",
                # keep the failed result for the comparisons below
                "ignore_errors": True,
            }
        )
    for name, src in (("bundle", "bundle.pem"), ("pss_bundle", "pss-bundle.pem")):
        tasks.append(
            {
                "name": f"split {name}",
                "certhygiene.tls.certificate_chain": {
                    "src": str(inputs / "bundle" / src),
                    "certificate_path": f"{out}/{name}/leaf.crt",
                    "chain_path": f"{out}/{name}/chain.pem",
                    "root_path": f"{out}/{name}/root.crt",
                    "fetch_aia": False,
                },
                "register": f"r_chain_{name}",
            }
        )
        tasks.insert(
            len(tasks) - 1,
            {
                "name": f"{name} folder",
                "ansible.builtin.file": {"path": f"{out}/{name}", "state": "directory", "mode": "0755"},
            },
        )
    registered = ["r_ca", "r_server", "r_server_again", "r_clients", "r_check_made"]
    registered += [f"r_case_{n}" for n in cases] + ["r_chain_bundle", "r_chain_pss_bundle"]
    dump = "{{ {" + ", ".join(f"'{r}': {r}" for r in registered) + "} | to_json }}"
    tasks.append(
        {"name": "results", "ansible.builtin.copy": {"content": dump, "dest": f"{out}/results.json", "mode": "0644"}}
    )
    return tasks


def run_nodes(workdir: Path, hosts: dict[str, str], plays: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    inventory = workdir / "inventory.ini"
    lines = ["[nodes]"]
    for name, python in hosts.items():
        lines.append(
            f"node-{name} ansible_connection=local ansible_python_interpreter={python} node_dir={workdir / name}"
        )
    inventory.write_text("\n".join(lines) + "\n")
    playbook = workdir / "playbook.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "-f", "4", str(playbook)]
    return subprocess.run(
        cmd, cwd=workdir, env=ansible_env(), capture_output=True, text=True, timeout=1800, check=False
    )


def cert_properties(path: Path, ca: x509.Certificate) -> dict[str, Any]:
    """What a certificate is, independent of randomness (serial, key bits) and of the day it was made."""
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    cert.verify_directly_issued_by(ca)
    public = cert.public_key()
    props: dict[str, Any] = {
        "version": cert.version.name,
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "days": (cert.not_valid_after_utc - cert.not_valid_before_utc).days,
        "key": (type(public).__name__.replace("_", ""), getattr(public, "key_size", 0)),
        "signature_hash": cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else None,
        "serial_bits_over_64": cert.serial_number.bit_length() > 64,
    }
    for ext in cert.extensions:
        value = ext.value
        if ext.oid in (ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.AUTHORITY_KEY_IDENTIFIER):
            props[ext.oid._name] = ext.critical  # the identifiers themselves derive from random keys
        elif ext.oid == ExtensionOID.SUBJECT_ALTERNATIVE_NAME:
            props["san"] = sorted(str(n.value) for n in value)
        else:
            props[ext.oid._name] = (ext.critical, repr(value))
    return props


def node_view(node_dir: Path) -> dict[str, Any]:
    """One node's outcome: module results (without what is random) and the files' properties."""
    results = json.loads((node_dir / "results.json").read_text())
    pki = node_dir / "pki"
    ca = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    view: dict[str, Any] = {
        "changed": {k: v.get("changed") for k, v in results.items()},
        "failed": {k: bool(v.get("failed")) for k, v in results.items()},
        "findings": {
            k: sorted((f["rule_id"], f["severity"], Path(f["path"]).name, f["line"]) for f in v.get("findings", []))
            for k, v in results.items()
            if k.startswith("r_case_") or k == "r_check_made"
        },
        "certificates": {
            name: cert_properties(pki / name, ca) for name in ("ca.crt", "server.crt", "device-1.crt", "device-2.crt")
        },
        "keys_match": all(
            serialization.load_pem_private_key((pki / f"{stem}.key").read_bytes(), None)
            .public_key()
            .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            == x509.load_pem_x509_certificate((pki / f"{stem}.crt").read_bytes())
            .public_key()
            .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            for stem in ("ca", "server", "device-1", "device-2")
        ),
        "key_modes": sorted(oct((pki / f"{stem}.key").stat().st_mode & 0o777) for stem in ("ca", "server")),
        "chains": {
            name: {f: (node_dir / name / f).read_bytes() for f in ("leaf.crt", "chain.pem", "root.crt")}
            for name in ("bundle", "pss_bundle")
        },
        "module_facts": {
            k: {f: results[k].get(f) for f in ("subject", "issuer", "key_type", "key_size", "kind")}
            for k in ("r_ca", "r_server")
        },
    }
    return view


@pytest.fixture(scope="module")
def matrix_run(
    interpreters: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path, dict[str, dict[str, str]], ThreeLevel]:
    workdir = tmp_path_factory.mktemp("crypto-matrix")
    pki = three_level()
    cases = make_inputs(workdir / "inputs", pki)
    plays = [
        {"name": "matrix", "hosts": "nodes", "gather_facts": False, "tasks": node_tasks(cases, workdir / "inputs")}
    ]
    proc = run_nodes(workdir, {name: node_python(interpreters, name) for name in NODES}, plays)
    return proc, workdir, cases, pki


def test_every_node_runs_the_modules(matrix_run: Any) -> None:
    proc, workdir = matrix_run[0], matrix_run[1]
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    for name in NODES:
        assert f"node-{name}" in proc.stdout
        assert (workdir / name / "results.json").is_file(), name
    assert "Traceback" not in output and "AttributeError" not in output


@pytest.mark.parametrize("node", NODES)
def test_node_findings_are_the_expected_ones(node: str, matrix_run: Any) -> None:
    workdir = matrix_run[1]
    view = node_view(workdir / node)
    rules = {case: {f[0] for f in found} for case, found in view["findings"].items()}
    assert rules["r_check_made"] == set(), view["findings"]["r_check_made"]
    assert rules["r_case_clean_pkcs1_key"] == set(), "a plain PKCS#1 key must never read as encrypted"
    assert "key.encrypted" in rules["r_case_encrypted_key"]
    assert "cert.validity" in rules["r_case_expired"]
    assert {"chain.leaf", "chain.order"} <= rules["r_case_leaf_in_chain_wrong_order"]
    assert "chain.order" not in rules["r_case_pss_signed"], "a PSS signature must verify"
    assert rules["r_case_pss_signed"] == set(), view["findings"]["r_case_pss_signed"]
    assert {"pair.mismatch", "chain.algorithm"} <= rules["r_case_ec_under_rsa_mismatched_key"]
    assert "chain.order" not in rules["r_case_ed25519"], "an Ed25519 signature must verify"
    assert "key.algorithm" in rules["r_case_ed25519"]
    assert view["changed"]["r_server_again"] is False
    assert view["keys_match"] and view["key_modes"] == ["0o600", "0o600"]
    assert view["certificates"]["server.crt"]["san"] == ["127.0.0.1", "mqtt.example.com"]


def test_same_findings_and_certificates_on_every_version(matrix_run: Any) -> None:
    workdir, pki = matrix_run[1], matrix_run[3]
    reference = node_view(workdir / "newest")
    # the chain outputs are the very certificates given, in the same order, on every node
    assert reference["chains"]["bundle"]["leaf.crt"] == pem(pki.leaf)
    assert reference["chains"]["bundle"]["chain.pem"] == pem(pki.intermediate)
    for node in NODES:
        view = node_view(workdir / node)
        for part in reference:
            assert view[part] == reference[part], f"{node} differs from the newest cryptography in {part}"


# ------------------------------------------------------------------------------------------- below the floor


def test_below_the_floor_every_door_names_the_version_and_nothing_is_written(
    interpreters: dict[str, str], engine_tree: Path, tmp_path: Path
) -> None:
    python = interpreters[BELOW_FLOOR]
    pki = three_level()
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pem(pki.root, pki.leaf, pki.intermediate))
    out = tmp_path / "node" / "pki"
    out.mkdir(parents=True)
    common = {"key_type": "rsa", "key_size": 2048, "days": 365}
    tasks = [
        {
            "name": "CA",
            "certhygiene.tls.certificate": {
                "kind": "ca",
                "path": str(out / "ca.crt"),
                "private_key_path": str(out / "ca.key"),
                "subject": {"CN": "Matrix CA"},
                **common,
            },
            "register": "r_ca",
            "ignore_errors": True,
        },
        {
            "name": "clients",
            "certhygiene.tls.client_certificates": {
                "names": ["device-1"],
                "dir": str(out),
                "ca_certificate_path": str(out / "ca.crt"),
                "ca_key_path": str(out / "ca.key"),
                "subject": {"O": "x"},
                **common,
            },
            "register": "r_clients",
            "ignore_errors": True,
        },
        {
            "name": "check",
            "certhygiene.tls.certificate_check": {"certificate_path": str(bundle)},
            "register": "r_check",
            "ignore_errors": True,
        },
        {
            "name": "chain",
            "certhygiene.tls.certificate_chain": {
                "src": str(bundle),
                "certificate_path": str(out / "leaf.crt"),
                "chain_path": str(out / "chain.pem"),
            },
            "register": "r_chain",
            "ignore_errors": True,
        },
        {
            "name": "results",
            "ansible.builtin.copy": {
                "content": "{{ {'ca': r_ca, 'clients': r_clients, 'check': r_check, 'chain': r_chain} | to_json }}",
                "dest": str(tmp_path / "node" / "results.json"),
                "mode": "0644",
            },
        },
    ]
    proc = run_nodes(
        tmp_path, {"old": python}, [{"name": "old", "hosts": "nodes", "gather_facts": False, "tasks": tasks}]
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    results = json.loads((tmp_path / "node" / "results.json").read_text())
    for name, result in results.items():
        assert result["failed"], name
        assert FLOOR_WORDS in result["msg"], (name, result["msg"])
        assert "Failed to import the required Python library" in result["msg"]
        assert "Traceback" not in str(result.get("exception", "")), name  # a clear word, no crash
    assert "AttributeError" not in proc.stdout + proc.stderr
    assert list(out.iterdir()) == [], "a failed first run must write nothing"

    # The CLI and a hook under the same interpreter: exit 2, the same words, nothing written.
    cli = run_python(python, engine_tree, "-m", "certhygiene.cli", "check", str(bundle), cwd=tmp_path)
    assert cli.returncode == 2, cli.stdout + cli.stderr
    assert FLOOR_WORDS in cli.stderr and "Traceback" not in cli.stderr
    split = run_python(
        python, engine_tree, "-m", "certhygiene.cli", "split", str(bundle), "--cert-out", "leaf.crt",
        "--chain-out", "chain.pem", cwd=tmp_path,
    )  # fmt: skip
    assert split.returncode == 2 and FLOOR_WORDS in split.stderr, split.stdout + split.stderr
    for hook in ("check_pem", "split_certificate_bundles"):
        proc_hook = run_python(python, engine_tree, "-m", f"certhygiene.hooks.{hook}", str(bundle), cwd=tmp_path)
        assert proc_hook.returncode == 2, (hook, proc_hook.stdout + proc_hook.stderr)
        assert FLOOR_WORDS in proc_hook.stderr and "Traceback" not in proc_hook.stderr, hook
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["bundle.pem", "inventory.ini", "playbook.yml"]
    assert bundle.read_bytes() == pem(pki.root, pki.leaf, pki.intermediate)


def test_below_the_floor_the_pki_role_writes_nothing(interpreters: dict[str, str], tmp_path: Path) -> None:
    """The issue's half a PKI: a failed first run had written the CA's key and certificate."""
    pki_dir = tmp_path / "node" / "pki"
    variables = {
        "pki_dir": str(pki_dir),
        "pki_connect_address": "mqtt.example.com",
        "pki_two_way": True,
        "pki_client_names": ["device-1"],
    }
    play = {
        "name": "pki",
        "hosts": "nodes",
        "gather_facts": False,
        "roles": [{"role": "certhygiene.tls.pki", "vars": variables}],
    }
    proc = run_nodes(tmp_path, {"old": interpreters[BELOW_FLOOR]}, [play])
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert FLOOR_WORDS in output and "AttributeError" not in output
    assert not pki_dir.exists() and not pki_dir.parent.exists(), "nothing is written, not even the folder"


def test_the_floor_is_what_pyproject_and_the_docs_say() -> None:
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert '"cryptography>=3.4.8"' in pyproject.replace(" ", "")
    readme = (REPO_ROOT / "README.md").read_text()
    assert "cryptography 3.4.8" in readme
    for module in ("certificate", "client_certificates", "certificate_check", "certificate_chain"):
        text = (REPO_ROOT / "plugins/modules" / f"{module}.py").read_text()
        assert "cryptography >= 3.4.8" in text, module
