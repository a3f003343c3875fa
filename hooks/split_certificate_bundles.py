# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pre-commit fixer `split-certificate-bundles` (opt-in): split a certificate file that holds a bundle.

A certificate file ``dir/<stem>.<ext>`` that holds the leaf with its intermediates (and maybe the
root), in any order, is rewritten to hold the leaf alone; the intermediates go, in issuing order,
to ``dir/<stem>.chain.pem`` (the chain file ``certhygiene check`` pairs with it). The root is
dropped: clients trust it and the deployment's chain must not carry it (the seed's common
problem 1) - except when the leaf was issued directly by a self-signed CA: that CA is the chain.
The split is the one ``certhygiene split`` and ``certificate_chain`` make (``chain.chain_outcome``).
Rewriting the given file in place is what this hook is for (git holds the staged version, so no
backup file is left in the work tree); the chain file is never written over a private key, and
both files are written all or nothing. Like pre-commit-hooks' fixers, the hook exits 1 when it changed a file, so that the
user reviews and stages the change; running it again changes nothing and exits 0.

Left alone (with a message, exit 1): files that also hold a private key, files holding
certificates that are not on the leaf's path, two leaves, and an existing chain file that holds
other certificates. Files named as chain or full-chain files (``*chain*``, ``*bundle*``,
``*intermediate*``) are never touched: they hold several certificates by design.
"""

from __future__ import annotations

import argparse
import errno
import fnmatch
import os
import sys
from collections.abc import Sequence

from certhygiene.findings import prepare_console, safe_text
from certhygiene.hooks._common import add_max_file_size, cryptography_usable

PROG = "split-certificate-bundles"
CHAIN_SUFFIX = ".chain.pem"
_CERT_EXTENSIONS = (".crt", ".cer", ".cert", ".pem")
_MULTI_CERT_NAMES = ("*chain*", "*bundle*", "*intermediate*")


def chain_path_for(path: str) -> str:
    """``dir/server.crt`` -> ``dir/server.chain.pem``."""
    folder, name = os.path.split(path)
    stem = name
    for ext in _CERT_EXTENSIONS:
        if name.lower().endswith(ext) and len(name) > len(ext):
            stem = name[: -len(ext)]
            break
    return os.path.join(folder, stem + CHAIN_SUFFIX)


def _multi_cert_name(path: str) -> bool:
    try:
        # layout, not check: the names are all this needs, and check imports the whole rule engine
        from certhygiene.layout import CHAIN_PATTERNS, FULLCHAIN_PATTERNS

        patterns: tuple[str, ...] = (*CHAIN_PATTERNS, *FULLCHAIN_PATTERNS)
    except ImportError:  # pragma: no cover - the rule engine ships with the hooks
        patterns = _MULTI_CERT_NAMES
    name = os.path.basename(path).lower()
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def say(text: str) -> None:
    """Print one line; a file name with a newline or an escape sequence is shown escaped."""
    print(safe_text(text))


def _read(path: str, max_bytes: int) -> bytes | str | None:
    """The bytes of ``path``; None when it does not exist; a sentence when it cannot be read (a FIFO, a device,
    a file over the size limit: never read)."""
    from certhygiene.inputs import InputError, Unreadable, read_regular

    try:
        return read_regular(path, max_bytes)
    except Unreadable as exc:
        return None if exc.errno == errno.ENOENT else exc.reason
    except InputError as exc:
        return exc.reason


def fix_file(path: str, max_bytes: int | None = None) -> tuple[bool, bool]:
    """Split ``path`` if it is a bundle. Returns (changed, failed); prints what it did or why not."""
    from certhygiene.inputs import DEFAULT_MAX_BYTES
    from certhygiene.material import read_bytes

    limit = max_bytes or DEFAULT_MAX_BYTES
    if _multi_cert_name(path):
        return False, False
    data = _read(path, limit)
    if data is None:
        return False, False
    if isinstance(data, str):
        say(f"{path}: skipped: {data}")
        return False, False
    material = read_bytes(data, path)
    if material.form != "pem" or len(material.certificates) < 2:
        return False, False
    # Only for a bundle: the chain builder (and its network imports for AIA) and the writer.
    from certhygiene.chain import ChainError, certificates_from_bytes, chain_outcome, dedupe, to_pem_chain
    from certhygiene.facts import cert_label
    from certhygiene.files import Output, WriteError, write_outputs

    certs = dedupe(block.certificate for block in material.certificates)
    if material.has_private_key:
        say(
            f"{path}: holds a private key and {len(certs)} certificates; not rewritten. Move the key to its own "
            f"file, then run the hook again (or: certhygiene split {path} --cert-out ... --chain-out ...)."
        )
        return False, True
    try:
        outcome = chain_outcome(data, path)
    except ChainError as exc:
        say(f"{path}: cannot split: {exc}")
        return False, True
    if outcome.unused:
        names = ", ".join(cert_label(c) for c in outcome.unused)
        say(f"{path}: cannot split: {names} not on the path of {cert_label(outcome.leaf)}; split it by hand.")
        return False, True
    cert_pem = to_pem_chain([outcome.leaf])
    chain_pem = to_pem_chain(outcome.chain)
    chain_path = chain_path_for(path)
    existing = _read(chain_path, limit)
    if isinstance(existing, str):
        say(f"{path}: not split: {chain_path} cannot be read: {existing}.")
        return False, True
    if outcome.chain and existing is not None and existing != chain_pem:
        held = {cert_label(c) for c in certificates_from_bytes(existing, chain_path, [])}
        wanted = {cert_label(c) for c in outcome.chain}
        if held != wanted:
            say(
                f"{path}: not split: {chain_path} exists and holds other certificates; merge them by hand "
                f"(the chain of {cert_label(outcome.leaf)} is {', '.join(cert_label(c) for c in outcome.chain)})."
            )
            return False, True
    outputs = [Output(path, cert_pem, "the bundle, rewritten to its leaf")]
    if outcome.chain:
        outputs.append(Output(chain_path, chain_pem, "its chain file"))
    try:
        # The bundle is not passed as an input: rewriting it in place is this hook's job.
        write_outputs(outputs)
    except WriteError as exc:
        say(f"{path}: not split: {exc}")
        return False, True
    parts = [f"kept {cert_label(outcome.leaf)}"]
    if outcome.issued_by_root:
        parts.append(f"moved its issuing CA {cert_label(outcome.root)} to {chain_path} (that CA is the chain)")
    elif outcome.chain:
        parts.append(f"moved {len(outcome.chain)} intermediate(s) to {chain_path} in issuing order")
    if outcome.root is not None and not outcome.issued_by_root:
        parts.append(f"dropped the root {cert_label(outcome.root)} (clients trust it; it does not belong in the chain)")
    if len(certs) < len(material.certificates):
        parts.append("dropped duplicates")
    say(f"{path}: split the bundle: " + "; ".join(parts) + ". Review and stage the changes.")
    return True, False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=(__doc__ or "").split("\n\n", maxsplit=1)[0])
    parser.add_argument("filenames", nargs="*", metavar="FILE", help="files to fix (pre-commit passes them)")
    add_max_file_size(parser)
    prepare_console()
    args = parser.parse_args(argv)
    if args.filenames and not cryptography_usable(PROG):
        return 2
    status = 0
    for path in args.filenames:
        changed, failed = fix_file(path, args.max_file_size)
        if changed or failed:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
