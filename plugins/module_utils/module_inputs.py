# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How modules read the files their options name: through the engine's bounded reader, never ``open()``.

A FIFO, a device or an oversized file given as a ``*_path`` option fails the task with a message that names the
option, the file and the reason, instead of hanging the task or filling the managed node's memory.
"""

from __future__ import annotations

import warnings
from typing import Any

from ansible.module_utils.common.text.converters import to_bytes

from .certhygiene.inputs import DEFAULT_MAX_BYTES, InputError, read_regular


def quiet_library_warnings() -> None:
    """Library deprecation notes (cryptography's about odd certificates) are not for the people running a play."""
    warnings.simplefilter("ignore")


def read_path(module: Any, option: str, path: str, fix: str = "", max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of ``path`` (given in ``option``); fails the task when it is not a readable regular file."""
    try:
        return read_regular(path, max_bytes)
    except InputError as exc:
        module.fail_json(msg=f"{option}: {path}: {exc.reason}." + (f" {fix}" if fix else ""))
        raise  # fail_json exits; this keeps type checkers and readers sure nothing follows


def read_material(
    module: Any,
    content_option: str,
    path_option: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    note: str = "",
) -> tuple[bytes | None, str | None]:
    """(bytes, display name) of material given as PEM content in ``content_option`` or as a file on the managed
    node in ``path_option``; (None, None) when neither is given. Every module that reads material reads it here,
    so a bad path fails in the same words everywhere (``note`` adds what the module did not do)."""
    content = module.params.get(content_option)
    if content is not None:
        return to_bytes(content, errors="surrogate_or_strict"), content_option
    path = module.params.get(path_option)
    if path is None:
        return None, None
    fix = f"Fix the path in {path_option}, or give the content in {content_option}." + (f" {note}" if note else "")
    return read_path(module, path_option, path, fix, max_bytes), path
