"""certhygiene.tls.certificate_chain under real ansible-playbook: split, complete (AIA on loopback), check, diff."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.aia import aia_server
from support.ansible import run_playbook
from support.pki import ThreeLevel, issue, key, pem, three_level

pytestmark = pytest.mark.integration

# The rule engine (certificate_check's engine) lands in parallel; judge with it whenever it is there.
HAS_CHECK = (Path(__file__).resolve().parents[2] / "plugins/module_utils/certhygiene/check.py").exists()


@pytest.fixture(scope="module")
def pki() -> ThreeLevel:
    return three_level()


def play(*tasks: dict) -> list[dict]:
    return [{"hosts": "localhost", "gather_facts": False, "tasks": list(tasks)}]


def test_split_check_mode_diff_idempotence_and_certificate_check(pki: ThreeLevel, tmp_path: Path) -> None:
    bundle = tmp_path / "purchased.crt"
    bundle.write_bytes(b"Bag Attributes: friendly name\n" + pem(pki.intermediate, pki.root, pki.leaf, pki.intermediate))
    out = {n: tmp_path / f"{n}.pem" for n in ("cert", "chain", "root")}
    split = {
        "name": "split",
        "certhygiene.tls.certificate_chain": {
            "src": str(bundle),
            "certificate_path": str(out["cert"]),
            "chain_path": str(out["chain"]),
            "root_path": str(out["root"]),
            "fetch_aia": False,
        },
    }
    checked = run_playbook(tmp_path / "check", play(split), check=True, diff=True)
    assert checked.returncode == 0, checked.output
    assert checked.changed == 1 and not any(p.exists() for p in out.values())
    assert "subject=CN=mqtt.example.com,O=certhygiene tests" in checked.stdout
    assert "sha256=" in checked.stdout and "PRIVATE KEY" not in checked.output

    verdict = [
        {
            "name": "the result passes certificate_check",
            "certhygiene.tls.certificate_check": {
                "certificate_path": str(out["cert"]),
                "chain_path": str(out["chain"]),
                "private_key": pki.leaf.key_pem.decode(),
            },
            "register": "verdict",
        },
        {
            "ansible.builtin.assert": {
                "that": ["verdict.findings | selectattr('rule_id', 'match', '^chain') | list | length == 0"]
            }
        },
    ]
    real = run_playbook(tmp_path / "real", play(split, *(verdict if HAS_CHECK else [])))
    assert real.returncode == 0, real.output
    assert real.changed == 1
    assert out["cert"].read_bytes() == pem(pki.leaf)
    assert out["chain"].read_bytes() == pem(pki.intermediate)
    assert out["root"].read_bytes() == pem(pki.root)

    again = run_playbook(tmp_path / "again", play(split), check=True, diff=True)
    assert again.returncode == 0 and again.changed == 0, again.output
    again = run_playbook(tmp_path / "again", play(split))
    assert again.returncode == 0 and again.changed == 0, again.output


def test_in_place_split_with_backup_and_root_in_chain(pki: ThreeLevel, tmp_path: Path) -> None:
    # Splitting in place rewrites src: refused without force (was: done silently), then done with force and a backup.
    cert = tmp_path / "server.crt"
    cert.write_bytes(pem(pki.leaf, pki.intermediate, pki.root))
    task = {
        "certhygiene.tls.certificate_chain": {
            "src": str(cert),
            "certificate_path": str(cert),
            "chain_path": str(tmp_path / "server.chain.pem"),
            "include_root_in_chain": True,
        },
        "register": "r",
    }
    refused = run_playbook(tmp_path / "refused", play(task))
    assert refused.failed == 1 and "is an input of this command" in refused.output, refused.output
    assert "force: true" in refused.output and "Traceback" not in refused.output
    assert cert.read_bytes() == pem(pki.leaf, pki.intermediate, pki.root)
    assert not (tmp_path / "server.chain.pem").exists()
    task["certhygiene.tls.certificate_chain"]["force"] = True
    run = run_playbook(
        tmp_path,
        play(
            task,
            {
                "ansible.builtin.assert": {
                    "that": ["r.backup_files | length == 1", "r.complete", "r.chain | length == 2"]
                }
            },
        ),
    )
    assert run.returncode == 0, run.output
    assert cert.read_bytes() == pem(pki.leaf)
    assert (tmp_path / "server.chain.pem").read_bytes() == pem(pki.intermediate, pki.root)
    backups = list(tmp_path.glob("server.crt.*~"))
    assert len(backups) == 1 and backups[0].read_bytes() == pem(pki.leaf, pki.intermediate, pki.root)


def test_complete_from_content_over_aia_and_local_roots(tmp_path: Path) -> None:
    with aia_server() as server:
        root = issue("Module AIA Root", private_key=key("rsa", 2048, 10), ca=True)
        # The intermediate served over AIA (DER) has a twin with the same subject and another key in the local
        # folder: its signature fails on the leaf, the builder moves on.
        inter = issue(
            "Module AIA Int",
            issuer=root,
            private_key=key("rsa", 2048, 11),
            ca=True,
            aia_ca_issuers=server.put_pem("/root.pem", root.cert),
        )
        twin = issue("Module AIA Int", issuer=root, private_key=key("rsa", 2048, 21), ca=True, extensions=False)
        leaf = issue(
            "aia-module.example.com",
            issuer=inter,
            private_key=key("rsa", 2048, 12),
            dns=("aia-module.example.com",),
            aia_ca_issuers=server.put_der("/int.der", inter.cert),
        )
        (tmp_path / "intermediates").mkdir()
        (tmp_path / "intermediates" / "twin.pem").write_bytes(pem(twin))
        (tmp_path / "roots.pem").write_bytes(pem(root))
        task = {
            "certhygiene.tls.certificate_chain": {
                "src": pem(leaf).decode(),
                "certificate_path": str(tmp_path / "cert.pem"),
                "chain_path": str(tmp_path / "chain.pem"),
                "intermediates": [str(tmp_path / "intermediates")],
                "roots": [str(tmp_path / "roots.pem")],
            },
            "register": "r",
        }
        run = run_playbook(
            tmp_path / "pb",
            play(
                task,
                {
                    "ansible.builtin.assert": {
                        "that": [
                            "r.trusted",
                            "r.chain[0].source == 'AIA " + server.url("/int.der") + "'",
                        ]
                    }
                },
            ),
        )
        assert run.returncode == 0, run.output
        assert (tmp_path / "chain.pem").read_bytes() == pem(inter)
        assert (tmp_path / "cert.pem").read_bytes() == pem(leaf)
        assert server.hits == {"/int.der": 1}  # the root came from roots, not from AIA


def test_bundle_without_root_warns_lone_certificate_without_chain_fails(pki: ThreeLevel, tmp_path: Path) -> None:
    (tmp_path / "bundle.pem").write_bytes(pem(pki.intermediate, pki.leaf))
    (tmp_path / "cert.pem").write_bytes(pem(pki.leaf))
    run = run_playbook(
        tmp_path,
        play(
            {
                "name": "split a bundle that lacks the root",
                "certhygiene.tls.certificate_chain": {
                    "src": str(tmp_path / "bundle.pem"),
                    "certificate_path": str(tmp_path / "split.pem"),
                    "chain_path": str(tmp_path / "split-chain.pem"),
                    "fetch_aia": False,
                },
            },
            {
                "name": "complete a lone certificate whose intermediate is nowhere",
                "certhygiene.tls.certificate_chain": {
                    "src": str(tmp_path / "cert.pem"),
                    "certificate_path": str(tmp_path / "out.pem"),
                    "chain_path": str(tmp_path / "chain.pem"),
                    "roots": [str(tmp_path / "cert.pem")],
                    "fetch_aia": True,
                },
            },
        ),
    )
    assert run.recap["changed"] == 1 and run.failed == 1, run.output
    assert (tmp_path / "split-chain.pem").read_bytes() == pem(pki.intermediate)
    assert "its issuer 'CN=Test Root CA,O=certhygiene tests' was not found" in run.output
    assert "chain incomplete: the issuer 'CN=Test Intermediate CA,O=certhygiene tests'" in run.stdout
    assert "names no caIssuers URL" in run.stdout
    assert "Traceback" not in run.output
    assert not (tmp_path / "chain.pem").exists()


def test_ansible_doc_renders() -> None:
    import subprocess
    import sys

    from support.ansible import ansible_env

    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "certhygiene.tls.certificate_chain"],
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for word in (
        "include_root_in_chain",
        "fetch_aia",
        "EXAMPLES",
        "RETURN VALUES",
        "certhygiene.tls.certificate_chain",
    ):
        assert word in proc.stdout
    assert "WARNING" not in proc.stderr
