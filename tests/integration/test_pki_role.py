"""The pki role, run for real by ansible-playbook on localhost, judged by openssl, Python ssl and certhygiene check."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from support.ansible import REPO_ROOT, PlaybookRun, run_playbook

pytestmark = pytest.mark.integration

CONNECT_ADDRESS = "127.0.0.1"
CLIENTS = ["client", "device-2"]


def role_play(pki_dir: Path, **extra: Any) -> list[dict[str, Any]]:
    variables = {
        "pki_dir": str(pki_dir),
        "pki_connect_address": CONNECT_ADDRESS,
        "pki_subject_alt_names": ["localhost"],
        "pki_two_way": True,
        "pki_client_names": CLIENTS,
        **extra,
    }
    return [
        {
            "name": "Make the PKI",
            "hosts": "localhost",
            "gather_facts": False,
            "roles": [{"role": "certhygiene.tls.pki", "vars": variables}],
        }
    ]


def key_lines(pki_dir: Path) -> list[str]:
    """The base64 body lines of every private key in the folder."""
    lines = []
    for path in sorted(pki_dir.glob("*.key")):
        lines += [line for line in path.read_text().splitlines() if line and not line.startswith("-----")]
    assert lines
    return lines


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("pki_role")
    pki_dir = work / "pki"
    first = run_playbook(work / "first", role_play(pki_dir), verbosity=4, diff=True)
    assert first.returncode == 0, first.output[-3000:]
    return {"work": work, "dir": pki_dir, "first": first}


def test_the_role_writes_the_seed_file_names_and_reports_them(pki: dict[str, Any]) -> None:
    names = sorted(p.name for p in pki["dir"].iterdir())
    expected = [
        "client-ca.crt",
        "client-ca.key",
        "cloud-ca.crt",
        "cloud-ca.key",
        "cloud.chain.pem",
        "cloud.crt",
        "cloud.key",
    ]
    expected += [f"{n}.{ext}" for n in CLIENTS for ext in ("crt", "key")]
    assert names == sorted(expected)
    for key in pki["dir"].glob("*.key"):
        assert key.stat().st_mode & 0o777 == 0o600, key
        assert key.read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    output = pki["first"].stdout
    assert "Report what the PKI role made" in output
    assert "client certificates in " in output and "created client, device-2" in output
    assert pki["first"].changed >= 5


@pytest.mark.parametrize(
    ("ca", "cert", "options"),
    [
        ("cloud-ca.crt", "cloud.crt", ["-purpose", "sslserver", "-verify_ip", CONNECT_ADDRESS]),
        ("cloud-ca.crt", "cloud.crt", ["-purpose", "sslserver", "-verify_hostname", "localhost"]),
        ("client-ca.crt", "client.crt", ["-purpose", "sslclient"]),
        ("client-ca.crt", "device-2.crt", ["-purpose", "sslclient"]),
    ],
)
def test_openssl_verifies_the_certificates(pki: dict[str, Any], ca: str, cert: str, options: list[str]) -> None:
    folder = pki["dir"]
    proc = subprocess.run(
        ["openssl", "verify", "-x509_strict", "-CAfile", str(folder / ca), *options, str(folder / cert)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith(": OK")


def test_openssl_refuses_the_server_certificate_against_the_client_ca(pki: dict[str, Any]) -> None:
    folder = pki["dir"]
    proc = subprocess.run(
        ["openssl", "verify", "-CAfile", str(folder / "client-ca.crt"), str(folder / "cloud.crt")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0


def _handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, server_hostname: str) -> dict[str, Any]:
    """One real TLS handshake on loopback; returns what each side saw."""
    seen: dict[str, Any] = {}
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        try:
            conn, _addr = listener.accept()
            conn.settimeout(10)
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                seen["client_cert"] = tls.getpeercert()
                tls.sendall(b"hello " + tls.version().encode())
        except (ssl.SSLError, OSError) as exc:
            seen["server_error"] = exc

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with client_ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
                seen["server_cert"] = tls.getpeercert()
                seen["data"] = tls.recv(64)
    except (ssl.SSLError, OSError) as exc:
        seen["client_error"] = exc
    thread.join(10)
    listener.close()
    return seen


def _subject_cn(cert: dict[str, Any]) -> str:
    return dict(pair[0] for pair in cert["subject"])["commonName"]


@pytest.mark.parametrize("hostname", [CONNECT_ADDRESS, "localhost"])
def test_tls_handshake_verifies_the_server_by_name(pki: dict[str, Any], hostname: str) -> None:
    folder = pki["dir"]
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cloud.crt", folder / "cloud.key")
    client = ssl.create_default_context(cafile=str(folder / "cloud-ca.crt"))
    assert client.check_hostname and client.verify_mode == ssl.CERT_REQUIRED
    seen = _handshake(server, client, hostname)
    assert "client_error" not in seen, seen
    assert seen["data"].startswith(b"hello TLS")
    assert _subject_cn(seen["server_cert"]) == CONNECT_ADDRESS


def test_tls_handshake_refuses_a_wrong_hostname(pki: dict[str, Any]) -> None:
    folder = pki["dir"]
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cloud.crt", folder / "cloud.key")
    client = ssl.create_default_context(cafile=str(folder / "cloud-ca.crt"))
    seen = _handshake(server, client, "mqtt.example.com")
    assert isinstance(seen.get("client_error"), ssl.SSLCertVerificationError)


@pytest.mark.parametrize("present_cert", [True, False])
def test_mutual_tls_with_the_client_certificate(pki: dict[str, Any], present_cert: bool) -> None:
    folder = pki["dir"]
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cloud.crt", folder / "cloud.key")
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_verify_locations(folder / "client-ca.crt")
    client = ssl.create_default_context(cafile=str(folder / "cloud-ca.crt"))
    if present_cert:
        client.load_cert_chain(folder / "client.crt", folder / "client.key")
    seen = _handshake(server, client, CONNECT_ADDRESS)
    if present_cert:
        assert "client_error" not in seen and "server_error" not in seen, seen
        assert _subject_cn(seen["client_cert"]) == "client"
    else:
        assert "server_error" in seen  # the server requires a certificate


def _certhygiene_check(pki: dict[str, Any], *paths: str) -> subprocess.CompletedProcess[str]:
    if not (REPO_ROOT / "cli" / "check.py").exists():
        pytest.skip("the certhygiene check command is not there yet")
    cli = Path(sys.executable).parent / "certhygiene"
    targets = [str(pki["dir"] / p) for p in paths] or [str(pki["dir"])]
    return subprocess.run(
        [str(cli), "check", "--profile", "seed", *targets], capture_output=True, text=True, cwd=pki["work"], check=False
    )


def test_certhygiene_check_finds_nothing_in_what_the_deployment_gets(pki: dict[str, Any]) -> None:
    """The files of the seed's two-way upload: certificate, chain, key and client CA (and the server CA)."""
    # cloud.chain.pem is read as cloud.crt's neighbour (naming it would also pair it with the client certificates)
    proc = _certhygiene_check(pki, "cloud.crt", "cloud.key", "client-ca.crt", "cloud-ca.crt")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no findings" in proc.stdout


