# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which files belong together: the one decision every door (CLI, hooks, modules) uses.

``is_candidate`` says whether a file is TLS material worth reading (a folder walk and the
pre-commit hooks select files with it). ``Layout`` reads files once and pairs a certificate
file with its chain, its private key and (two-way TLS) its client CA, from explicit to inferred:

1. *Explicit*: the policy's ``bundles:`` (``.certhygiene.yaml``). A file a bundle names is never
   guessed about: the bundle says what its chain, key and client CA are (or that it has none).
2. *Names*: a chain file named after the certificate (``x.crt`` -> ``x.chain.pem``, ``x-chain.pem``,
   ``x_bundle.crt``), the seed's CA file (``cloud.crt`` -> ``cloud-ca.crt``); a key file named after
   it (``x.key``, ``x.key.pem``, ``x-key.pem``, ``x.pem``; ``privkey.pem`` for certbot's files).
3. *Proof*: a chain file or CA certificate file in the same folder whose first CA certificate
   verifiably issued the certificate (its key verifies the certificate's signature).

A chain never pairs on its name alone: a chain file named after a certificate whose first CA
certificate did not issue it is not that certificate's chain (``chain.required`` says why, and the
chain file, when given, gets a ``chain.order`` finding). A key pairs on its name: a key that does not
belong to its certificate is what ``pair.mismatch`` reports.

A certificate is a *client* certificate (never imported into a deployment, so not held to the
server certificate's rules) when its file name says ``client`` (``client.crt``, ``client-01.pem``), or
when a client CA of the folder (a CA file whose name says ``client``, or a bundle's ``client_ca``)
verifiably issued it. (One whose extended key usage allows clientAuth without serverAuth needs no
identity and no chain whatever its name: the rules say so themselves.)

Only ``.inputs`` and ``.forks`` are imported at module level: a hook that only selects files
(``is_candidate``) on a repository of ordinary text pays for no cryptography import.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ._record import Record
from .forks import fork_with_pipe, read_all, send_all
from .inputs import InputError, read_head, read_regular

if TYPE_CHECKING:
    from .material import Block, Material, ReadCache
    from .policy import Policy

# Files a folder walk picks up by name (files named explicitly are always checked).
CERT_EXTENSIONS = (".crt", ".cer", ".cert", ".pem", ".der")
WALK_EXTENSIONS = (*CERT_EXTENSIONS, ".key", ".chain", ".csr", ".req", ".p12", ".pfx", ".ca-bundle", ".p7b")
CHAIN_PATTERNS = ("*chain*", "*bundle*", "*intermediate*")
FULLCHAIN_PATTERNS = ("*fullchain*", "*full-chain*", "*full_chain*")
DOCUMENT_EXTENSIONS = (".yml", ".yaml", ".json")  # documents.DOCUMENT_EXTENSIONS, without importing it
GENERIC_CHAIN_PREFIXES = ("chain", "ca-bundle", "ca_bundle", "cabundle", "bundle", "intermediate")
SKIP_DIRS = frozenset({"__pycache__", "node_modules"})
# How much of a file without a telling name is read to decide whether it is material: PEM armour opens it, or
# the "Bag Attributes" that `openssl pkcs12` writes before the armour stand at the top. A document that quotes
# a PEM block after some prose is not material.
HEAD_BYTES = 512
_ARMOUR = re.compile(rb"\A\s*-----BEGIN [A-Z0-9 ]+-----|\A\s*(?:Bag|Key) Attributes")
_CA_SUFFIXES = ("-ca", "_ca", ".ca")  # the seed's cloud.crt -> cloud-ca.crt
_CLIENT_TOKENS = frozenset({"client", "clients"})
_TOKEN = re.compile(r"[.\-_ ]+")


def _name_matcher(patterns: Sequence[str]) -> Callable[[str], object]:
    """A test of a (lower-case) file name against fnmatch patterns. Patterns of the form ``*text*`` become one
    search for any of the texts: fnmatch's ``.*text.*`` regexes backtrack over the name once per pattern."""
    texts = [p[1:-1] for p in patterns if len(p) > 2 and p[0] == p[-1] == "*" and not set(p[1:-1]) & set("*?[]")]
    if len(texts) == len(patterns):
        return re.compile("|".join(re.escape(text) for text in texts)).search
    return re.compile("|".join(fnmatch.translate(p) for p in patterns)).match


_fullchain_name = _name_matcher(FULLCHAIN_PATTERNS)
_chain_name = _name_matcher(CHAIN_PATTERNS)


def is_candidate(path: str) -> bool:
    """Whether ``path`` may hold TLS material: a known extension, ``chain`` in the name, or content that opens
    with PEM armour or ``Bag Attributes`` (its first 512 bytes are read); a YAML or JSON document when its bytes
    hold PEM armour, ``kind: Secret``, ``$ANSIBLE_VAULT`` or a ``sops`` key. Only regular files are opened."""
    return _is_candidate(os.path.basename(path), os.path.join(os.path.dirname(path), ""))


def _is_candidate(name: str, prefix: str) -> bool:
    """``is_candidate`` of the file ``name`` in the folder ``prefix`` (which ends with a separator)."""
    lower = name.lower()
    path = prefix + name
    if lower.endswith(DOCUMENT_EXTENSIONS):
        # YAML/JSON: material only when the pre-scan finds armour, a Secret, a vault value or SOPS (documents.py).
        from .documents import is_document_candidate

        return is_document_candidate(path)
    if lower.endswith(WALK_EXTENSIONS) or "chain" in lower:
        return True
    head = read_head(path, HEAD_BYTES)
    return head is not None and _ARMOUR.match(head) is not None


def expand_paths(paths: Iterable[str]) -> list[str]:
    """Files named explicitly, and candidate files (``is_candidate``) under the folders named, sorted per folder."""
    return list(expand_absolute(paths))


def expand_absolute(paths: Iterable[str]) -> dict[str, str]:
    """``expand_paths``' files (in order), each with its absolute path (which the walk works out anyway)."""
    return expand_by_folder(paths)[0]


def expand_by_folder(paths: Iterable[str]) -> tuple[dict[str, str], dict[str, list[tuple[str, str]]]]:
    """``expand_absolute``, and the same files as (path, absolute path) by folder (the absolute path's part
    before its last separator), in the same order: a process pool hands out whole folders."""
    unique: dict[str, str] = {}
    folders: dict[str, list[tuple[str, str]]] = {}
    seen: set[str] = set()
    cwd = os.getcwd()
    for path in paths:
        if os.path.isdir(path):
            _expand_folder(path, cwd, unique, folders, seen)
        else:
            key = os.path.normpath(os.path.join(cwd, path))  # os.path.abspath, without a getcwd() per path
            if key not in seen:
                seen.add(key)
                shown_path = os.path.normpath(path)
                unique[shown_path] = key
                folders.setdefault(key[: key.rindex(os.sep)], []).append((shown_path, key))
    return unique, folders


def _expand_folder(
    path: str, cwd: str, unique: dict[str, str], folders: dict[str, list[tuple[str, str]]], seen: set[str]
) -> None:
    """The candidate files under the folder ``path`` into ``unique``, ``folders`` and ``seen`` (see
    expand_by_folder), sorted as whole paths."""
    # Each folder's paths are the folder's (normalised once) and the name, which needs no normalising. Names with a
    # known ending are taken without a call per file: a large repository has tens of thousands.
    walked: list[tuple[str, str, str, list[str]]] = []  # (walked prefix, shown prefix, absolute prefix, names)
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        prefix = os.path.join(folder, "")  # prefix + name == os.path.join(folder, name)
        names = [name for name in files if name.lower().endswith(WALK_EXTENSIONS) or _is_candidate(name, prefix)]
        if names:
            names.sort()
            normal = os.path.normpath(folder)
            shown = "" if normal == os.curdir else os.path.join(normal, "")
            absolute = os.path.join(os.path.normpath(os.path.join(cwd, folder)), "")
            walked.append((prefix, shown, absolute, names))
    # The folders' sorted names, one folder after the other, are sorted as whole paths unless a subfolder's
    # paths fall between a folder's (x/a, x/m/b, x/z): then everything is sorted at once.
    in_order = all(before[0] + before[3][-1] < after[0] + after[3][0] for before, after in zip(walked, walked[1:]))
    if in_order and not seen:  # the usual case: a whole folder at a time, in C loops
        for _prefix, shown, absolute, names in walked:
            keys = list(map(absolute.__add__, names))
            pairs = list(zip(map(shown.__add__, names), keys))
            unique.update(pairs)
            seen.update(keys)
            folders.setdefault(absolute[:-1], []).extend(pairs)
        return
    found = sorted(
        (prefix + name, shown + name, absolute + name) for prefix, shown, absolute, names in walked for name in names
    )
    for _walked, shown_path, key in found:
        if key not in seen:
            seen.add(key)
            unique[shown_path] = key
            folders.setdefault(key[: key.rindex(os.sep)], []).append((shown_path, key))


class BackgroundWalk:
    """``expand_by_folder(paths)`` worked out by a fork of this process while the process goes on: a command
    starts it before it imports cryptography (~50 ms), which the walk (~14 ms per 10,000 files, and the YAML
    pre-scan) need not wait for. ``result()`` gives the walk, or None when there is none to give (no ``fork``,
    the fork failed, the current folder changed): then the caller walks as usual, so the files and their order are
    always ``expand_by_folder``'s. ``close()`` reaps the fork however the command ends."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = list(paths)
        self.cwd = os.getcwd()
        self._pid = 0
        self._results = -1
        forked = fork_with_pipe() if hasattr(os, "fork") else None
        if forked is None:
            return
        pid, end = forked
        if pid == 0:  # the fork: walk, send the walk, end (os._exit: nothing of the parent's is flushed or run)
            status = 1
            try:
                import marshal  # plain str, dict, list and tuple: the fastest exact round trip

                send_all(end, marshal.dumps(expand_by_folder(self.paths)))
                status = 0
            finally:
                os._exit(status)
        self._pid, self._results = pid, end

    def result(self) -> tuple[dict[str, str], dict[str, list[tuple[str, str]]]] | None:
        """The walk (waits for the fork to send it); None: walk here instead. Take it with the cyclic collector
        paused, as ``check.check_paths`` does: it makes ~20,000 containers per 10,000 files."""
        if self._results < 0:
            return None
        try:
            data = read_all(self._results)
            os.close(self._results)  # all read: the fork has ended or is ending
            self._results = -1
        finally:
            self.close()
        if os.getcwd() != self.cwd:
            return None
        import marshal

        try:
            # S302: the bytes come from this process's own fork, through a pipe only the two of them hold
            unique, folders = marshal.loads(data)  # noqa: S302
        except (EOFError, ValueError, TypeError):  # the fork failed (it sent nothing, or not all)
            return None
        return unique, folders

    def close(self) -> None:
        """Reap the fork; one whose walk was not wanted (the command ended early) is stopped first."""
        unwanted = self._results >= 0
        if unwanted:
            os.close(self._results)
            self._results = -1
        if self._pid:
            pid, self._pid = self._pid, 0
            if unwanted:
                import signal  # here: its enums cost ~1 ms of every start

                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


_STEM_EXTENSIONS = frozenset((*CERT_EXTENSIONS, ".key"))  # each is a "." and letters: at most one ends a name
_CERT_SUFFIXES = ("-cert", "_cert", ".cert", "-crt", "_crt", ".crt")  # at most one ends a stem
_STEM_END = re.compile(r"[.\-_]")  # where a name may be cut into a stem and the rest
_KEY_SUFFIXES = (".key", ".key.pem", "-key.pem", "_key.pem", ".pem")


@functools.lru_cache(maxsize=8192)  # asked ~4 times per certificate file (its folder's index, chain, key, client)
def stems(name: str) -> tuple[str, ...]:
    """Stems a neighbour may start with: ``server-cert.pem`` -> ``server-cert``, ``server``."""
    stem = name
    lower = name.lower()
    ext = len(lower) - lower.rfind(".")
    if ext <= len(lower) and lower[-ext:] in _STEM_EXTENSIONS and len(name) > ext:
        stem = name[:-ext]
    lower = stem.lower()
    if lower.endswith(_CERT_SUFFIXES):
        for suffix in _CERT_SUFFIXES:
            if lower.endswith(suffix) and len(stem) > len(suffix):
                return (stem, stem[: -len(suffix)])
    return (stem,)


def _first_certificate(material: Material | None) -> Any:
    """The first parsed certificate block of ``material`` (None: none); no list is built (called per file)."""
    if material is not None:
        for block in material.blocks:
            if block.kind == "certificate" and block.certificate is not None:
                return block
    return None


_UNKNOWN = object()  # Layout.name_roles: not worked out yet (None is a role: no role by name)


def _says_client(name: str) -> bool:
    if "client" not in name.lower():
        return False
    return bool(_CLIENT_TOKENS.intersection(_TOKEN.split(stems(name)[-1].lower())))


class Chain(Record):
    """A certificate's chain file as the layout decided it: ``path`` (None: none), and why not, for messages."""

    _fields = ("path", "note", "contradicted")
    __hash__ = None  # type: ignore[assignment]  # it may change: unhashable, as a dataclass that is not frozen

    path: str | None
    note: str
    contradicted: list[str]  # chain files named after it that did not issue it

    def __init__(self, path: str | None, note: str = "", contradicted: list[str] | None = None) -> None:
        self.path = path
        self.note = note
        self.contradicted = [] if contradicted is None else contradicted


class _Bundle(Record):
    """A policy file's bundle, its paths made relative to the root. Treat as immutable."""

    __slots__ = _fields = ("certificate", "chain", "private_key", "client_ca", "index", "written")
    _compared = _fields[:-1]

    certificate: str
    chain: str | None
    private_key: str | None
    client_ca: str | None
    index: int
    written: dict[str, str]  # the paths as the policy file writes them

    def __init__(
        self,
        certificate: str,
        chain: str | None,
        private_key: str | None,
        client_ca: str | None,
        index: int,
        written: dict[str, str],
    ) -> None:
        self.certificate = certificate
        self.chain = chain
        self.private_key = private_key
        self.client_ca = client_ca
        self.index = index
        self.written = written


class Layout:
    """Files read once, folder listings, roles, and which files belong together (see the module's docstring)."""

    def __init__(
        self,
        policy: Policy,
        root: str,
        vault_password: bytes | str | None,
        read_cache: ReadCache,
        signatures: dict[tuple[bytes, bytes], bool] | None = None,
    ) -> None:
        self.policy = policy
        self.read_cache = read_cache  # the run's: what repeats is read once
        self.root = root
        self.vault_password = vault_password
        self.signatures = signatures if signatures is not None else {}
        self.materials: dict[str, Material | None] = {}
        self.listings: dict[str, list[str]] = {}
        self.folders: dict[str, _Folder] = {}
        self.name_roles: dict[str, str | None] = {}
        self.absolute: dict[str, str] = {}
        self.splits: dict[str, tuple[str, str]] = {}
        self.prefixes: dict[str, str] = {}
        self.cwd = os.getcwd()  # os.path.abspath asks the system for it on every call
        self.chains: dict[str, Chain] = {}
        self.key_files: dict[str, str | None] = {}
        self.clients: dict[str, bool] = {}
        self._first_cas: dict[str, Any] = {}
        self._ca_files: dict[str, bool] = {}
        self.skips: dict[str, str] = {}
        self.locked: set[str] = set()  # skipped vault files: no vault password was given
        self.vault_errors: dict[str, str] = {}  # a vault file the given password does not open
        self.config_errors: list[tuple[str, str]] = []  # (policy file, message): a bundle names a missing file
        self.vaulted: set[str] = set()  # files decrypted from Ansible Vault
        self._bundles_by_member: dict[str, list[tuple[str, _Bundle]]] = {}
        self._bundle_of: dict[str, _Bundle] = {}
        self._bundle_paths: dict[str, str] = {}  # absolute path -> the path to read it by
        self._resolve_bundles()
        # The engine's readers and facts, imported here once (not at module level: see the module's docstring).
        from . import facts, material

        self._read_file = material.read_file
        self._is_ca = facts.is_ca
        self._is_signed_by = facts.is_signed_by

    # --- paths

    def abs(self, path: str) -> str:
        """``os.path.abspath``, remembered for this check."""
        found = self.absolute.get(path)
        if found is None:
            found = self.absolute[path] = os.path.normpath(os.path.join(self.cwd, path))
        return found

    def split(self, path: str) -> tuple[str, str]:
        """``os.path.split``, remembered for this check (a certificate file's pairing asks for it three times:
        ``is_client``, ``chain_for``, ``key_for``)."""
        found = self.splits.get(path)
        if found is None:
            found = self.splits[path] = os.path.split(path)
        return found

    def prefix(self, folder: str) -> str:
        """``os.path.join(folder, "")``, remembered: ``prefix + name`` is ``os.path.join(folder, name)`` for a name
        of the folder, spelled as the caller spells the folder (a finding shows the path so)."""
        found = self.prefixes.get(folder)
        if found is None:
            found = self.prefixes[folder] = os.path.join(folder, "")
        return found

    def relative(self, path: str) -> str:
        absolute = self.abs(path)
        try:
            return os.path.relpath(absolute, self.root).replace(os.sep, "/")
        except ValueError:
            return absolute.replace(os.sep, "/")

    def _shown(self, absolute: str) -> str:
        """A path to show and read a bundle member by: relative to the current folder when it is below it."""
        relative = os.path.relpath(absolute, self.cwd)
        return absolute if relative.startswith(os.pardir) else relative

    # --- reading

    def load(self, path: str) -> Material | None:
        """The material of ``path`` (vault files decrypted); None when it is skipped."""
        key = self.absolute.get(path) or self.abs(path)  # asked ~3 times per file: the common case without a call
        if key in self.materials:
            return self.materials[key]
        material: Material | None = self._read_file(path, self.read_cache, self.policy.max_file_size)
        if material is not None and material.form == "skipped":
            self.skips[key] = material.skip_reason or "not read"
            material = None
        elif material is not None and material.form == "vault":
            material = self._decrypt(path)
        self.materials[key] = material
        return material

    def _decrypt(self, path: str) -> Material | None:
        """Check a vault file as if it were its plain content; skip it without a password."""
        from .material import read_bytes
        from .vault import VaultError, VaultPasswordError, decrypt_vault

        if self.vault_password is None:
            self.skips[self.abs(path)] = "Ansible Vault file: no vault password given"
            self.locked.add(self.abs(path))
            return None
        try:
            plain = decrypt_vault(read_regular(path, self.policy.max_file_size), self.vault_password)
        except InputError as exc:
            self.skips[self.abs(path)] = f"Ansible Vault file: {exc.reason}"
            return None
        except VaultPasswordError:
            self.vault_errors[self.abs(path)] = (
                "the vault password does not open this Ansible Vault file (wrong password, or the file was "
                "encrypted with another vault id's password); fix --vault-password-file or "
                "$ANSIBLE_VAULT_PASSWORD_FILE"
            )
            return None
        except VaultError as exc:
            self.skips[self.abs(path)] = f"Ansible Vault file: {exc}"
            return None
        self.vaulted.add(self.abs(path))
        return read_bytes(plain, path, self.read_cache)

    def listing(self, folder: str) -> list[str]:
        key = self.abs(folder)
        if key not in self.listings:
            try:
                with os.scandir(folder or ".") as entries:  # is_file() as os.path.isfile, mostly without a stat
                    self.listings[key] = sorted(entry.name for entry in entries if entry.is_file())
            except OSError:
                self.listings[key] = []
        return self.listings[key]

    # --- explicit bundles

    def _resolve_bundles(self) -> None:
        bundles = getattr(self.policy, "bundles", ())
        if not bundles:
            return
        source = getattr(self.policy, "source", None)
        base = os.path.dirname(os.path.abspath(source)) if source else self.root
        for index, entry in enumerate(bundles):
            resolved = {
                part: (os.path.normpath(os.path.join(base, value)) if value else None)
                for part, value in (
                    ("certificate", entry.certificate),
                    ("chain", entry.chain),
                    ("private_key", entry.private_key),
                    ("client_ca", entry.client_ca),
                )
            }
            certificate = resolved["certificate"]
            if certificate is None:  # policy.py requires it; a hand-made Policy may not
                continue
            written = {part: getattr(entry, part) for part in resolved if getattr(entry, part)}
            bundle = _Bundle(
                certificate, resolved["chain"], resolved["private_key"], resolved["client_ca"], index, written
            )
            self._bundle_of[certificate] = bundle
            for part, absolute in resolved.items():
                if absolute is not None:
                    self._bundle_paths[absolute] = self._shown(absolute)
                    self._bundles_by_member.setdefault(absolute, []).append((part, bundle))

    def _bundle_member(self, bundle: _Bundle, part: str) -> str | None:
        """The path of a bundle's ``part`` to read; a missing file is a configuration error (exit 2)."""
        absolute = getattr(bundle, part)
        if absolute is None:
            return None
        shown = self._bundle_paths[absolute]
        if not os.path.exists(absolute):
            where = getattr(self.policy, "source", None) or "the policy"
            message = (
                f"bundles[{bundle.index}].{part}: {bundle.written[part]} does not exist; fix the path in the bundle "
                f"of {bundle.written['certificate']} (paths are relative to the policy file's folder)"
            )
            if (where, message) not in self.config_errors:
                self.config_errors.append((where, message))
            return None
        return shown

    def bundle_role(self, path: str) -> str | None:
        """What an explicit bundle says ``path`` is (certificate, chain, private_key, client_ca), if one names it."""
        members = self._bundles_by_member.get(self.abs(path))
        return members[0][0] if members else None

    def _bundle_for(self, cert_path: str) -> _Bundle | None:
        """The explicit bundle whose certificate is ``cert_path`` (no path work when the policy declares none)."""
        return self._bundle_of.get(self.abs(cert_path)) if self._bundle_of else None

    def declared(self, path: str) -> bool:
        """A bundle names ``path`` as its certificate: it is a server certificate, whatever it looks like."""
        return self._bundle_for(path) is not None

    # --- roles

    def name_role(self, path: str, name: str | None = None) -> str | None:
        """``bundle`` (full chain), ``chain`` or None, from the file's name (and the policy's globs); ``name``:
        the file's name when the caller has it."""
        role = self.name_roles.get(path, _UNKNOWN)
        if role is _UNKNOWN:
            role = self.name_roles[path] = self._name_role(path, name)
        return role  # type: ignore[return-value]

    def _name_role(self, path: str, name: str | None = None) -> str | None:
        if self._bundles_by_member:
            explicit = self.bundle_role(path)
            if explicit is not None:
                return {"chain": "chain", "client_ca": "client_ca"}.get(explicit, "") or None
        name = (name if name is not None else os.path.basename(path)).lower()
        if _fullchain_name(name):
            return "bundle"
        if _chain_name(name):
            return "chain"
        if self.policy.chain_files:
            from .policy import path_matches

            relative = self.relative(path)
            if any(path_matches(relative, pattern) for pattern in self.policy.chain_files):
                return "chain"
        return None

    def role(self, path: str, material: Material) -> str:
        by_name = self.name_role(path)
        if by_name is not None:
            return by_name
        has_key = False
        for block in material.blocks:  # a loop, not a set of kinds: asked for every file
            if block.kind == "certificate":
                return "certificate"
            has_key = has_key or block.kind == "private_key"
        return "key" if has_key else "other"

    # --- proof

    def _signed_by(self, cert: Block, issuer: Block) -> bool:
        """``facts.is_signed_by`` of two certificate blocks, once per pair (the check's rules share the verdicts)."""
        key = (cert.der, issuer.der)
        verdict = self.signatures.get(key)
        if verdict is None:
            try:
                verdict = self._is_signed_by(
                    cert.certificate, issuer.certificate, cert.der, issuer.der, issuer.public_key
                )
            except Exception:  # a malformed certificate proves nothing
                verdict = False
            self.signatures[key] = verdict
        return verdict

    def _first_ca(self, material: Material) -> Any:
        """The first CA certificate block of ``material`` (a leaf copied into a chain comes before it), or None."""
        for block in material.certificates:
            try:
                if self._is_ca(block.certificate):
                    return block
            except Exception:  # noqa: S112 - a malformed certificate is not a CA; rules report it
                continue
        return None

    def first_ca(self, path: str) -> Any:
        """The first CA certificate block of the file ``path`` (a leaf copied into a chain comes before it)."""
        key = self.abs(path)
        if key not in self._first_cas:
            material = self.load(path)
            self._first_cas[key] = self._first_ca(material) if material is not None else None
        return self._first_cas[key]

    def issued(self, issuer_path: str, cert_path: str) -> bool:
        """Whether the first CA certificate of ``issuer_path`` verifiably issued ``cert_path``'s first certificate."""
        leaf = _first_certificate(self.load(cert_path))
        if leaf is None:
            return False
        ca = self.first_ca(issuer_path)
        if ca is None or ca.der == leaf.der:
            return False
        return self._signed_by(leaf, ca)

    def ca_file(self, path: str) -> bool:
        """A file whose first certificate is a CA certificate without a server name (a CA file, not a leaf)."""
        key = self.abs(path)
        if key not in self._ca_files:
            self._ca_files[key] = self._is_ca_file(path)
        return self._ca_files[key]

    def _is_ca_file(self, path: str) -> bool:
        from .facts import is_ca, subject_alt_names

        block = _first_certificate(self.load(path))
        if block is None:
            return False
        try:
            first = block.certificate
            if not is_ca(first):  # most files are leaves: one extension read
                return False
            dns, ips = subject_alt_names(first)
            return not (dns or ips)
        except Exception:  # malformed: not a CA file
            return False

    def issuers(self, folder: str) -> list[str]:
        """Files of ``folder`` that may serve as a certificate's chain by proof: chain files holding a CA
        certificate (generic names first), then CA certificate files. Worked out once per folder."""
        index = self.folder(folder)
        if index.issuers is None:
            generic = set(index.generic_chains)
            ordered = index.generic_chains + [c for c in index.chains if c not in generic] + index.cert_files
            index.issuers = []
            prefix = self.prefix(folder)
            for name in ordered:
                path = prefix + name
                if not self._guessable(path):
                    continue
                if (name in index.chain_names and self.first_ca(path) is not None) or (
                    name not in index.chain_names and self.ca_file(path)
                ):
                    index.issuers.append(name)
        return index.issuers

    # --- neighbours

    def folder(self, folder: str) -> _Folder:
        key = self.abs(folder)
        index = self.folders.get(key)
        if index is None:
            index = self.folders[key] = _Folder(folder, self.listing(folder), self.name_role)
        return index

    def is_client(self, path: str, material: Material) -> bool:
        """Whether the certificate file ``path`` holds a client certificate (see the module's docstring)."""
        key = self.abs(path)
        if key not in self.clients:
            self.clients[key] = self._is_client(path, material)
        return self.clients[key]

    def _is_client(self, path: str, material: Material) -> bool:
        first = _first_certificate(material)
        if first is None or self.declared(path):
            return False
        folder, name = self.split(path)
        if _says_client(name):
            return True
        for bundle in self._bundle_of.values():
            if bundle.client_ca is not None:
                client_ca = self._bundle_member(bundle, "client_ca")
                if client_ca is not None and self.issued(client_ca, path):
                    return True
        index = self.folder(folder)
        for candidate in index.client_cas:
            other = self.prefix(folder) + candidate
            if candidate != name and self._guessable(other) and self.ca_file(other) and self.issued(other, path):
                return True
        return False

    def _guessable(self, path: str) -> bool:
        """A file no bundle names: only those are paired by name or proof."""
        return not self._bundles_by_member or self.abs(path) not in self._bundles_by_member

    def chain_for(self, cert_path: str) -> Chain:
        """The chain file of the certificate file ``cert_path`` (which holds no chain of its own)."""
        key = self.abs(cert_path)
        if key not in self.chains:
            self.chains[key] = self._chain_for(cert_path)
        return self.chains[key]

    def _chain_for(self, cert_path: str) -> Chain:
        bundle = self._bundle_for(cert_path)
        if bundle is not None:
            chain = self._bundle_member(bundle, "chain")
            if chain is None and bundle.chain is None:
                return Chain(None, " (its bundle in the policy file names no chain)")
            return Chain(chain, "" if chain else " (the chain its bundle names does not exist)")
        folder, name = self.split(cert_path)
        index = self.folder(folder)
        prefix = self.prefix(folder)
        contradicted: list[str] = []
        for candidate in self._named_chains(index, name):
            path = prefix + candidate
            if not self._guessable(path):
                continue
            if self.issued(path, cert_path):
                return Chain(path)
            if candidate in index.chain_names:  # a CA file named x-ca.crt is only a CA file: no finding of its own
                contradicted.append(path)
        for candidate in self.issuers(folder):
            path = prefix + candidate
            if candidate != name and path not in contradicted and self.issued(path, cert_path):
                return Chain(path, contradicted=contradicted)
        stem = stems(name)[-1]
        misplaced = self._issuer_not_first(folder, name, cert_path)
        if misplaced:
            note = f" ({misplaced} holds its issuer, but not first: put the CA that issued it first in the chain)"
        elif contradicted:
            named = ", ".join(os.path.basename(p) for p in contradicted)
            note = f" ({named} is named after it, but its first CA certificate did not issue it)"
        else:
            note = (
                f" (no chain in the file, no chain file named after it such as {stem}.chain.pem, and no CA "
                "certificate or chain file beside it whose key signed it)"
            )
        return Chain(None, note, contradicted)

    def _issuer_not_first(self, folder: str, name: str, cert_path: str) -> str | None:
        """A chain file of the folder that holds the certificate's issuer after another CA (for messages)."""
        from .facts import is_ca

        leaf = _first_certificate(self.load(cert_path))
        if leaf is None:
            return None
        index = self.folder(folder)
        prefix = self.prefix(folder)
        for candidate in index.generic_chains + [c for c in index.chains if c not in index.generic_chains]:
            path = prefix + candidate
            chain = self.load(path) if candidate != name and self._guessable(path) else None
            for block in (chain.certificates if chain is not None else [])[1:]:
                try:
                    ca = bool(is_ca(block.certificate))
                except Exception:  # a malformed certificate is no issuer
                    ca = False
                if ca and block.der != leaf.der and self._signed_by(leaf, block):
                    return path
        return None

    @staticmethod
    def _named_chains(index: _Folder, name: str) -> list[str]:
        """Chain files and the seed's CA files named after the certificate ``name``, best first."""
        found: list[str] = []
        # Plain loops, not comprehensions: asked for every certificate file, and most lists here are empty.
        for stem in stems(name):
            for candidate in index.chain_by_prefix.get(stem, ()):
                if candidate != name and candidate not in found:
                    found.append(candidate)
            for suffix in _CA_SUFFIXES:
                for candidate in index.cert_by_stem.get(stem + suffix, ()):
                    if candidate != name and candidate not in found:
                        found.append(candidate)
        return found

    def key_for(self, cert_path: str) -> str | None:
        key = self.abs(cert_path)
        if key not in self.key_files:
            self.key_files[key] = self._key_for(cert_path)
        return self.key_files[key]

    def _key_for(self, cert_path: str) -> str | None:
        bundle = self._bundle_for(cert_path)
        if bundle is not None:
            return self._bundle_member(bundle, "private_key")
        folder, name = self.split(cert_path)
        present = self.folder(folder).present
        candidates: list[str] = []
        for stem in stems(name):
            candidates += [stem + suffix for suffix in _KEY_SUFFIXES]
        if name.lower() in ("cert.pem", "fullchain.pem"):
            candidates.append("privkey.pem")
        for candidate in candidates:
            if candidate == name or candidate not in present:
                continue
            path = self.prefix(folder) + candidate
            if not self._guessable(path):
                continue
            material = self.load(path)
            if material is not None and material.private_keys and not material.certificates:
                return path
        return None

    def client_ca_for(self, cert_path: str) -> str | None:
        """The client CA an explicit bundle gives the certificate (two-way TLS); None: one-way or not said."""
        bundle = self._bundle_for(cert_path)
        return self._bundle_member(bundle, "client_ca") if bundle is not None else None

    def two_way(self, cert_path: str) -> bool:
        bundle = self._bundle_for(cert_path)
        return bundle is not None and bundle.client_ca is not None

    def _bundle_users(self, path: str, part: str) -> list[str] | None:
        """Certificates whose bundle names ``path`` as its ``part``; None when no bundle names the file."""
        members = self._bundles_by_member.get(self.abs(path)) if self._bundles_by_member else None
        if not members:
            return None
        return [self._bundle_paths[bundle.certificate] for kind, bundle in members if kind == part]

    def certs_using_chain(self, chain_path: str) -> list[tuple[str, bool]]:
        """Certificate files paired with the chain file (or CA file) ``chain_path`` (True), or named after it
        but not issued by it (False)."""
        explicit = self._bundle_users(chain_path, "chain")
        if explicit is not None:
            return [(path, True) for path in explicit if os.path.exists(path)]
        folder = self.split(chain_path)[0]
        index = self.folder(folder)
        if index.users is None:
            # Every certificate file of the folder, paired once: the reverse of chain_for.
            index.users = {}
            prefix = self.prefix(folder)
            for name in index.cert_files:
                path = prefix + name
                material = self.load(path) if self._guessable(path) else None
                # A file with its chain inside takes no chain file (a CA file's "chain" is never used: harmless).
                if material is None or sum(block.kind == "certificate" for block in material.blocks) != 1:
                    continue
                found = self.chain_for(path)
                if found.path is not None:
                    index.users.setdefault(self.abs(found.path), []).append((path, True))
                for other in found.contradicted:
                    index.users.setdefault(self.abs(other), []).append((path, False))
        return list(index.users.get(self.abs(chain_path), []))

    def certs_using_key(self, key_path: str) -> list[str]:
        """Certificate files whose private key file is ``key_path``."""
        explicit = self._bundle_users(key_path, "private_key")
        if explicit is not None:
            return [path for path in explicit if os.path.exists(path)]
        folder = self.split(key_path)[0]
        index = self.folder(folder)
        if index.key_users is None:
            # Every certificate file of the folder, its key found once: the reverse of key_for (which the
            # certificates' sets ask for anyway).
            index.key_users = {}
            prefix = self.prefix(folder)
            for candidate in index.cert_files:
                found = self.key_for(prefix + candidate)
                if found is not None:
                    index.key_users.setdefault(self.abs(found), []).append(prefix + candidate)
        return list(index.key_users.get(self.abs(key_path), []))

    def certs_using_client_ca(self, path: str) -> list[str]:
        """Certificate files whose bundle names ``path`` as the client CA."""
        explicit = self._bundle_users(path, "client_ca")
        return [p for p in explicit or [] if os.path.exists(p)]


class _Folder:
    """Name indexes of one folder, built once: chain files by stem prefix, certificate files by stem."""

    def __init__(self, folder: str, names: list[str], name_role: Any) -> None:
        self.present = set(names)
        prefix = os.path.join(folder, "")  # prefix + name == os.path.join(folder, name), without a call per name
        self.chain_by_prefix: dict[str, list[str]] = {}
        self.generic_chains: list[str] = []
        self.chain_names: set[str] = set()
        self.chains: list[str] = []
        self.cert_files: list[str] = []
        self.cert_by_stem: dict[str, list[str]] = {}
        self.client_cas: list[str] = []
        for name in names:
            role = name_role(prefix + name, name)
            if role == "chain":
                self.chains.append(name)
                self.chain_names.add(name)
                if name.lower().startswith(GENERIC_CHAIN_PREFIXES):
                    self.generic_chains.append(name)
                for match in _STEM_END.finditer(name, 1):
                    self.chain_by_prefix.setdefault(name[: match.start()], []).append(name)
            elif name.lower().endswith(CERT_EXTENSIONS):
                self.cert_files.append(name)
                for stem in stems(name):
                    self.cert_by_stem.setdefault(stem, []).append(name)
                if _says_client(name):
                    self.client_cas.append(name)
        self.issuers: list[str] | None = None  # Layout.issuers
        self.users: dict[str, list[tuple[str, bool]]] | None = None  # Layout.certs_using_chain
        self.key_users: dict[str, list[str]] | None = None  # Layout.certs_using_key: by the key's absolute path


__all__ = [
    "CERT_EXTENSIONS",
    "CHAIN_PATTERNS",
    "FULLCHAIN_PATTERNS",
    "WALK_EXTENSIONS",
    "Chain",
    "Layout",
    "expand_paths",
    "is_candidate",
    "stems",
]
