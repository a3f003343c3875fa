"""The `split-certificate-bundles` fixer run by real pre-commit in a real git repo, then the other hooks pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.pki import ThreeLevel, pem, three_level
from support.precommit import git, pre_commit_config, run_pre_commit

pytestmark = pytest.mark.integration


def test_fixer_splits_the_bundle_and_the_other_hooks_pass(
    hook_repo: tuple[Path, str], precommit_env: dict[str, str], tmp_path: Path
) -> None:
    pki: ThreeLevel = three_level()
    work = tmp_path / "work"
    (work / "certs").mkdir(parents=True)
    env = precommit_env
    git(work, "init", "-q", env=env)
    hooks = ["split-certificate-bundles", "forbid-leaf-in-chain", "check-pem", "certhygiene"]
    (work / ".pre-commit-config.yaml").write_text(pre_commit_config(hook_repo, hooks))
    bundle = pem(pki.leaf, pki.intermediate, pki.root)  # as purchased: user, intermediate, root
    (work / "certs" / "server.crt").write_bytes(bundle)
    git(work, "add", "-A", env=env)

    first = run_pre_commit(work, env, "run", "--all-files")
    output = first.stdout + first.stderr
    assert first.returncode == 1, output
    assert "split the bundle" in output and "files were modified by this hook" in output
    assert (work / "certs" / "server.crt").read_bytes() == pem(pki.leaf)
    assert (work / "certs" / "server.chain.pem").read_bytes() == pem(pki.intermediate)
    assert "dropped the root certificate 'CN=Test Root CA" in output

    git(work, "add", "-A", env=env)
    second = run_pre_commit(work, env, "run", "--all-files")
    output = second.stdout + second.stderr
    assert second.returncode == 0, output
    for hook in ("split certificate bundles", "forbid the leaf certificate in chain files", "check PEM encoding"):
        assert hook in output
    assert "Failed" not in output
    git(work, "commit", "-q", "-m", "split", env=env)
