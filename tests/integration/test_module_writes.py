"""Issue 9's data-loss cases in the modules, under real ansible-playbook: a task never loses a file.

`certificate_chain` refuses to write over a key or over its src, and a write failure changes nothing;
`certificate` never replaces a key the user has (RSA-4096, EC under the seed policy) without
`regenerate_key: true`, and keeps a 0600 backup when it does.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from support.ansible import run_playbook
from support.pki import ThreeLevel, key, key_pem, pem, three_level

pytestmark = pytest.mark.integration

KEY = key_pem(key("rsa", 2048, 83), "pkcs1")


@pytest.fixture(scope="module")
def pki() -> ThreeLevel:
    return three_level()


def play(*tasks: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"hosts": "localhost", "gather_facts": False, "tasks": list(tasks)}]


def chain_task(name: str, **options: Any) -> dict[str, Any]:
    return {
        "name": name,
        "certhygiene.tls.certificate_chain": {"fetch_aia": False, **options},
        "ignore_errors": True,
    }


def files_in(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_certificate_chain_never_loses_a_file(pki: ThreeLevel, tmp_path: Path, immutable) -> None:
    work = tmp_path / "work"
    (work / "locked").mkdir(parents=True)
    (work / "bundle.pem").write_bytes(pem(pki.leaf, pki.intermediate, pki.root))
    (work / "server.key").write_bytes(KEY)
    (work / "server.key").chmod(0o600)
    immutable(work / "locked")
    bundle = str(work / "bundle.pem")
    tasks = [
        chain_task(
            "chain_path is an existing key",
            src=bundle,
            certificate_path=str(work / "server.crt"),
            chain_path=str(work / "server.key"),
        ),
        chain_task("certificate_path is src", src=bundle, certificate_path=bundle, chain_path=str(work / "chain.pem")),
        chain_task(
            "the same file twice",
            src=bundle,
            certificate_path=str(work / "same.pem"),
            chain_path=str(work / "same.pem"),
        ),
        chain_task(
            "a read-only folder",
            src=bundle,
            certificate_path=str(work / "server.crt"),
            chain_path=str(work / "locked" / "chain.pem"),
        ),
        chain_task("a folder as output", src=bundle, certificate_path=str(work / "server.crt"), chain_path=str(work)),
        chain_task(
            "a missing folder",
            src=bundle,
            certificate_path=str(work / "server.crt"),
            chain_path=str(work / "nope" / "chain.pem"),
        ),
    ]
    before = files_in(work)
    run = run_playbook(tmp_path / "pb", play(*tasks))
    output = run.output
    assert run.returncode == 0 and run.recap.get("changed") == 0, output[-3000:]
    assert output.count("...ignoring") == len(tasks), output[-3000:]
    for message in (
        f"{work / 'server.key'} (chain_path) holds a private key; writing there would lose it",
        "or use force: true to replace it (a backup copy is kept)",
        f"{bundle} (certificate_path) is an input of this command",
        "(chain_path) and " + str(work / "same.pem") + " (certificate_path) are the same file",
        f"cannot write {work / 'locked' / 'chain.pem'} (chain_path)",
        "nothing was changed",
        f"{work} (chain_path) is a folder",
        f"the folder {work / 'nope'} does not exist; create it first",
    ):
        assert message in output, message
    assert "Traceback" not in output and "PRIVATE KEY-----" not in output
    assert files_in(work) == before  # in particular no server.crt written before the chain failed

    forced = run_playbook(
        tmp_path / "forced",
        play(
            {
                "certhygiene.tls.certificate_chain": {
                    "src": bundle,
                    "certificate_path": str(work / "server.crt"),
                    "chain_path": str(work / "server.key"),
                    "fetch_aia": False,
                    "force": True,
                },
                "register": "r",
            },
            {"ansible.builtin.assert": {"that": ["r.backup_files | length == 1"]}},
        ),
    )
    assert forced.returncode == 0, forced.output[-3000:]
    copies = list(work.glob("server.key.*~"))
    assert len(copies) == 1 and copies[0].read_bytes() == KEY and stat.S_IMODE(copies[0].stat().st_mode) == 0o600
    assert (work / "server.key").read_bytes() == pem(pki.intermediate)


def cert_task(folder: Path, stem: str, **options: Any) -> dict[str, Any]:
    return {
        "name": f"certificate {stem}",
        "certhygiene.tls.certificate": {
            "path": str(folder / f"{stem}.crt"),
            "private_key_path": str(folder / f"{stem}.key"),
            "kind": "ca",
            "subject": {"CN": f"{stem} CA"},
            **options,
        },
        "register": stem.replace("-", "_"),
        "ignore_errors": True,
    }


@pytest.mark.parametrize(
    ("existing", "message"),
    [
        (key_pem(key("rsa", 4096, 84), "pkcs1"), "RSA_4096 is not allowed by policy 'seed'"),
        (key_pem(key("ec", 256, 85), "sec1"), "EC_prime256v1 is not allowed by policy 'seed'"),
        (key_pem(key("rsa", 1024, 86), "pkcs1"), "is RSA_1024, but key_type/key_size ask for RSA_2048"),
    ],
    ids=["rsa-4096", "ec-p256", "rsa-1024-other-size"],
)
def test_certificate_never_replaces_a_key_without_regenerate_key(tmp_path: Path, existing: bytes, message: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "old.key").write_bytes(existing)
    (work / "old.key").chmod(0o600)
    refused = run_playbook(tmp_path / "refused", play(cert_task(work, "old")))
    output = refused.output
    assert refused.returncode == 0 and "...ignoring" in output, output[-3000:]
    assert f"private key {work / 'old.key'}" in output and message in output
    assert "set regenerate_key: true" in output and "Traceback" not in output
    assert (work / "old.key").read_bytes() == existing and not (work / "old.crt").exists()

    regenerated = run_playbook(
        tmp_path / "regenerated",
        play(
            cert_task(work, "old", regenerate_key=True),
            {"ansible.builtin.assert": {"that": ["old is succeeded", "old.backup_files.private_key is defined"]}},
        ),
    )
    assert regenerated.returncode == 0, regenerated.output[-3000:]
    copies = list(work.glob("old.key.*~"))
    assert len(copies) == 1 and copies[0].read_bytes() == existing and stat.S_IMODE(copies[0].stat().st_mode) == 0o600
    assert (work / "old.key").read_bytes() != existing and stat.S_IMODE((work / "old.key").stat().st_mode) == 0o600
    assert "PRIVATE KEY-----" not in regenerated.output


def test_certificate_write_failure_writes_neither_key_nor_certificate(tmp_path: Path, immutable) -> None:
    work = tmp_path / "work"
    (work / "keys").mkdir(parents=True)
    (work / "certs").mkdir()
    immutable(work / "certs")
    task = cert_task(work, "new")
    task["certhygiene.tls.certificate"]["path"] = str(work / "certs" / "new.crt")
    task["certhygiene.tls.certificate"]["private_key_path"] = str(work / "keys" / "new.key")
    run = run_playbook(tmp_path / "pb", play(task))
    assert run.returncode == 0 and "...ignoring" in run.output, run.output[-3000:]
    assert f"cannot write {work / 'certs' / 'new.crt'} (path)" in run.output and "nothing was changed" in run.output
    assert "Traceback" not in run.output
    assert files_in(work) == {}  # the key was not left without its certificate


def test_client_certificates_never_replace_a_key_without_regenerate_key(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "clients").mkdir(parents=True)
    old = key_pem(key("rsa", 4096, 84), "pkcs1")
    (work / "clients" / "dev-2.key").write_bytes(old)
    (work / "clients" / "dev-2.key").chmod(0o600)
    ca = cert_task(work, "fleet")
    del ca["ignore_errors"]
    clients = {
        "name": "clients",
        "certhygiene.tls.client_certificates": {
            "names": ["dev-1", "dev-2"],
            "dir": str(work / "clients"),
            "ca_certificate_path": str(work / "fleet.crt"),
            "ca_key_path": str(work / "fleet.key"),
        },
        "ignore_errors": True,
    }
    refused = run_playbook(tmp_path / "refused", play(ca, clients))
    output = refused.output
    assert refused.returncode == 0 and "...ignoring" in output, output[-3000:]
    assert f"private key {work / 'clients' / 'dev-2.key'}: RSA_4096 is not allowed by policy 'seed'" in output
    assert "set regenerate_key: true" in output and "Traceback" not in output
    # Planning fails before anything is written: no client gets files, the key is untouched.
    assert sorted(p.name for p in (work / "clients").iterdir()) == ["dev-2.key"]
    assert (work / "clients" / "dev-2.key").read_bytes() == old

    clients["certhygiene.tls.client_certificates"]["regenerate_key"] = True
    del clients["ignore_errors"]
    regenerated = run_playbook(tmp_path / "regenerated", play(ca, clients))
    assert regenerated.returncode == 0, regenerated.output[-3000:]
    copies = list((work / "clients").glob("dev-2.key.*~"))
    assert len(copies) == 1 and copies[0].read_bytes() == old and stat.S_IMODE(copies[0].stat().st_mode) == 0o600
    assert (work / "clients" / "dev-2.key").read_bytes() != old
