"""Hostile input through the installed `certhygiene` command and hooks (issue 9: nothing hangs, nothing crashes).

Every case runs the real command in a subprocess, as a user or a pipeline runs it, and asserts what they see: the
exit code (0, 1 or 2 only), the message naming the file, and never a traceback, a library warning or a raw
control character. A ``timeout`` on a run guards against a hang (it fails the test; it measures nothing).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import certifi
import cryptography_vectors
import pytest
from support.aia import dribbling_server
from support.ansible import run_playbook
from support.pki import issue, key_pem, pem, three_level

BIN = Path(sys.executable).parent
CERTHYGIENE = str(BIN / "certhygiene")
VECTORS = Path(cryptography_vectors.__file__).parent
X509_VECTORS = VECTORS / "x509"
CA_STORE = Path("/etc/ssl/certs")
HANG_GUARD = 300  # seconds: a run that has not ended by then hangs (the whole vectors folder takes a few seconds)

# Vectors that crashed `report`, `split` or `complete` before issue 9 (malformed names, duplicate extensions,
# unsupported general names), PKCS#7 that is not a certificate bundle, and a negative serial (a library warning).
MALFORMED = [
    X509_VECTORS / "custom" / "invalid_utf8_common_name.pem",
    X509_VECTORS / "custom" / "long-form-name-attribute.pem",
    X509_VECTORS / "custom" / "name_attribute_unsupported_tag.pem",
]
ENVELOPED = [VECTORS / "pkcs7" / "enveloped.pem", VECTORS / "pkcs7" / "enveloped-no-content.der"]
NEGATIVE_SERIAL = X509_VECTORS / "custom" / "negative_serial.pem"


def run(*argv: str, cwd: Path | None = None, timeout: float = HANG_GUARD) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CERTHYGIENE, *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=timeout,
        check=False,
    )


def assert_clean_exit(proc: subprocess.CompletedProcess[str], codes: tuple[int, ...] = (0, 1, 2)) -> None:
    """Exit 0/1/2, no traceback, no library warning, no last-resort error message."""
    assert proc.returncode in codes, (proc.returncode, proc.stderr[-2000:])
    for marker in ("Traceback", "Warning:", "unexpected error"):
        assert marker not in proc.stderr, proc.stderr[-2000:]
        assert marker not in proc.stdout, proc.stdout[-2000:]


# ------------------------------------------------------------------ FIFOs and devices


@pytest.fixture
def fifo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "certs"
    folder.mkdir()
    (folder / "server.crt").write_bytes(pem(three_level().leaf))
    os.mkfifo(folder / "pipe.crt")
    os.mkfifo(folder / "chain.pem")
    (folder / "zero.crt").symlink_to("/dev/zero")
    return folder


@pytest.mark.parametrize("command", ["check", "report"])
def test_fifo_and_dev_zero_in_a_checked_folder_are_skipped_not_read(fifo_folder: Path, command: str) -> None:
    # certhygiene check certs / certhygiene report certs, with a FIFO and a *.crt symlink to /dev/zero in it
    proc = run(command, "certs", cwd=fifo_folder.parent, timeout=60)
    assert_clean_exit(proc, (0, 1))
    assert "certs/pipe.crt" in proc.stdout and "not a regular file (a FIFO)" in proc.stdout
    assert "certs/zero.crt" in proc.stdout and "not a regular file (a character device)" in proc.stdout
    assert "mqtt.example.com" in proc.stdout or command == "check"


def test_split_and_complete_refuse_a_fifo_input(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "bundle.pem")
    for argv in (
        ["split", "bundle.pem", "--cert-out", "c.pem", "--chain-out", "ch.pem"],
        ["complete", "bundle.pem", "--chain-out", "ch.pem", "--no-aia"],
    ):
        proc = run(*argv, cwd=tmp_path, timeout=60)
        assert_clean_exit(proc, (2,))
        assert "bundle.pem" in proc.stderr and "not a regular file (a FIFO)" in proc.stderr


def test_complete_skips_a_fifo_among_the_intermediates(tmp_path: Path) -> None:
    pki = three_level()
    (tmp_path / "leaf.crt").write_bytes(pem(pki.leaf))
    folder = tmp_path / "cas"
    folder.mkdir()
    (folder / "int.pem").write_bytes(pem(pki.intermediate))
    (folder / "root.pem").write_bytes(pem(pki.root))
    os.mkfifo(folder / "pipe.pem")
    proc = run("complete", "leaf.crt", "--chain-out", "chain.pem", "--intermediates", "cas", "--no-aia", cwd=tmp_path)
    assert_clean_exit(proc, (0,))
    assert (tmp_path / "chain.pem").read_bytes() == pem(pki.intermediate)


def test_a_fifo_as_policy_file_is_a_usage_error(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "policy.yaml")
    (tmp_path / "a.crt").write_bytes(pem(three_level().leaf))
    proc = run("check", "--policy", "policy.yaml", "a.crt", cwd=tmp_path, timeout=60)
    assert_clean_exit(proc, (2,))
    assert "policy.yaml" in proc.stderr and "not a regular file (a FIFO)" in proc.stderr


# ------------------------------------------------------------------ size limit


def test_max_file_size_names_the_file_and_the_limit(tmp_path: Path) -> None:
    pki = three_level()
    (tmp_path / "big.crt").write_bytes(pem(pki.leaf, pki.intermediate))
    proc = run("check", "--max-file-size", "1k", "big.crt", cwd=tmp_path)
    assert_clean_exit(proc, (1,))
    assert "big.crt: error [pem.encoding] the file is larger than the size limit" in proc.stdout
    assert "> 1 KiB" in proc.stdout and "--max-file-size" in proc.stdout

    (tmp_path / ".certhygiene.yaml").write_text("max_file_size: 512\n")
    proc = run("report", "big.crt", cwd=tmp_path)
    assert_clean_exit(proc, (0,))
    assert "skipped: big.crt: the file is larger than the size limit" in proc.stdout and "> 512 bytes" in proc.stdout

    proc = run("check", "--max-file-size", "lots", "big.crt", cwd=tmp_path)
    assert_clean_exit(proc, (2,))
    assert "--max-file-size: not a size: 'lots'" in proc.stderr


def test_hook_max_file_size(tmp_path: Path) -> None:
    pki = three_level()
    (tmp_path / "big.crt").write_bytes(pem(pki.leaf, pki.intermediate))
    proc = subprocess.run(
        [str(BIN / "certhygiene-check-pem"), "--max-file-size", "1k", "big.crt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert_clean_exit(proc, (1,))
    assert "big.crt: error [pem.encoding] the file is larger than the size limit" in proc.stdout


# ------------------------------------------------------------------ real CA stores and pyca's vectors


@pytest.mark.parametrize(
    "target",
    [X509_VECTORS, CA_STORE, Path(certifi.where())],
    ids=["cryptography-vectors-x509", "etc-ssl-certs", "certifi"],
)
@pytest.mark.parametrize("command", ["check", "report"])
def test_real_stores_and_vectors_never_crash(command: str, target: Path) -> None:
    if not target.exists():
        pytest.skip(f"{target} is not on this machine")
    proc = run(command, str(target))
    assert_clean_exit(proc)
    assert proc.stdout.strip()


def test_a_real_trust_bundle_is_no_chain_out_of_order(tmp_path: Path) -> None:
    """certifi's roots (Mozilla's, made by nobody here) under a chain's name and as a Kubernetes Secret's ca.crt:
    trust anchors side by side, some of them SHA-1 self-signatures and re-signed roots with one name and key.
    No root certifies the next, and none need: no chain.order (the same file with its roots upside down after
    an intermediate would be)."""
    import base64

    roots = Path(certifi.where()).read_bytes()
    (tmp_path / "ca-bundle.crt").write_bytes(roots)
    (tmp_path / "trust.yaml").write_text(
        "apiVersion: v1\nkind: Secret\ntype: Opaque\nmetadata:\n  name: trust\n"
        f"data:\n  ca.crt: {base64.b64encode(roots).decode()}\n"
    )
    proc = run("check", "ca-bundle.crt", "trust.yaml", "--format", "json", cwd=tmp_path)
    assert_clean_exit(proc, (0, 1))
    report = json.loads(proc.stdout)
    assert sorted(report["files_checked"]) == ["ca-bundle.crt", "trust.yaml"]
    assert [f for f in report["findings"] if f["rule_id"] == "chain.order"] == []
    # its comments: one finding for each stretch of text between two certificates, not one per line
    stray = [f for f in report["findings"] if f["path"] == "ca-bundle.crt" and "text outside" in f["message"]]
    assert 0 < len(stray) <= roots.count(b"-----BEGIN CERTIFICATE-----") + 1


def test_report_lists_a_certificate_with_a_malformed_subject_as_skipped() -> None:
    # certhygiene report on pyca's x509/ died on one certificate with a malformed subject
    proc = run("report", str(MALFORMED[0]))
    assert_clean_exit(proc, (0,))
    assert "invalid_utf8_common_name.pem:1: the certificate cannot be read" in proc.stdout


@pytest.mark.parametrize("path", MALFORMED, ids=lambda p: p.name)
def test_split_and_complete_on_a_malformed_subject_say_which_certificate(tmp_path: Path, path: Path) -> None:
    for argv in (
        ["split", str(path), "--cert-out", "c.pem", "--chain-out", "ch.pem"],
        ["complete", str(path), "--chain-out", "ch.pem", "--no-aia"],
    ):
        proc = run(*argv, cwd=tmp_path)
        assert_clean_exit(proc, (1,))
        assert path.name in proc.stderr and "the certificate at line 1 cannot be used" in proc.stderr
    assert not (tmp_path / "c.pem").exists() and not (tmp_path / "ch.pem").exists()


@pytest.mark.parametrize("path", ENVELOPED, ids=lambda p: p.name)
def test_split_on_pkcs7_enveloped_data(tmp_path: Path, path: Path) -> None:
    proc = run("split", str(path), "--cert-out", "c.pem", "--chain-out", "ch.pem", cwd=tmp_path)
    assert_clean_exit(proc, (1,))
    assert path.name in proc.stderr
    assert "not a PKCS#7 certificate bundle" in proc.stderr or "holds no certificate" in proc.stderr


def test_library_warnings_are_not_shown(tmp_path: Path) -> None:
    # a negative serial makes cryptography print a CryptographyDeprecationWarning
    for argv in (
        ["check", str(NEGATIVE_SERIAL)],
        ["report", str(NEGATIVE_SERIAL)],
        ["split", str(NEGATIVE_SERIAL), "--cert-out", "c.pem", "--chain-out", "ch.pem"],
    ):
        proc = run(*argv, cwd=tmp_path)
        assert_clean_exit(proc)
        assert "Deprecat" not in proc.stderr


def _sweep_files() -> list[Path]:
    files = sorted(p for p in X509_VECTORS.rglob("*") if p.is_file())
    files += sorted((VECTORS / "pkcs7").glob("*"))
    files += sorted(p for p in CA_STORE.glob("*") if p.is_file())[:400]
    files.append(Path(certifi.where()))
    return files


def test_split_and_complete_on_every_vector_and_store_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """split and complete on each file of pyca's x509/ and pkcs7/ vectors, the CA store and certifi's bundle:
    the CLI's entry point in one process (a subprocess per file would take minutes); exit 0/1/2, and never the
    last-resort message that stands for an uncaught exception."""
    from certhygiene.cli.main import main

    outs = ("--cert-out", str(tmp_path / "c.pem"), "--chain-out", str(tmp_path / "ch.pem"))
    failures = []
    for path in _sweep_files():
        for argv in (["split", str(path), *outs], ["complete", str(path), "--chain-out", outs[3], "--no-aia"]):
            code = main(argv)
            out, err = capsys.readouterr()
            if code not in (0, 1, 2) or "unexpected error" in err or "Traceback" in err + out:
                failures.append((argv[0], str(path), code, err[-300:]))
    assert not failures, failures[:10]


# ------------------------------------------------------------------ odd files


def test_bom_is_named_once(tmp_path: Path) -> None:
    (tmp_path / "bom.crt").write_bytes(b"\xef\xbb\xbf" + pem(three_level().leaf))
    proc = run("check", "bom.crt", cwd=tmp_path)
    assert_clean_exit(proc, (1,))
    lines = [line for line in proc.stdout.splitlines() if "[pem.encoding]" in line]
    assert len(lines) == 1 and "byte order mark (BOM)" in lines[0], proc.stdout
    assert "text outside" not in proc.stdout


def test_armour_without_a_block_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / "only-begin.crt").write_text("-----BEGIN FOO\n")
    proc = run("check", "only-begin.crt", cwd=tmp_path)
    assert_clean_exit(proc, (1,))
    assert "only-begin.crt:1: error [pem.encoding] the file looks like PEM but holds no valid PEM block" in proc.stdout


def test_split_reports_a_private_key_in_the_bundle(tmp_path: Path) -> None:
    pki = three_level()
    (tmp_path / "bundle.pem").write_bytes(key_pem(pki.leaf.key) + pem(pki.leaf, pki.intermediate, pki.root))
    proc = run("split", "bundle.pem", "--cert-out", "server.crt", "--chain-out", "chain.pem", cwd=tmp_path)
    assert_clean_exit(proc, (0,))
    assert "bundle.pem also holds 1 private key(s); not written to any output" in proc.stderr
    assert b"PRIVATE KEY" not in (tmp_path / "server.crt").read_bytes() + (tmp_path / "chain.pem").read_bytes()
    assert "-----BEGIN" not in proc.stderr and "MII" not in proc.stderr  # named, never shown


ODD_NAMES = [b"new\nline.crt", b"esc\x1b[31mred.crt", b"bad\xff.crt"]


@pytest.fixture
def odd_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "odd"
    folder.mkdir()
    for name in ODD_NAMES:
        # A BOM: one finding per file, whose line starts with the file's name.
        with open(os.path.join(os.fsencode(folder), name), "wb") as handle:
            handle.write(b"\xef\xbb\xbf" + pem(three_level().leaf))
    return folder


def test_odd_names_in_text_output(odd_folder: Path) -> None:
    proc = subprocess.run(
        [CERTHYGIENE, "check", "odd"], cwd=odd_folder.parent, capture_output=True, timeout=60, check=False
    )
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr, proc.stderr
    out = proc.stdout
    assert b"\x1b" not in out and b"\xff" not in out
    lines = out.decode("utf-8").splitlines()
    # one line per finding, each starting with its file: the newline in a name forges no line
    findings = [line for line in lines if "[pem.encoding]" in line]
    assert len(findings) == 3, lines
    assert all(line.startswith("odd/") for line in lines[:-1]) and lines[-1].startswith("certhygiene: 3 files"), lines
    shown = "\n".join(findings)
    assert "odd/new\\nline.crt:1:" in shown and "odd/esc\\x1b[31mred.crt:1:" in shown and "odd/bad\\xff.crt:1:" in shown


def test_odd_names_in_json_and_sarif(odd_folder: Path) -> None:
    proc = subprocess.run(
        [CERTHYGIENE, "check", "--format", "json", "odd"],
        cwd=odd_folder.parent,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr, proc.stderr
    paths = {f["path"] for f in json.loads(proc.stdout.decode("utf-8"))["findings"]}
    assert paths == {"odd/new\\nline.crt", "odd/esc\\x1b[31mred.crt", "odd/bad\\xff.crt"}

    proc = subprocess.run(
        [CERTHYGIENE, "check", "--format", "sarif", "odd"],
        cwd=odd_folder.parent,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr, proc.stderr
    results = json.loads(proc.stdout.decode("utf-8"))["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {"odd/new%0Aline.crt", "odd/esc%1B%5B31mred.crt", "odd/bad%FF.crt"}


def test_odd_names_in_report_and_hooks(odd_folder: Path) -> None:
    proc = subprocess.run(
        [CERTHYGIENE, "report", "odd"], cwd=odd_folder.parent, capture_output=True, timeout=60, check=False
    )
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr, proc.stderr
    assert b"\x1b" not in proc.stdout and b"\xff" not in proc.stdout
    rows = [line for line in proc.stdout.decode("utf-8").splitlines() if "odd/" in line]
    assert len(rows) == 3 and any("odd/new\\nline.crt:1" in row for row in rows)

    names = [os.path.join(b"odd", name) for name in ODD_NAMES]
    proc = subprocess.run(
        [str(BIN / "certhygiene-check-pem"), *names],
        cwd=odd_folder.parent,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr, proc.stderr
    assert b"\x1b" not in proc.stdout and b"\xff" not in proc.stdout
    assert len([line for line in proc.stdout.splitlines() if b"[pem.encoding]" in line]) == 3


# ------------------------------------------------------------------ a server that dribbles


def test_complete_ends_when_the_aia_server_dribbles(tmp_path: Path) -> None:
    # An AIA server that sends a byte every half second held `complete --timeout 5` past two minutes.
    pki = three_level()
    with dribbling_server(0.5) as base:
        leaf = issue(
            "slow.example.com", issuer=pki.intermediate, dns=("slow.example.com",), aia_ca_issuers=f"{base}/int.der"
        )
        (tmp_path / "leaf.crt").write_bytes(pem(leaf))
        # The run's timeout is the functional bound (TimeoutExpired fails the test): 5 s per URL, 15 s per run.
        proc = run("complete", "leaf.crt", "--chain-out", "chain.pem", "--timeout", "5", cwd=tmp_path, timeout=30)
    assert_clean_exit(proc, (1,))
    assert "timed out: no complete answer within 5 s" in proc.stderr, proc.stderr
    assert f"{base}/int.der" in proc.stderr and not (tmp_path / "chain.pem").exists()


# ------------------------------------------------------------------ modules


def test_module_path_options_refuse_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "cert.pem")
    plays = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "check a FIFO",
                    "certhygiene.tls.certificate_check": {"certificate_path": str(tmp_path / "cert.pem")},
                    "register": "checked",
                    "ignore_errors": True,
                },
                {
                    "name": "split a FIFO",
                    "certhygiene.tls.certificate_chain": {
                        "src": str(tmp_path / "cert.pem"),
                        "certificate_path": str(tmp_path / "out.crt"),
                        "chain_path": str(tmp_path / "out.chain.pem"),
                    },
                    "register": "split",
                    "ignore_errors": True,
                },
                {
                    "ansible.builtin.assert": {
                        "that": [
                            "checked is failed",
                            "'certificate_path: ' in checked.msg and 'not a regular file (a FIFO)' in checked.msg",
                            "split is failed",
                            "'src: ' in split.msg and 'not a regular file (a FIFO)' in split.msg",
                        ]
                    }
                },
            ],
        }
    ]
    result = run_playbook(tmp_path / "play", plays, timeout=120)
    assert result.returncode == 0 and result.failed == 0, result.output[-3000:]


def test_vectors_folder_copy_with_odd_files_checks(tmp_path: Path) -> None:
    """A repository copy of some vectors with a FIFO and a device beside them: check ends, names every skip."""
    folder = tmp_path / "repo"
    shutil.copytree(X509_VECTORS / "custom", folder)
    os.mkfifo(folder / "pipe.pem")
    (folder / "zero.crt").symlink_to("/dev/zero")
    for command in ("check", "report"):
        proc = run(command, "repo", cwd=tmp_path, timeout=120)
        assert_clean_exit(proc, (0, 1))
        assert "repo/pipe.pem" in proc.stdout and "repo/zero.crt" in proc.stdout
