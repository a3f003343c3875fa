"""Every door sees the same files and says the same thing: the CLI, each hook under real pre-commit, and
``certhygiene.tls.certificate_check`` under real ansible-playbook.

- The seed's recipe, run by the openssl CLI as the seed writes it, passes every door.
- A repository of unrelated certificates and one chain.pem: committing chain.pem alone passes; committing a
  certificate chain.pem does not certify fails on that certificate, once (also across pre-commit's batches).
- One corpus of 40 files (odd names included) gets the same files blocked with the same rule ids everywhere.
- A wrong vault password is an error (exit 2, the module fails) naming the file, at every door.
"""

from __future__ import annotations

import datetime
import importlib
import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import tomllib
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from support.ansible import run_playbook
from support.pki import NOW, issue, key, key_pem, name, pem, three_level
from support.precommit import BIN, REPO_ROOT, git, run_pre_commit
from support.seed import openssl, seed_recipe

pytestmark = pytest.mark.integration

MODULE = "certhygiene.tls.certificate_check"
MANIFEST = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
# The fixer rewrites files (its own tests); every other hook checks.
CHECK_HOOKS = [hook for hook in MANIFEST if hook["id"] != "split-certificate-bundles"]
FINDING = re.compile(r"^(?P<path>.+?)(?::\d+)?: (?:error|warning) \[(?P<rule>[a-z_.]+)\] ", re.M)
VAULT_PASSWORD = "right password"


def hook_rules(hook: dict[str, Any]) -> frozenset[str] | None:
    """The rule ids a hook runs (None: the whole policy), from the module its console script names."""
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module = importlib.import_module(scripts[hook["entry"].split()[0]].split(":")[0])
    rules: frozenset[str] | None = module.RULES
    return rules


