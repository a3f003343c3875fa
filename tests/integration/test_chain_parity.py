"""One chain outcome, four doors: `certhygiene split`, `certhygiene complete`, the `certificate_chain` module (real
ansible-playbook) and the `split-certificate-bundles` fixer (real pre-commit in a real git repository) write the
same certificate and chain files for the same bundle, and what each writes passes `certhygiene check`.

Bundles: a leaf issued directly by a self-signed CA (that CA is the chain), leaf + intermediate + root in every
order (and a noisy one), and cross-signed chains (with and without the old root).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.ansible import run_playbook
from support.bundles import chain_cases
from support.pki import pem
from support.precommit import git, pre_commit_config, run_pre_commit

pytestmark = pytest.mark.integration

CERTHYGIENE = str(Path(sys.executable).parent / "certhygiene")
DOORS = ("split", "complete", "module", "fixer")


def certhygiene(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CERTHYGIENE, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_the_four_doors_agree_and_their_output_passes_check(
    hook_repo: tuple[Path, str], precommit_env: dict[str, str], tmp_path: Path
) -> None:
    cases = chain_cases()
    bundles = tmp_path / "bundles"
    bundles.mkdir()
    for name, case in cases.items():
        (bundles / f"{name}.pem").write_bytes(case.bundle)

    # The CLI: split, and complete from the bundle alone (no downloads).
    for door in ("split", "complete"):
        (tmp_path / door).mkdir()
    for name, case in cases.items():
        proc = certhygiene(
            tmp_path,
            "split",
            f"bundles/{name}.pem",
            "--cert-out",
            f"split/{name}.crt",
            "--chain-out",
            f"split/{name}.chain.pem",
        )
        assert proc.returncode == 0, (name, proc.stderr)
        (tmp_path / "complete" / f"{name}.crt").write_bytes(pem(case.leaf))
        proc = certhygiene(
            tmp_path, "complete", f"bundles/{name}.pem", "--no-aia", "--chain-out", f"complete/{name}.chain.pem"
        )
        assert proc.returncode == 0, (name, proc.stderr)

    # The module, under real ansible-playbook.
    (tmp_path / "module").mkdir()
    tasks = [
        {
            "name": f"split {name}",
            "certhygiene.tls.certificate_chain": {
                "src": str(bundles / f"{name}.pem"),
                "certificate_path": str(tmp_path / "module" / f"{name}.crt"),
                "chain_path": str(tmp_path / "module" / f"{name}.chain.pem"),
                "fetch_aia": False,
            },
        }
        for name in cases
    ]
    run = run_playbook(tmp_path / "pb", [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}])
    assert run.returncode == 0 and run.changed == len(cases), run.output[-3000:]

    # The fixer, under real pre-commit in a git repository: each bundle committed as a certificate file.
    repo = tmp_path / "repo"
    (repo / "fixer").mkdir(parents=True)
    git(repo, "init", "-q", env=precommit_env)
    (repo / ".pre-commit-config.yaml").write_text(pre_commit_config(hook_repo, ["split-certificate-bundles"]))
    for name, case in cases.items():
        (repo / "fixer" / f"{name}.crt").write_bytes(case.bundle)
    git(repo, "add", "-A", env=precommit_env)
    fixed = run_pre_commit(repo, precommit_env, "run", "--all-files")
    output = fixed.stdout + fixed.stderr
    assert fixed.returncode == 1 and "files were modified by this hook" in output, output
    assert "that CA is the chain" in output
    (tmp_path / "fixer").symlink_to(repo / "fixer")

    for name, case in cases.items():
        expected = (pem(case.leaf), pem(*case.chain))
        got = {
            door: (
                (tmp_path / door / f"{name}.crt").read_bytes(),
                (tmp_path / door / f"{name}.chain.pem").read_bytes(),
            )
            for door in DOORS
        }
        assert got == dict.fromkeys(DOORS, expected), name

    # Every door's output passes the real `certhygiene check` with the same policy.
    for door in DOORS:
        proc = certhygiene(tmp_path / door, "check", ".", "--profile", "seed")
        assert proc.returncode == 0, (door, proc.stdout + proc.stderr)
        assert f"{2 * len(cases)} files checked" in proc.stdout, proc.stdout
