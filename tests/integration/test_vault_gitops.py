"""Ansible Vault in a GitOps repository: files encrypted by the REAL `ansible-vault encrypt`.

With a vault password (`--vault-password-file` or ANSIBLE_VAULT_PASSWORD_FILE) the hooks, `certhygiene
check` and `certhygiene report` decrypt vault files in memory and check what is inside: a vaulted
passphrase-protected key is caught, a vaulted good key passes, a vaulted key that does not match its
certificate is caught. Without a password they say that they skipped each vault file and exit 0.
`forbid-plaintext-private-keys` (opt-in) blocks plaintext keys and lets vaulted ones pass, under real
pre-commit in a real git repository. Decrypted content never reaches the disk or the output.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.pki import NOW, ThreeLevel, issue, key, key_pem, pem, three_level
from support.precommit import BIN, git, pre_commit_config

pytestmark = pytest.mark.integration

VAULT_PASSWORD = "s3cret vault password"
KEY_PASSPHRASE = b"key passphrase"
VAULT_ENV = "ANSIBLE_VAULT_PASSWORD_FILE"


def ansible_vault(*args: str, cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    result = subprocess.run(
        [str(BIN / "ansible-vault"), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def run(cwd: Path, *argv: str, password_env: Path | None = None) -> subprocess.CompletedProcess[str]:
    """A console script of the venv, as a person runs it; ANSIBLE_VAULT_PASSWORD_FILE only when given."""
    env = {k: v for k, v in os.environ.items() if k != VAULT_ENV}
    if password_env is not None:
        env[VAULT_ENV] = str(password_env)
    result = subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    return result


class Repo:
    """A certificate repository whose keys (and one certificate) are vaulted."""

    def __init__(self, root: Path, pki: ThreeLevel) -> None:
        self.root = root
        self.pki = pki
        self.password_file = root.parent / f"{root.name}-vault-pass.txt"
        self.wrong_password_file = root.parent / f"{root.name}-wrong-pass.txt"
        self.plain: dict[str, bytes] = {}  # what each vault file holds


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    root = tmp_path_factory.mktemp("vault-repo")
    pki = three_level("vault.example.com")
    repo = Repo(root, pki)
    repo.password_file.write_text(VAULT_PASSWORD + "\n")
    repo.wrong_password_file.write_text("not the password\n")
    (root / "certs").mkdir()
    (root / "secrets").mkdir()
    # a good pair: the certificate in clear, its key vaulted
    (root / "certs" / "server.crt").write_bytes(pem(pki.leaf))
    (root / "certs" / "server.chain.pem").write_bytes(pem(pki.intermediate))
    vaulted = {
        "certs/server.key": key_pem(pki.leaf.key, "pkcs1"),
        # a vaulted passphrase-protected key: the cloud cannot import it
        "secrets/locked.key": key_pem(key("rsa", 2048, 30), password=KEY_PASSPHRASE),
        # a vaulted key that is not the key of its certificate
        "certs/other.key": key_pem(key("rsa", 2048, 31)),
        # a vaulted certificate that expires in 30 days
        "certs/soon.crt": pem(
            issue(
                "soon.example.com",
                issuer=pki.intermediate,
                private_key=key("rsa", 2048, 32),
                dns=("soon.example.com",),
                not_after=NOW + datetime.timedelta(days=30, hours=1),
            )
        ),
    }
    (root / "certs" / "other.crt").write_bytes(
        pem(
            issue(
                "other.example.com",
                issuer=pki.intermediate,
                private_key=key("rsa", 2048, 33),
                dns=("other.example.com",),
            )
        )
    )
    (root / "certs" / "other.chain.pem").write_bytes(pem(pki.intermediate))
    (root / "certs" / "soon.chain.pem").write_bytes(pem(pki.intermediate))
    for name, data in vaulted.items():
        (root / name).write_bytes(data)
    repo.plain = dict(vaulted)
    ansible_vault("encrypt", "--vault-password-file", str(repo.password_file), *vaulted, cwd=root)
    # format 1.2 with a vault id, as `--vault-id prod@FILE` writes it
    (root / "secrets" / "labelled.key").write_bytes(key_pem(key("rsa", 2048, 34), password=KEY_PASSPHRASE))
    repo.plain["secrets/labelled.key"] = (root / "secrets" / "labelled.key").read_bytes()
    ansible_vault("encrypt", "--vault-id", f"prod@{repo.password_file}", "secrets/labelled.key", cwd=root)
    for name in repo.plain:
        head = (root / name).read_bytes().split(b"\n", 1)[0]
        assert head.startswith(b"$ANSIBLE_VAULT;1."), name
    assert (root / "secrets" / "labelled.key").read_bytes().startswith(b"$ANSIBLE_VAULT;1.2;AES256;prod")
    return repo


def assert_no_secrets(repo: Repo, output: str) -> None:
    assert VAULT_PASSWORD not in output
    assert KEY_PASSPHRASE.decode() not in output
    for data in repo.plain.values():
        for line in data.decode().splitlines()[1:-1]:
            assert line not in output


# ------------------------------------------------------------------ hooks


@pytest.mark.parametrize("how", ["option", "environment"])
def test_hook_with_password_catches_a_vaulted_encrypted_key(repo: Repo, how: str) -> None:
    if how == "option":
        result = run(
            repo.root, "certhygiene-forbid-encrypted-private-keys", "--vault-password-file", str(repo.password_file),
            "secrets/locked.key", "secrets/labelled.key", "certs/server.key",
        )  # fmt: skip
    else:
        result = run(
            repo.root, "certhygiene-forbid-encrypted-private-keys", "secrets/locked.key", "secrets/labelled.key",
            "certs/server.key", password_env=repo.password_file,
        )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "secrets/locked.key" in output and "[key.encrypted]" in output
    assert "secrets/labelled.key" in output  # vault format 1.2 with a vault id
    assert "certs/server.key" not in output  # the vaulted good key passes
    assert "skipped" not in output
    assert_no_secrets(repo, output)


def test_hook_with_password_passes_a_vaulted_good_key(repo: Repo) -> None:
    for hook in ("certhygiene-forbid-encrypted-private-keys", "certhygiene-check-key-size", "certhygiene-check-pem"):
        result = run(repo.root, hook, "certs/server.key", "certs/server.crt", password_env=repo.password_file)
        assert result.returncode == 0, f"{hook}: {result.stdout}{result.stderr}"
        assert "skipped" not in result.stdout + result.stderr


def test_hook_with_password_checks_a_vaulted_key_against_its_certificate(repo: Repo) -> None:
    result = run(
        repo.root, "certhygiene-check-cert-key-pair", "certs/other.crt", "certs/other.key", "certs/server.crt",
        "certs/server.key", password_env=repo.password_file,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    mismatches = [line for line in output.splitlines() if "[pair.mismatch]" in line]
    assert mismatches and all("other" in line for line in mismatches), output
    assert_no_secrets(repo, output)


@pytest.mark.parametrize(
    "hook",
    [
        "certhygiene-forbid-encrypted-private-keys",
        "certhygiene-check-key-size",
        "certhygiene-check-cert-key-pair",
        "certhygiene-hook",
    ],
)
def test_hook_without_password_says_it_skipped_vault_files(repo: Repo, hook: str) -> None:
    result = run(repo.root, hook, "secrets/locked.key", "secrets/labelled.key", "certs/server.key")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for name in ("secrets/locked.key", "secrets/labelled.key", "certs/server.key"):
        assert any(name in line and "skipped" in line for line in output.splitlines()), output
    assert "vault password" in output
    assert "[key.encrypted]" not in output


def test_hook_with_a_wrong_password_names_the_file(repo: Repo) -> None:
    result = run(
        repo.root, "certhygiene-forbid-encrypted-private-keys", "secrets/locked.key",
        password_env=repo.wrong_password_file,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert "secrets/locked.key" in output
    assert "[key.encrypted]" not in output
    assert_no_secrets(repo, output)


# ------------------------------------------------------------------ the command


def test_check_with_password_checks_vault_content(repo: Repo) -> None:
    result = run(repo.root, "certhygiene", "check", "--format", "json", ".", password_env=repo.password_file)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    found = {(f["rule_id"], f["path"]) for f in report["findings"]}
    assert ("key.encrypted", "secrets/locked.key") in found
    assert ("key.encrypted", "secrets/labelled.key") in found
    assert any(rule == "pair.mismatch" and "other" in path for rule, path in found), found
    assert not any(path.endswith("server.key") or path.endswith("server.crt") for _unused, path in found), found
    assert report["skipped"] == []
    assert_no_secrets(repo, result.stdout)


def test_check_without_password_skips_vault_files(repo: Repo) -> None:
    result = run(repo.root, "certhygiene", "check", "secrets", "certs/server.key")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for name in ("secrets/locked.key", "secrets/labelled.key", "certs/server.key"):
        assert any(name in line and "skipped" in line for line in output.splitlines()), output
    sarif = run(repo.root, "certhygiene", "check", "--format", "sarif", "secrets")
    assert sarif.returncode == 0
    notes = json.loads(sarif.stdout)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert {n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in notes} == {
        "secrets/locked.key",
        "secrets/labelled.key",
    }


def test_decrypted_content_never_touches_the_disk(repo: Repo) -> None:
    before = {p: p.read_bytes() for p in repo.root.rglob("*") if p.is_file()}
    run(repo.root, "certhygiene", "check", ".", password_env=repo.password_file)
    run(repo.root, "certhygiene", "report", ".", password_env=repo.password_file)
    after = {p: p.read_bytes() for p in repo.root.rglob("*") if p.is_file()}
    assert after == before


def test_report_with_password_lists_vaulted_certificates(repo: Repo) -> None:
    result = run(repo.root, "certhygiene", "report", "--format", "json", password_env=repo.password_file)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    soon = [row for row in data["certificates"] if row["path"] == "certs/soon.crt"]
    assert len(soon) == 1 and soon[0]["vault"] is True and soon[0]["status"] == "expiring"
    assert soon[0]["days_left"] == 30
    assert data["skipped"] == []
    table = run(repo.root, "certhygiene", "report", password_env=repo.password_file)
    assert "certs/soon.crt:1 (vault)" in table.stdout


def test_report_without_password_lists_vault_files_as_skipped(repo: Repo) -> None:
    result = run(repo.root, "certhygiene", "report", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert "certs/soon.crt" not in {row["path"] for row in data["certificates"]}
    skipped = {entry["path"]: entry["reason"] for entry in data["skipped"]}
    assert set(skipped) == set(repo.plain)
    assert all("no vault password" in reason for reason in skipped.values())
    table = run(repo.root, "certhygiene", "report")
    assert "skipped: certs/soon.crt: Ansible Vault file: no vault password" in table.stdout
    # A password that does not open the vault files is an error, as for `certhygiene check` (exit 2).
    wrong = run(repo.root, "certhygiene", "report", "--format", "json", password_env=repo.wrong_password_file)
    assert wrong.returncode == 2, wrong.stdout + wrong.stderr
    assert "certs/soon.crt: the vault password does not open this Ansible Vault file" in wrong.stderr
    assert json.loads(wrong.stdout)["skipped"] == []


# ------------------------------------------------------------------ forbid-plaintext-private-keys


def test_pre_commit_blocks_plaintext_keys_and_lets_vaulted_ones_pass(
    repo: Repo, hook_repo: tuple[Path, str], precommit_env: dict[str, str], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    (work / "certs").mkdir(parents=True)
    env = dict(precommit_env, **{VAULT_ENV: str(repo.password_file)})
    git(work, "init", "-q", env=env)
    hooks = ["forbid-plaintext-private-keys", "forbid-encrypted-private-keys"]
    (work / ".pre-commit-config.yaml").write_text(pre_commit_config(hook_repo, hooks))
    git(work, "add", ".pre-commit-config.yaml", env=env)
    git(work, "commit", "-q", "-m", "hooks", env=env)
    install = subprocess.run(
        [str(BIN / "pre-commit"), "install"], cwd=work, env=env, capture_output=True, text=True, check=False
    )
    assert install.returncode == 0, install.stderr

    def commit(message: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "commit", "-m", message],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )

    # a plaintext key (and one inline in a YAML vars file): blocked
    (work / "certs" / "server.crt").write_bytes(pem(repo.pki.leaf))
    (work / "certs" / "server.key").write_bytes(repo.plain["certs/server.key"])
    (work / "group_vars").mkdir()
    inline = "\n".join("  " + line for line in key_pem(key("ec", 256, 35)).decode().splitlines())
    (work / "group_vars" / "all.yml").write_text(f"tls_key: |\n{inline}\n")
    git(work, "add", "-A", env=env)
    blocked = commit("plaintext key")
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode == 1, output
    assert "forbid plaintext private keys" in output and "Failed" in output
    assert "certs/server.key" in output and "group_vars/all.yml" in output and "[key.plaintext]" in output
    assert "ansible-vault encrypt" in output
    assert_no_secrets(repo, output)

    # vaulted with the real ansible-vault: the commit goes through, and the vault content is checked
    ansible_vault(
        "encrypt", "--vault-password-file", str(repo.password_file), "certs/server.key", "group_vars/all.yml", cwd=work
    )
    git(work, "add", "-A", env=env)
    passed = commit("vaulted key")
    output = passed.stdout + passed.stderr
    assert passed.returncode == 0, output
    assert "Failed" not in output
    git(work, "rev-parse", "HEAD", env=env)
    # a vaulted passphrase-protected key still fails forbid-encrypted-private-keys (the vault is opened)
    shutil.copy(repo.root / "secrets" / "locked.key", work / "certs" / "locked.key")
    git(work, "add", "-A", env=env)
    caught = commit("vaulted encrypted key")
    output = caught.stdout + caught.stderr
    assert caught.returncode == 1, output
    assert "certs/locked.key" in output and "[key.encrypted]" in output
    assert "[key.plaintext]" not in output