def make_repo(path: Path, env: dict[str, str], hook_repo: tuple[Path, str], hooks: list[dict[str, Any]]) -> Path:
    """A git repository whose .pre-commit-config.yaml takes ``hooks`` ({id, args}) from the snapshot."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main", env=env)
    repo_path, rev = hook_repo
    config = {"repos": [{"repo": str(repo_path), "rev": rev, "hooks": hooks}]}
    (path / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    install = run_pre_commit(path, env, "install", "--install-hooks")
    assert install.returncode == 0, install.stdout + install.stderr
    git(path, "add", ".pre-commit-config.yaml", env=env)
    git(path, "commit", "-q", "--no-verify", "-m", "pre-commit config", env=env)
    return path


def write(folder: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "certhygiene"), *args], cwd=cwd, capture_output=True, text=True, check=False)


def module_run(workdir: Path, args: dict[str, Any]) -> dict[str, Any]:
    """certificate_check through ansible-playbook; the registered result, written by the playbook itself."""
    out = workdir / "result.json"
    plays = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {"name": "Check", MODULE: args, "register": "result", "ignore_errors": True},
                {"name": "Keep", "ansible.builtin.copy": {"content": "{{ result | to_json }}", "dest": str(out)}},
            ],
        }
    ]
    run = run_playbook(workdir, plays)
    assert run.returncode == 0 and run.failed == 0, run.output
    return dict(json.loads(out.read_text()))


# ------------------------------------------------------------------ the seed's recipe


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl CLI is not installed")
def test_the_seed_recipe_passes_every_door(
    tmp_path: Path, hook_repo: tuple[Path, str], precommit_env: dict[str, str]
) -> None:
    """cloud-ca.crt verifiably issued cloud.crt: it is its chain. client.crt (X.509 v1, CN "Client", as the seed's
    client recipe makes it) is a client certificate: never imported, so not held to the server's rules.
    forbid-plaintext-private-keys is left out: it exists to block the plain keys the seed writes (opt-in)."""
    hooks = [{"id": hook["id"]} for hook in MANIFEST if hook["id"] != "forbid-plaintext-private-keys"]
    repo = make_repo(tmp_path / "repo", precommit_env, hook_repo, hooks)
    seed_recipe(repo / "seed", address="mqtt.example.com")
    assert "Version: 1 (0x0)" in openssl(repo / "seed", "x509", "-in", "client.crt", "-noout", "-text")

    checked = cli(repo, "check", "seed")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "no findings" in checked.stdout and "10 files checked" in checked.stdout, checked.stdout

    git(repo, "add", "seed", env=precommit_env)
    committed = git(repo, "commit", "-m", "the seed's PKI", env=precommit_env, check=False)
    output = committed.stdout + committed.stderr
    assert committed.returncode == 0, output
    for hook in hooks:
        name_line = next(h["name"] for h in MANIFEST if h["id"] == hook["id"])
        assert re.search(re.escape(name_line) + r"\.+(Passed|\(no files to check\)Skipped)", output), output
    assert "Failed" not in output

    result = module_run(tmp_path / "play", {"paths": [str(repo / "seed")]})
    assert not result.get("failed"), result
    assert result["findings"] == [] and len(result["files_checked"]) == 10


# ------------------------------------------------------------------ unrelated certificates and one chain.pem


def test_a_chain_file_committed_alone_and_a_certificate_it_does_not_certify(
    tmp_path: Path, hook_repo: tuple[Path, str], precommit_env: dict[str, str]
) -> None:
    env = precommit_env
    hooks = [{"id": hook["id"]} for hook in CHECK_HOOKS if hook["id"] != "forbid-plaintext-private-keys"]
    repo = make_repo(tmp_path / "repo", env, hook_repo, hooks)
    three = three_level()
    other_root = issue("Other Root CA", private_key=key("rsa", 2048, 50), ca=True)
    other = issue("Other Intermediate CA", issuer=other_root, private_key=key("rsa", 2048, 51), ca=True)
    a = issue("a.example.com", issuer=three.intermediate, private_key=key("rsa", 2048, 52), dns=("a.example.com",))
    e = issue("e.example.com", issuer=other, private_key=key("rsa", 2048, 55), dns=("e.example.com",))
    stranger = issue("Stranger CA", private_key=key("rsa", 2048, 56), ca=True)
    write(
        repo,
        {
            "certs/a.crt": a.cert_pem,
            "certs/a.key": key_pem(a.key),
            "certs/b.crt": issue("b.example.com", private_key=key("rsa", 2048, 53), dns=("b.example.com",)).cert_pem,
            "certs/e.crt": e.cert_pem,
            "certs/e.chain.pem": pem(other, other_root),
        },
    )
    git(repo, "add", "certs", env=env)
    git(repo, "commit", "-q", "--no-verify", "-m", "existing certificates", env=env)

    write(repo, {"certs/chain.pem": pem(three.intermediate, three.root)})
    git(repo, "add", "certs/chain.pem", env=env)
    alone = git(repo, "commit", "-m", "the chain", env=env, check=False)
    assert alone.returncode == 0, alone.stdout + alone.stderr

    # d.crt, which no chain certifies, with clean certificates around it: pre-commit splits the files into
    # batches run in parallel; the finding on d.crt is printed once.
    files = {"certs/d.crt": issue("d.example.com", issuer=stranger, dns=("d.example.com",)).cert_pem}
    for i in range(12):
        host = f"f{i}.example.com"
        files[f"certs/f{i}.crt"] = issue(host, private_key=key("rsa", 2048, 70 + i), dns=(host,)).cert_pem
    write(repo, files)
    git(repo, "add", *files, env=env)
    blocked = git(repo, "commit", "-m", "more certificates", env=env, check=False)
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, output
    found = Counter((m["path"], m["rule"]) for m in FINDING.finditer(output))
    assert found == Counter({("certs/d.crt", "chain.required"): 1}), output
    assert not [line for line in output.splitlines() if line.startswith("certs/chain.pem")], output


# ------------------------------------------------------------------ door parity on one corpus


def corpus(repo: Path) -> None:
    """40 files: clean sets, the seed's layout, unrelated certificates with a generic chain, odd names, text."""
    three = three_level()
    inter = three.intermediate
    other_root = issue("Other Root CA", private_key=key("rsa", 2048, 50), ca=True)
    other = issue("Other Intermediate CA", issuer=other_root, private_key=key("rsa", 2048, 51), ca=True)
    seed_ca = issue("CA", private_key=key("rsa", 2048, 40), ca=True, subject=name("CA", "EMQ X Cloud"))
    seed_server = issue("XX", issuer=seed_ca, private_key=key("rsa", 2048, 41), dns=("mqtt.example.com",))
    client_ca = issue("Client CA", private_key=key("rsa", 2048, 60), ca=True)
    client = issue("Client", issuer=client_ca, private_key=key("rsa", 2048, 61), extensions=False)
    a = issue("a.example.com", issuer=inter, private_key=key("rsa", 2048, 52), dns=("a.example.com",))
    e = issue("e.example.com", issuer=other, private_key=key("rsa", 2048, 55), dns=("e.example.com",))
    d = issue("d.example.com", issuer=issue("Stranger CA", ca=True), dns=("d.example.com",))
    big = issue("big.example.com", private_key=key("rsa", 4096), dns=("big.example.com",))
    expired = issue(
        "old.example.com",
        dns=("old.example.com",),
        not_before=NOW - datetime.timedelta(days=800),
        not_after=NOW - datetime.timedelta(days=30),
    )
    mm = issue("mm.example.com", private_key=key("rsa", 2048, 62), dns=("mm.example.com",))
    lonely = issue("lonely.example.com", issuer=inter, private_key=key("rsa", 2048, 63), dns=("lonely.example.com",))
    der = three.leaf.cert.public_bytes(serialization.Encoding.DER)
    p12 = pkcs12.serialize_key_and_certificates(
        b"x", three.leaf.key, three.leaf.cert, None, serialization.NoEncryption()
    )
    vault = pytest.importorskip("ansible.parsing.vault")
    secret = vault.VaultSecret(VAULT_PASSWORD.encode())
    vaulted = bytes(vault.VaultLib([("default", secret)]).encrypt(key_pem(three.leaf.key), secret))
    files = {
        "corpus/good/cloud.crt": three.leaf.cert_pem,
        "corpus/good/cloud.key": key_pem(three.leaf.key, "pkcs1"),
        "corpus/good/cloud-chain.pem": pem(inter),
        "corpus/seed/cloud-ca.crt": seed_ca.cert_pem,
        "corpus/seed/cloud.crt": seed_server.cert_pem,
        "corpus/seed/cloud.key": key_pem(seed_server.key),
        "corpus/seed/client-ca.crt": client_ca.cert_pem,
        "corpus/seed/client.crt": client.cert_pem,
        "corpus/seed/client.key": key_pem(client.key),
        "corpus/certs/a.crt": a.cert_pem,
        "corpus/certs/a.key": key_pem(a.key),
        "corpus/certs/b.crt": issue("b.example.com", dns=("b.example.com",)).cert_pem,
        "corpus/certs/d.crt": d.cert_pem,
        "corpus/certs/chain.pem": pem(inter, three.root),
        "corpus/certs/e.crt": e.cert_pem,
        "corpus/certs/e.chain.pem": pem(other, other_root),
        "corpus/odd/id_big": key_pem(key("rsa", 4096)),
        "corpus/odd/big.cert": big.cert_pem,
        "corpus/odd/server.key.bak": key_pem(key("rsa", 2048, 12), "pkcs8", password=b"passphrase"),
        "corpus/odd/encrypted.key.txt": key_pem(key("rsa", 2048, 12), "pkcs1", password=b"passphrase"),
        "corpus/odd/my server.crt": expired.cert_pem,
        "corpus/odd/cert.der": der,
        "corpus/odd/store.p12": p12,
        "corpus/odd/broken.pem": b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
        "corpus/odd/empty.pem": b"",
        "corpus/odd/ec.key": key_pem(key("ec", 256)),
        "corpus/odd/noid.crt": issue("XX", private_key=key("rsa", 2048, 64)).cert_pem,
        "corpus/odd/multi.crt": pem(three.leaf, inter),
        "corpus/odd/mm.crt": mm.cert_pem,
        "corpus/odd/mm.key": key_pem(key("rsa", 2048, 65)),
        "corpus/odd/leafin.crt": three.leaf.cert_pem,
        "corpus/odd/leafin.chain.pem": pem(three.leaf, inter),
        "corpus/alone/lonely.crt": lonely.cert_pem,
        "corpus/odd/req.csr": b"",  # replaced below by a real request
        "corpus/odd/vault.key": vaulted,
        "corpus/odd/ключ.pem": key_pem(key("rsa", 2048, 66), "pkcs8", password=b"passphrase"),
        "corpus/docs/README.md": b"# Certificates\n\nKeep them clean.\n",
        "corpus/docs/notes.txt": b"renew before June\n",
        "corpus/docs/howto.md": b"# How to\n\nPaste the certificate:\n\n" + three.leaf.cert_pem,
        "corpus/docs/server_cert": three.leaf.cert_pem,  # no extension: found by content
    }
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    csr = x509.CertificateSigningRequestBuilder().subject_name(name("req.example.com")).sign(key(), hashes.SHA256())
    files["corpus/odd/req.csr"] = csr.public_bytes(serialization.Encoding.PEM)
    write(repo, files)
    # the opt-in rule too, so that forbid-plaintext-private-keys has a CLI and module counterpart
    (repo / ".certhygiene.yaml").write_text("rules:\n  key.plaintext: true\n")


