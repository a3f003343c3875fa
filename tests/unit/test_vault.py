"""Ansible Vault files: decrypted in memory by the engine (no Ansible import), judged against Ansible's own VaultLib."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from certhygiene.check import check_paths
from certhygiene.policy import load_policy
from certhygiene.vault import VaultError, decrypt_vault, is_vault, vault_id
from support.pki import key, key_pem, three_level

vault = pytest.importorskip("ansible.parsing.vault")

PASSWORD = "correct horse battery staple"
SEED = load_policy("seed", discover=False)


def encrypt(plain: bytes, password: str = PASSWORD, label: str | None = None) -> bytes:
    """Encrypt as `ansible-vault encrypt` does (format 1.1, or 1.2 with a vault id)."""
    secret = vault.VaultSecret(password.encode())
    lib = vault.VaultLib([(label or "default", secret)])
    return bytes(lib.encrypt(plain, secret, vault_id=label))


@pytest.mark.parametrize("label", [None, "prod"])
def test_decrypts_what_ansible_encrypts(label: str | None) -> None:
    plain = key_pem(key("rsa", 2048, 0))
    data = encrypt(plain, label=label)
    assert data.startswith(b"$ANSIBLE_VAULT;1.2;AES256;prod" if label else b"$ANSIBLE_VAULT;1.1;AES256")
    assert is_vault(data)
    assert vault_id(data) == label
    assert decrypt_vault(data, PASSWORD) == plain
    assert decrypt_vault(data, PASSWORD.encode()) == plain


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 1000])
def test_padding_edges(size: int) -> None:
    plain = bytes(range(256))[:size] * 1 if size <= 256 else b"x" * size
    assert decrypt_vault(encrypt(plain), PASSWORD) == plain


def test_wrong_password_and_damage() -> None:
    data = encrypt(b"secret")
    with pytest.raises(VaultError, match="does not open it"):
        decrypt_vault(data, "wrong")
    with pytest.raises(VaultError, match="damaged"):
        decrypt_vault(data[:-10] + b"zz\n", PASSWORD)
    with pytest.raises(VaultError, match="not an Ansible Vault"):
        decrypt_vault(b"-----BEGIN CERTIFICATE-----\n", PASSWORD)
    with pytest.raises(VaultError, match="format"):
        decrypt_vault(b"$ANSIBLE_VAULT;1.0;AES\n00\n", PASSWORD)
    with pytest.raises(VaultError, match="cipher"):
        decrypt_vault(b"$ANSIBLE_VAULT;1.1;AES128\n00\n", PASSWORD)
    # the error never echoes the password
    for exc_data in (data, data[:-10] + b"zz\n"):
        try:
            decrypt_vault(exc_data, "hunter2-password")
        except VaultError as exc:
            assert "hunter2" not in str(exc)


def test_the_engine_does_not_import_ansible() -> None:
    code = "import sys, certhygiene.vault, certhygiene.check; print(any(m.startswith('ansible') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "False"


def _repo(folder: Path) -> None:
    three = three_level()
    (folder / "server.crt").write_bytes(three.leaf.cert_pem)
    (folder / "server.chain.pem").write_bytes(three.intermediate.cert_pem)
    (folder / "server.key").write_bytes(encrypt(key_pem(three.leaf.key, "pkcs8", b"passphrase")))


def test_vault_file_skipped_without_password(tmp_path: Path) -> None:
    _repo(tmp_path)
    report = check_paths([str(tmp_path)], SEED, root=str(tmp_path))
    assert report.findings == []
    assert [(Path(p).name, reason) for p, reason in report.skipped] == [
        ("server.key", "Ansible Vault file: no vault password given")
    ]
    assert len(report.files_checked) == 2


def test_vault_file_checked_with_password(tmp_path: Path) -> None:
    _repo(tmp_path)
    report = check_paths([str(tmp_path)], SEED, root=str(tmp_path), vault_password=PASSWORD)
    assert [(Path(f.path).name, f.rule_id) for f in report.findings] == [("server.key", "key.encrypted")]
    assert report.skipped == []
    assert len(report.files_checked) == 3


def test_vault_file_with_good_key_passes_and_pairs(tmp_path: Path) -> None:
    three = three_level()
    (tmp_path / "server.crt").write_bytes(three.leaf.cert_pem)
    (tmp_path / "server.chain.pem").write_bytes(three.intermediate.cert_pem)
    (tmp_path / "server.key").write_bytes(encrypt(key_pem(key("rsa", 2048, 5))))  # the wrong key, in a vault
    report = check_paths([str(tmp_path / "server.key")], SEED, root=str(tmp_path), vault_password=PASSWORD)
    # reported on the file given (the vaulted key); server.crt is context
    assert [(Path(f.path).name, f.rule_id) for f in report.findings] == [("server.key", "pair.mismatch")]


def test_wrong_vault_password_is_an_input_error_not_a_skip(tmp_path: Path) -> None:
    """A misconfigured pipeline must not stay green: the doors exit 2 on an input error."""
    _repo(tmp_path)
    report = check_paths([str(tmp_path / "server.key")], SEED, root=str(tmp_path), vault_password="nope")
    assert report.findings == [] and report.skipped == []
    [(path, message)] = report.input_errors
    assert Path(path).name == "server.key"
    assert "the vault password does not open this Ansible Vault file" in message
