# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place the engine imports ``cryptography``.

Ansible imports module_utils on targets that may lack ``cryptography``; the
import must not fail there, so modules can report ``missing_required_lib``
instead of a traceback. Every other engine module imports these names from here.
"""

from __future__ import annotations

import traceback

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.serialization import pkcs7
    from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR: str | None = None
except ImportError:  # pragma: no cover - exercised by ansible-test's import sandbox
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
    x509 = InvalidSignature = UnsupportedAlgorithm = hashes = serialization = None  # type: ignore[assignment,misc]
    dsa = ec = ed448 = ed25519 = padding = rsa = None  # type: ignore[assignment]
    Cipher = algorithms = modes = None  # type: ignore[assignment,misc]
    pkcs7 = None  # type: ignore[assignment]
    ExtendedKeyUsageOID = ExtensionOID = NameOID = None  # type: ignore[assignment,misc]

__all__ = [
    "CRYPTOGRAPHY_IMPORT_ERROR",
    "HAS_CRYPTOGRAPHY",
    "Cipher",
    "ExtendedKeyUsageOID",
    "ExtensionOID",
    "InvalidSignature",
    "NameOID",
    "UnsupportedAlgorithm",
    "algorithms",
    "dsa",
    "ec",
    "ed448",
    "ed25519",
    "hashes",
    "modes",
    "padding",
    "pkcs7",
    "rsa",
    "serialization",
    "x509",
]