def test_every_door_blocks_the_same_files_with_the_same_rules(
    tmp_path: Path, hook_repo: tuple[Path, str], precommit_env: dict[str, str]
) -> None:
    env = precommit_env
    repo = make_repo(tmp_path / "repo", env, hook_repo, [{"id": hook["id"]} for hook in CHECK_HOOKS])
    corpus(repo)
    git(repo, "add", ".", env=env)
    git(repo, "commit", "-q", "--no-verify", "-m", "corpus", env=env)
    files = [p for p in git(repo, "-c", "core.quotepath=false", "ls-files", "-z", env=env).stdout.split("\0") if p]
    corpus_files = [p for p in files if p.startswith("corpus/")]
    assert len(corpus_files) == 40

    # The CLI: the folder walk.
    checked = cli(repo, "check", "corpus", "--format", "json")
    assert checked.returncode == 1, checked.stderr
    report = json.loads(checked.stdout)
    cli_found = {(f["path"], f["rule_id"]) for f in report["findings"]}
    cli_skipped = {s["path"] for s in report["skipped"]}
    assert cli_skipped == {"corpus/odd/vault.key"}
    blocked = {path for path, _rule in cli_found}
    # what a user expects of the odd names, and that neighbours and documents are no subject
    for path, rule in [
        ("corpus/odd/id_big", "key.algorithm"),
        ("corpus/odd/big.cert", "key.algorithm"),
        ("corpus/odd/server.key.bak", "key.encrypted"),
        ("corpus/odd/encrypted.key.txt", "key.encrypted"),
        ("corpus/odd/my server.crt", "cert.validity"),
        ("corpus/odd/ключ.pem", "key.encrypted"),
        ("corpus/odd/mm.crt", "pair.mismatch"),
        ("corpus/odd/mm.key", "pair.mismatch"),
        ("corpus/odd/leafin.chain.pem", "chain.leaf"),
        ("corpus/alone/lonely.crt", "chain.required"),
        ("corpus/certs/d.crt", "chain.required"),
        ("corpus/odd/multi.crt", "bundle.multiple"),
        ("corpus/odd/cert.der", "pem.encoding"),
        ("corpus/odd/store.p12", "pem.encoding"),
        ("corpus/good/cloud.key", "key.plaintext"),
        ("corpus/docs/server_cert", "chain.required"),
    ]:
        assert (path, rule) in cli_found, (path, rule, sorted(cli_found))
    assert not blocked & {
        "corpus/good/cloud.crt",
        "corpus/good/cloud-chain.pem",
        "corpus/seed/cloud.crt",
        "corpus/seed/client.crt",
        "corpus/certs/a.crt",
        "corpus/certs/b.crt",
        "corpus/certs/chain.pem",
        "corpus/certs/e.crt",
        "corpus/docs/README.md",
        "corpus/docs/howto.md",
        "corpus/docs/notes.txt",
    }, sorted(cli_found)

    # Every hook under real pre-commit, given every file of the corpus (text files included).
    for hook in CHECK_HOOKS:
        run = run_pre_commit(repo, env, "run", hook["id"], "--files", *corpus_files)
        output = run.stdout + run.stderr
        lines = Counter((m["path"], m["rule"]) for m in FINDING.finditer(output))
        printed = Counter(line for line in output.splitlines() if FINDING.match(line))
        assert set(printed.values()) <= {1}, (hook["id"], output)  # nothing printed twice across batches
        rules = hook_rules(hook)
        expected = {(p, r) for p, r in cli_found if rules is None or r in rules}
        assert set(lines) == expected, (hook["id"], sorted(set(lines) ^ expected))
        assert (run.returncode != 0) == bool(expected), (hook["id"], output)
        assert "corpus/odd/vault.key: skipped" in output

    # The module, on the same folder with the same policy file.
    result = module_run(tmp_path / "play", {"paths": [str(repo / "corpus")], "policy": str(repo / ".certhygiene.yaml")})
    assert result["failed"] is True
    module_found = {(str(Path(f["path"]).relative_to(repo)), f["rule_id"]) for f in result["findings"]}
    assert module_found == cli_found
    assert {str(Path(s["path"]).relative_to(repo)) for s in result["skipped_files"]} == cli_skipped
    assert len(result["files_checked"]) == len(report["files_checked"])


