"""The opt-in hook `forbid-plaintext-private-keys`: private keys committed outside an Ansible Vault.

Table-driven over every way a key lands in a repository; vault files are made with Ansible's own
VaultLib here (the real `ansible-vault` CLI and a real pre-commit run are in
tests/integration/test_vault_gitops.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from certhygiene.hooks.forbid_plaintext_private_keys import main
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from support.pki import issue, key, key_pem, pem

VAULT_PASSWORD = "hook vault password"


def vault(data: bytes) -> bytes:
    """Encrypt like `ansible-vault encrypt` does (Ansible's VaultLib, format 1.1 AES256)."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    return bytes(VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))]).encrypt(data))


def rsa_pkcs8() -> bytes:
    return key_pem(key("rsa", 2048, 50))


def der_key() -> bytes:
    return bytes(
        key("rsa", 2048, 50).private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def inline_yaml() -> bytes:
    body = "\n".join("    " + line for line in key_pem(key("ec", 256, 51), "sec1").decode().splitlines())
    return f"---\nmqtt:\n  host: mqtt.example.com\n  tls_key: |\n{body}\n".encode()


def public_key() -> bytes:
    return bytes(
        key("rsa", 2048, 50)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def p12() -> bytes:
    leaf = issue("p12.example.com", private_key=key("rsa", 2048, 52))
    return pkcs12.serialize_key_and_certificates(
        b"p12", leaf.key, leaf.cert, None, serialization.BestAvailableEncryption(b"p12 password")
    )


CASES: list[tuple[str, str, Callable[[], bytes], int]] = [
    # (case, file name, content, exit code)
    ("pkcs8", "tls/server.key", rsa_pkcs8, 1),
    ("pkcs1", "tls/server.pem", lambda: key_pem(key("rsa", 2048, 50), "pkcs1"), 1),
    ("sec1", "tls/ec.key", lambda: key_pem(key("ec", 256, 51), "sec1"), 1),
    ("openssh", "deploy/id_ed25519", lambda: key_pem(key("ed25519", 0, 53), "openssh"), 1),
    ("der", "tls/server.der", der_key, 1),
    ("cert+key", "tls/combined.pem", lambda: pem(issue("c.example.com")) + rsa_pkcs8(), 1),
    ("inline-yaml", "group_vars/all.yml", inline_yaml, 1),
    ("encrypted-pkcs8", "tls/locked.key", lambda: key_pem(key("rsa", 2048, 50), password=b"pw"), 0),
    ("vaulted-key", "tls/vaulted.key", lambda: vault(rsa_pkcs8()), 0),
    ("vaulted-yaml", "group_vars/vault.yml", lambda: vault(inline_yaml()), 0),
    ("certificate", "tls/server.crt", lambda: pem(issue("cert.example.com")), 0),
    ("public-key", "tls/server.pub.pem", public_key, 0),
    ("pkcs12", "tls/bundle.p12", p12, 0),
    ("text", "README.md", lambda: b"# keys live in the vault\n-----BEGIN PRIVATE KEY----- is what we look for\n", 0),
    ("empty", "empty.key", lambda: b"", 0),
    ("binary", "logo.png", lambda: bytes(range(256)) * 4, 0),
]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)
    return tmp_path


def write(root: Path, name: str, data: bytes) -> str:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return name


@pytest.mark.parametrize(("case", "name", "content", "code"), CASES, ids=[c[0] for c in CASES])
def test_plaintext_keys_fail_and_the_rest_passes(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], case: str, name: str, content: Callable[[], bytes], code: int
) -> None:
    data = content()
    write(in_tmp, name, data)
    assert main([name]) == code
    out, err = capsys.readouterr()
    output = out + err
    assert "Traceback" not in output
    if code:
        assert name in output and "[key.plaintext]" in output
        assert "ansible-vault encrypt" in output
    else:
        assert "[key.plaintext]" not in output
    # never key material in the output
    for line in data.decode("utf-8", errors="ignore").splitlines():
        stripped = line.strip()
        if len(stripped) >= 24 and not stripped.startswith("-----"):
            assert stripped not in output


def test_vaulted_keys_pass_with_the_password_too(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A vault password opens the vault; a key inside a vault is vaulted, so it passes."""
    password_file = in_tmp / "vault-pass"
    password_file.write_text(VAULT_PASSWORD + "\n")
    names = [write(in_tmp, "tls/vaulted.key", vault(rsa_pkcs8())), write(in_tmp, "vars/v.yml", vault(inline_yaml()))]
    assert main(["--vault-password-file", str(password_file), *names]) == 0
    out, _unused = capsys.readouterr()
    assert "[key.plaintext]" not in out and "skipped" not in out


def test_every_plaintext_key_is_named(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = [write(in_tmp, name, content()) for _unused, name, content, _unused in CASES]
    assert main(names) == 1
    out, _unused = capsys.readouterr()
    flagged = {line.split(":", 1)[0] for line in out.splitlines() if "[key.plaintext]" in line}
    assert flagged == {name for _unused, name, _unused, code in CASES if code}


def test_no_files_is_a_pass(in_tmp: Path) -> None:
    assert main([]) == 0


def test_hook_is_listed_opt_in_for_every_file() -> None:
    import yaml

    hooks = {
        h["id"]: h
        for h in yaml.safe_load(Path(__file__).resolve().parents[2].joinpath(".pre-commit-hooks.yaml").read_text())
    }
    hook = hooks["forbid-plaintext-private-keys"]
    assert hook["entry"] == "certhygiene-forbid-plaintext-private-keys"
    assert "files" not in hook and hook["types"] == ["file"]  # keys hide in YAML vars files too
    assert "opt-in" in hook["name"]


def test_the_whole_policy_does_not_include_it(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Opt-in: the `certhygiene` hook and `certhygiene check` leave plaintext keys alone by default."""
    from certhygiene.hooks.certhygiene_policy import main as whole_policy

    write(in_tmp, "tls/server.key", rsa_pkcs8())
    whole_policy(["tls/server.key"])
    out, _unused = capsys.readouterr()
    assert "[key.plaintext]" not in out
