# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decrypt Ansible Vault files in memory, without Ansible.

The vault format 1.1 / 1.2 with the AES256 cipher, as Ansible writes it::

    $ANSIBLE_VAULT;1.1;AES256            (1.2 adds ";<vault id>")
    <hex of: hex(salt) "\\n" hex(hmac) "\\n" hex(ciphertext)>, in lines of 80

PBKDF2-HMAC-SHA256 (10,000 iterations, 32-byte salt) turns the password into
an AES-256 key, an HMAC-SHA256 key and a 16-byte counter block; the ciphertext
is AES-256-CTR of the PKCS#7-padded plaintext and the HMAC covers the ciphertext.
The plaintext never touches the disk.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac

from ._crypto import Cipher, algorithms, modes

VAULT_HEADER = b"$ANSIBLE_VAULT;"
_ITERATIONS = 10000
_KEY_LENGTH = 32
_IV_LENGTH = 16


class VaultError(ValueError):
    """The content is not a vault this module can open (the message never holds secrets)."""


class VaultPasswordError(VaultError):
    """The vault is well formed but the password does not open it: a misconfiguration, never a skip."""


def is_vault(data: bytes) -> bool:
    return data.lstrip().startswith(VAULT_HEADER)


def vault_id(data: bytes) -> str | None:
    """The vault id of a format 1.2 file (``$ANSIBLE_VAULT;1.2;AES256;<id>``), else None."""
    header = data.lstrip().split(b"\n", 1)[0].strip().split(b";")
    if len(header) >= 4 and header[1] == b"1.2":
        return header[3].decode("utf-8", errors="replace")
    return None


def decrypt_vault(data: bytes, password: bytes | str) -> bytes:
    """The plaintext of an Ansible Vault file; ``VaultError`` when it is malformed or the password is wrong."""
    if isinstance(password, str):
        password = password.encode("utf-8")
    lines = data.strip().splitlines()
    if not lines or not lines[0].startswith(VAULT_HEADER):
        raise VaultError("not an Ansible Vault file (no $ANSIBLE_VAULT header)")
    header = lines[0].strip().split(b";")
    if len(header) < 3 or header[1] not in (b"1.1", b"1.2"):
        raise VaultError(f"unsupported vault format {header[1:2]!r}; only 1.1 and 1.2 are supported")
    if header[2].strip() != b"AES256":
        raise VaultError("unsupported vault cipher; only AES256 is supported")
    try:
        envelope = binascii.unhexlify(b"".join(line.strip() for line in lines[1:]))
        salt_hex, mac_hex, body_hex = envelope.split(b"\n", 2)
        salt = binascii.unhexlify(salt_hex)
        expected_mac = binascii.unhexlify(mac_hex)
        ciphertext = binascii.unhexlify(body_hex.strip())
    except (binascii.Error, ValueError):
        raise VaultError("the vault body is damaged (not the hex envelope Ansible writes)") from None
    if not salt or not ciphertext or len(ciphertext) % 16:
        raise VaultError("the vault body is damaged (bad salt or ciphertext length)")
    derived = hashlib.pbkdf2_hmac("sha256", password, salt, _ITERATIONS, 2 * _KEY_LENGTH + _IV_LENGTH)
    aes_key, mac_key, counter = (
        derived[:_KEY_LENGTH],
        derived[_KEY_LENGTH : 2 * _KEY_LENGTH],
        derived[2 * _KEY_LENGTH :],
    )
    mac = hmac.new(mac_key, ciphertext, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected_mac):
        raise VaultPasswordError("the vault password does not open it (HMAC mismatch)")
    decryptor = Cipher(algorithms.AES(aes_key), modes.CTR(counter)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    pad = padded[-1] if padded else 0
    if not 1 <= pad <= 16 or padded[-pad:] != bytes([pad]) * pad:
        raise VaultError("the vault plaintext has bad padding")
    return bytes(padded[:-pad])