# ------------------------------------------------------------------ a wrong vault password


def test_a_wrong_vault_password_is_an_error_at_every_door(
    tmp_path: Path, hook_repo: tuple[Path, str], precommit_env: dict[str, str]
) -> None:
    env = precommit_env
    hooks = [{"id": "certhygiene", "args": ["--vault-password-file", "wrong.txt"]}]
    repo = make_repo(tmp_path / "repo", env, hook_repo, hooks)
    vault = pytest.importorskip("ansible.parsing.vault")
    secret = vault.VaultSecret(VAULT_PASSWORD.encode())
    three = three_level()
    write(
        repo,
        {
            "tls/server.crt": three.leaf.cert_pem,
            "tls/server.chain.pem": pem(three.intermediate),
            "tls/server.key": bytes(vault.VaultLib([("default", secret)]).encrypt(key_pem(three.leaf.key), secret)),
            "wrong.txt": b"not the password\n",
            "right.txt": VAULT_PASSWORD.encode() + b"\n",
        },
    )
    message = "tls/server.key: error: the vault password does not open this Ansible Vault file"

    checked = cli(repo, "check", "tls", "--vault-password-file", "wrong.txt")
    assert checked.returncode == 2 and message in checked.stdout, checked.stdout + checked.stderr
    assert cli(repo, "check", "tls", "--vault-password-file", "right.txt").returncode == 0

    git(repo, "add", "tls", env=env)
    committed = git(repo, "commit", "-m", "vaulted key", env=env, check=False)
    output = committed.stdout + committed.stderr
    assert committed.returncode != 0 and "exit code: 2" in output and message in output, output
    assert VAULT_PASSWORD not in output

    result = module_run(tmp_path / "play", {"paths": [str(repo / "tls")], "vault_password": "not the password"})
    assert result["failed"] is True
    assert f"{repo}/tls/server.key: the vault password does not open this Ansible Vault file" in result["msg"]
    good = module_run(tmp_path / "play2", {"paths": [str(repo / "tls")], "vault_password": VAULT_PASSWORD})
    assert not good.get("failed") and good["findings"] == [], good
    skipped = module_run(tmp_path / "play3", {"paths": [str(repo / "tls")], "fail_on_skipped": True})
    assert skipped["failed"] is True and "skipped" in skipped["msg"] and "tls/server.key" in skipped["msg"]
