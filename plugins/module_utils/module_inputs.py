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


def material_options(
    item: str,
    *,
    secret: bool = False,
    aliases: tuple[str, ...] = (),
    path_aliases: tuple[str, ...] = (),
    required: bool | tuple[str, str] = False,
    or_else: tuple[str, ...] = (),
) -> tuple[dict[str, Any], list[tuple[str, ...]], list[tuple[str, ...]], list[tuple[Any, ...]]]:
    """The ``item_content`` / ``item_path`` pair, declared the same way in every module.

    Returns (argument_spec entries, mutually_exclusive, required_one_of, required_if). ``required`` is True (always
    one of the pair, or of ``or_else``), or (option, value) when one is needed only then; ``aliases`` are older
    names of the content option, ``path_aliases`` those of the path option. ``secret`` content is never logged
    (its path is not a secret, said explicitly so Ansible does not guess from the word ``key``).
    """
    content, path = item + "_content", item + "_path"
    content_spec: dict[str, Any] = {"type": "str"}
    if aliases:
        content_spec["aliases"] = list(aliases)
    path_spec: dict[str, Any] = {"type": "path"}
    if secret:
        content_spec["no_log"] = True
        path_spec["no_log"] = False
    if path_aliases:
        path_spec["aliases"] = list(path_aliases)
    one_of: list[tuple[str, ...]] = []
    required_if: list[tuple[Any, ...]] = []
    if required is True:
        one_of.append((content, path, *or_else))
    elif required:
        required_if.append((required[0], required[1], (content, path), True))
    return {content: content_spec, path: path_spec}, [(content, path)], one_of, required_if


def material_declarations(
    *pairs: tuple[dict[str, Any], list[tuple[str, ...]], list[tuple[str, ...]], list[tuple[Any, ...]]],
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """(argument_spec entries, AnsibleModule constraint keywords) of several ``material_options`` pairs."""
    spec: dict[str, Any] = {}
    constraints: dict[str, list[Any]] = {"mutually_exclusive": [], "required_one_of": [], "required_if": []}
    for entries, exclusive, one_of, required_if in pairs:
        spec.update(entries)
        constraints["mutually_exclusive"] += exclusive
        constraints["required_one_of"] += one_of
        constraints["required_if"] += required_if
    return spec, constraints