def test_certhygiene_check_finds_nothing_in_the_whole_folder(pki: dict[str, Any]) -> None:
    proc = _certhygiene_check(pki)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_second_run_changes_nothing(pki: dict[str, Any]) -> None:
    before = snapshot(pki["dir"])
    second = run_playbook(pki["work"] / "second", role_play(pki["dir"]), verbosity=4, diff=True)
    assert second.returncode == 0, second.output[-3000:]
    assert second.changed == 0
    assert snapshot(pki["dir"]) == before
    _assert_no_key_bytes(second, pki["dir"])


def test_check_mode_reports_exactly_the_new_san_and_writes_nothing(pki: dict[str, Any]) -> None:
    before = snapshot(pki["dir"])
    run = run_playbook(
        pki["work"] / "check",
        role_play(pki["dir"], pki_subject_alt_names=["localhost", "mqtt2.example.com"]),
        check=True,
        diff=True,
    )
    assert run.returncode == 0, run.output[-3000:]
    assert run.changed == 1
    changed_tasks = [line for line in run.stdout.splitlines() if line.startswith("changed:")]
    assert len(changed_tasks) == 1
    task_block = run.stdout.split("Make the server certificate for the connection address")[1].split("TASK [")[0]
    assert "changed: [localhost]" in task_block
    added = [line for line in task_block.splitlines() if line.startswith("+") and "mqtt2.example.com" in line]
    assert added, task_block
    assert "(new certificate)" in task_block and '"private_key": "(kept)"' in task_block
    assert snapshot(pki["dir"]) == before
    _assert_no_key_bytes(run, pki["dir"])


def test_no_private_key_bytes_in_verbose_or_diff_output(pki: dict[str, Any]) -> None:
    first: PlaybookRun = pki["first"]
    assert "<localhost> ESTABLISH LOCAL CONNECTION" in first.output  # really -vvvv
    assert '"private_key_path"' in first.output  # module results are printed
    _assert_no_key_bytes(first, pki["dir"])


def _assert_no_key_bytes(run: PlaybookRun, pki_dir: Path) -> None:
    output = run.output
    assert "PRIVATE KEY-----" not in output
    for line in key_lines(pki_dir):
        assert line not in output


def test_ec_keys_are_refused_under_the_seed_profile(tmp_path: Path) -> None:
    run = run_playbook(tmp_path, role_play(tmp_path / "pki", pki_key_type="ec", pki_key_size=256))
    assert run.returncode != 0
    assert "EC_prime256v1 is not allowed by policy 'seed': it allows RSA_1024, RSA_2048" in run.output
    assert not (tmp_path / "pki").exists(), "the policy is checked before the first write (not even the folder)"
