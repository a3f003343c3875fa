"""chain.chain_outcome: the one split/completion outcome, and what `split`, `complete` and the fixer write with it.

Every output is judged by the real `certhygiene check` (seed policy). On main, a leaf issued directly by a
self-signed CA got an EMPTY chain file from `split` and none from the fixer, which then failed `chain.required`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from certhygiene.chain import ChainError, IncompleteChain, NoRoot, chain_outcome
from certhygiene.hooks.split_certificate_bundles import main as fixer
from cryptography.hazmat.primitives import hashes
from support.bundles import Case, chain_cases
from support.pki import Issued, pem

CERTHYGIENE = str(Path(sys.executable).parent / "certhygiene")
CASES = chain_cases()


def fingerprint(cert) -> str:
    cert = cert.cert if isinstance(cert, Issued) else cert
    return cert.fingerprint(hashes.SHA256()).hex()


def fps(certs) -> list[str]:
    return [fingerprint(c) for c in certs]


def certhygiene(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CERTHYGIENE, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def check_passes(folder: Path) -> None:
    """The real `certhygiene check` on the door's output: exit 0, no error (it pairs NAME.crt with NAME.chain.pem)."""
    proc = certhygiene(folder, "check", ".", "--profile", "seed")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in proc.stdout.replace("0 error", ""), proc.stdout


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_outcome_of_every_case(name: str) -> None:
    case = CASES[name]
    outcome = chain_outcome(case.bundle, name)
    assert fingerprint(outcome.leaf) == fingerprint(case.leaf)
    assert fps(outcome.chain) == fps(case.chain)
    assert (fingerprint(outcome.root) if outcome.root is not None else None) == (
        fingerprint(case.root) if case.root is not None else None
    )
    assert outcome.issued_by_root == (name in ("leaf-ca", "ca-leaf"))
    assert outcome.unused == []


def test_leaf_issued_by_a_self_signed_ca_that_ca_is_the_chain_and_the_root() -> None:
    case = CASES["leaf-ca"]
    outcome = chain_outcome(case.bundle, "b.pem", want_root=True)
    assert fps(outcome.chain) == fps([case.root]) and fingerprint(outcome.root) == fingerprint(case.root)
    # include_root never repeats it.
    assert fps(chain_outcome(case.bundle, "b.pem", include_root=True).chain) == fps([case.root])


def test_three_levels_include_root_appends_it() -> None:
    case = CASES["leaf-int-root"]
    assert fps(chain_outcome(case.bundle, "b", include_root=True).chain) == fps([*case.chain, case.root])


def test_refusals() -> None:
    lone = CASES["leaf-int-root"].leaf
    with pytest.raises(IncompleteChain) as caught:
        chain_outcome(pem(lone), "lone.crt")
    assert "chain incomplete: the issuer 'CN=Test Intermediate CA" in str(caught.value)
    with pytest.raises(NoRoot, match="the root is needed, but chain incomplete"):
        chain_outcome(CASES["cross-no-root"].bundle, "b", want_root=True)
    with pytest.raises(ChainError, match="no leaf found"):
        chain_outcome(b"hello\n", "b")


def test_a_private_key_in_the_bundle_is_noted_never_written() -> None:
    case = CASES["leaf-int-root"]
    outcome = chain_outcome(case.leaf.key_pem + case.bundle, "bundle.pem")
    assert outcome.private_keys == 1
    assert any("bundle.pem also holds 1 private key(s); not written" in n for n in outcome.notes)
    assert "PRIVATE KEY" not in " ".join(outcome.notes)


def test_a_partial_chain_is_accepted_with_a_note() -> None:
    outcome = chain_outcome(CASES["cross-no-root"].bundle, "b")
    assert not outcome.complete and any("its issuer 'CN=XS Old Root" in n for n in outcome.notes)


@pytest.mark.parametrize("name", sorted(CASES))
def test_split_complete_and_fixer_write_the_outcome_and_it_passes_check(tmp_path: Path, name: str) -> None:
    case: Case = CASES[name]
    (tmp_path / "bundle.pem").write_bytes(case.bundle)
    outputs = {}
    for door in ("split", "complete", "fixer"):
        folder = tmp_path / door
        folder.mkdir()
        if door == "split":
            proc = certhygiene(
                tmp_path,
                "split",
                "bundle.pem",
                "--cert-out",
                f"{door}/{name}.crt",
                "--chain-out",
                f"{door}/{name}.chain.pem",
            )
            assert proc.returncode == 0, proc.stderr
        elif door == "complete":
            (folder / f"{name}.crt").write_bytes(pem(case.leaf))
            proc = certhygiene(
                tmp_path, "complete", "bundle.pem", "--no-aia", "--chain-out", f"{door}/{name}.chain.pem"
            )
            assert proc.returncode == 0, proc.stderr
        else:
            (folder / f"{name}.crt").write_bytes(case.bundle)
            assert fixer([str(folder / f"{name}.crt")]) == 1
        outputs[door] = ((folder / f"{name}.crt").read_bytes(), (folder / f"{name}.chain.pem").read_bytes())
        assert outputs[door] == (pem(case.leaf), pem(*case.chain)), door
        check_passes(folder)


def test_split_of_leaf_and_ca_names_the_ca_as_chain(tmp_path: Path) -> None:
    case = CASES["leaf-ca"]
    (tmp_path / "b.pem").write_bytes(case.bundle)
    proc = certhygiene(tmp_path, "split", "b.pem", "--cert-out", "cloud.crt", "--chain-out", "cloud.chain.pem")
    assert proc.returncode == 0, proc.stderr
    assert "cloud.chain.pem: written (certificate 'CN=Direct CA" in proc.stdout
    assert (tmp_path / "cloud.chain.pem").read_bytes() == pem(case.root)


def test_split_reports_a_private_key_in_the_bundle(tmp_path: Path) -> None:
    case = CASES["leaf-int-root"]
    (tmp_path / "b.pem").write_bytes(case.leaf.key_pem + case.bundle)
    proc = certhygiene(tmp_path, "split", "b.pem", "--cert-out", "c.crt", "--chain-out", "c.chain.pem")
    assert proc.returncode == 0, proc.stderr
    assert "note: b.pem also holds 1 private key(s); not written" in proc.stderr
    assert b"PRIVATE KEY" not in (tmp_path / "c.crt").read_bytes() + (tmp_path / "c.chain.pem").read_bytes()
    assert "PRIVATE KEY-----" not in proc.stdout + proc.stderr


def test_complete_on_a_lone_leaf_of_a_self_signed_ca(tmp_path: Path) -> None:
    """The seed's layout: cloud.crt issued by cloud-ca.crt; completing it gives the CA as the chain."""
    case = CASES["leaf-ca"]
    (tmp_path / "cloud.crt").write_bytes(pem(case.leaf))
    (tmp_path / "cas").mkdir()
    (tmp_path / "cas" / "cloud-ca.crt").write_bytes(pem(case.root))
    proc = certhygiene(
        tmp_path, "complete", "cloud.crt", "--roots", "cas", "--no-aia", "--chain-out", "cloud.chain.pem"
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "cloud.chain.pem").read_bytes() == pem(case.root)
