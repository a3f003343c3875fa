# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the rule catalog on material: what the caller hands over, or files in a repository.

``check_material`` checks one TLS configuration as a deployment would receive it
(certificate, chain, private key, client CA). ``check_paths`` checks files and
folders of a repository; it works out what each file is:

- *chain files* by name: ``*chain*``, ``*bundle*``, ``*intermediate*`` and the
  policy's ``chain_files`` globs; *full-chain files* (``*fullchain*``,
  ``*full-chain*``, ``*full_chain*``) legitimately hold the leaf followed by its
  chain; any other file holding certificates is a *certificate file*: its first
  certificate is the server certificate (unless it is a CA certificate without a
  server name: then the file is a CA file).
- a certificate file's *chain*: the certificates after the first one in the same
  file; else a chain file in the same folder named after it (``x.crt`` ->
  ``x.chain.pem``, ``x-chain.pem``, ``x_bundle.crt`` ...: the name starts with the
  stem and a ``.``/``-``/``_``); else the one generic chain file of the folder
  (``chain.pem``, ``ca-bundle.crt``, ``intermediate.pem`` ...); else the folder's
  only chain file.
- a certificate file's *private key*: keys in the same file; else the first of
  ``x.key``, ``x.key.pem``, ``x-key.pem``, ``x_key.pem``, ``x.pem`` that holds a key
  (``x`` is the stem without a ``-cert``/``_cert``/``.cert`` ending), and
  ``privkey.pem`` for certbot's ``cert.pem``/``fullchain.pem``.

Neighbours are read from disk even when they were not named (a pre-commit hook
gets only the changed files); file rules run only on the named files. Each file
is read and parsed once.
"""

from __future__ import annotations

import contextlib
import datetime
import fnmatch
import gc
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .facts import describe_certificate, is_ca, key_info, subject_alt_names
from .findings import ERROR, WARNING, Finding
from .inputs import InputError, read_head, read_regular
from .material import Block, EncodingProblem, Material, ReadCache, read_bytes, read_file
from .policy import Policy, load_policy
from .rules import (
    CA,
    CERTIFICATES,
    CHAIN,
    CLIENT_CA,
    FILE,
    LEAF,
    PRIVATE_KEYS,
    RULES,
    SET,
    CertRef,
    FileContext,
    Hit,
    Rule,
    SetContext,
)
from .vault import VaultError, decrypt_vault

REPORT_VERSION = 1

# Files a folder walk picks up (files named explicitly are always checked).
CERT_EXTENSIONS = (".crt", ".cer", ".cert", ".pem", ".der")
WALK_EXTENSIONS = (*CERT_EXTENSIONS, ".key", ".chain", ".csr", ".req", ".p12", ".pfx", ".ca-bundle", ".p7b")
CHAIN_PATTERNS = ("*chain*", "*bundle*", "*intermediate*")
FULLCHAIN_PATTERNS = ("*fullchain*", "*full-chain*", "*full_chain*")
GENERIC_CHAIN_PREFIXES = ("chain", "ca-bundle", "ca_bundle", "cabundle", "bundle", "intermediate")
_SKIP_DIRS = frozenset({"__pycache__", "node_modules"})


def _name_matcher(patterns: Sequence[str]) -> Callable[[str], object]:
    """A test of a (lower-case) file name against fnmatch patterns. Patterns of the form ``*text*`` become one
    search for any of the texts: fnmatch's ``.*text.*`` regexes backtrack over the name once per pattern."""
    texts = [p[1:-1] for p in patterns if len(p) > 2 and p[0] == p[-1] == "*" and not set(p[1:-1]) & set("*?[]")]
    if len(texts) == len(patterns):
        return re.compile("|".join(re.escape(text) for text in texts)).search
    return re.compile("|".join(fnmatch.translate(p) for p in patterns)).match


_fullchain_name = _name_matcher(FULLCHAIN_PATTERNS)
_chain_name = _name_matcher(CHAIN_PATTERNS)


@dataclass
class Report:
    """What a check found."""

    findings: list[Finding] = field(default_factory=list)
    files_checked: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    profile: str = "seed"
    root: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # check_material: facts of the server certificate

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    def failed(self, fail_on: str = "error") -> bool:
        """True when a finding reaches ``fail_on`` (``error``: errors only; ``warning``: any finding)."""
        if fail_on not in (ERROR, WARNING):
            raise ValueError(f"fail_on must be '{ERROR}' or '{WARNING}', not {fail_on!r}")
        return bool(self.errors) if fail_on == ERROR else bool(self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "profile": self.profile,
            "summary": {
                "files_checked": len(self.files_checked),
                "errors": len(self.errors),
                "warnings": len(self.warnings),
                "skipped": len(self.skipped),
            },
            "files_checked": list(self.files_checked),
            "skipped": [{"path": path, "reason": reason} for path, reason in self.skipped],
            "findings": [f.as_dict() for f in self.findings],
        }


# ------------------------------------------------------------------ the engine


class _Run:
    """One check: the policy, the rules to run, and the findings so far."""

    def __init__(self, policy: Policy, rules: Iterable[str] | None, now: datetime.datetime | None, root: str) -> None:
        self.policy = policy
        self.now = now or datetime.datetime.now(datetime.timezone.utc)
        self.root = root
        wanted = set(rules) if rules is not None else None
        unknown = sorted(wanted - set(RULES)) if wanted is not None else []
        if unknown:
            raise ValueError(f"unknown rule id(s): {', '.join(unknown)}; see `certhygiene rules`")
        # The caller's ``rules`` (a hook's) run even when opt-in, unless the policy switched them off.
        self.rules = [
            r
            for r in RULES.values()
            if (
                policy.enabled(r.id, r.default_on) if wanted is None else r.id in wanted and r.id not in policy.disabled
            )
        ]
        self.file_rules = [r for r in self.rules if r.scope == FILE]
        self.set_rules = [r for r in self.rules if r.scope == SET]
        # The file rules worth calling, by (the file has certificates, the file has private keys): see Rule.needs.
        self.file_rules_for = {
            (certs, keys): [
                r for r in self.file_rules if (r.needs != CERTIFICATES or certs) and (r.needs != PRIVATE_KEYS or keys)
            ]
            for certs in (False, True)
            for keys in (False, True)
        }
        self.findings: dict[tuple[str, str, int, str], Finding] = {}
        self.seen: dict[str, Material] = {}
        # Work done once per check for what repeats across files (a chain's CA certificates, a chain file, stand
        # in many folders): files and certificates read (ReadCache), _vet's verdicts by DER, signature verdicts
        # (SetContext.signatures).
        self.read_cache = ReadCache()
        self.vetted: dict[bytes, str | None] = {}
        self.signatures: dict[tuple[bytes, bytes], bool] = {}
        # A certificate file's refs are wanted by its file rules and again as the leaf or chain of a set. The key is
        # id(material); the material is kept in the value, so the id cannot be reused while the run lives.
        self.refs: dict[tuple[int, str, bool], tuple[Material, list[CertRef]]] = {}

    def cert_refs(self, material: Material, role: str, declared: bool = False) -> list[CertRef]:
        """The material's certificates with their positions (``_cert_refs``), worked out once per role."""
        key = (id(material), role, declared)
        found = self.refs.get(key)
        if found is None or found[0] is not material:
            found = self.refs[key] = (material, _cert_refs(material, role, declared, self.vetted))
        return found[1]

    def saw(self, material: Material) -> None:
        """Remember the material of each path, for the findings' line ranges."""
        self.seen[material.path] = material

    def end_line(self, path: str, line: int) -> int:
        material = self.seen.get(path)
        return material.end_line_of(line) if material is not None else line

    def run(self, scope: str, ctx: FileContext | SetContext, keep: Any = None) -> None:
        if isinstance(ctx, FileContext):
            self.saw(ctx.material)
        else:
            for ref in ([ctx.leaf] if ctx.leaf else []) + ctx.chain:
                self.saw(ref.material)
            for material, _block in ctx.keys:
                self.saw(material)
        if scope == FILE and isinstance(ctx, FileContext):
            rules = self.file_rules_for[(bool(ctx.certs), ctx.material.has_private_key)]
        else:
            rules = self.file_rules if scope == FILE else self.set_rules
        for rule in rules:
            try:
                hits = list(rule.check(ctx))
            except Exception as exc:  # a rule must not take the check down; report instead
                where = ctx.path if isinstance(ctx, FileContext) else (ctx.leaf.path if ctx.leaf else "")
                hits = [Hit(f"could not be checked: the content is malformed ({type(exc).__name__})", where)]
            for hit in hits:
                if keep is not None and not keep(rule, hit):
                    continue
                self.add(rule, hit)

    def add(self, rule: Rule, hit: Hit) -> None:
        if self.policy.ignored(rule.id, self.relative(hit.path)):
            return
        subject = serial = None
        if hit.cert is not None:
            try:
                subject = str(hit.cert.subject.rfc4514_string())
                serial = f"0x{hit.cert.serial_number:x}"
            except Exception:  # noqa: S110 - a malformed name: the finding stands without it
                pass
        finding = Finding(
            rule_id=rule.id,
            severity=self.policy.severity_of(rule.id, hit.severity or rule.severity),
            path=hit.path,
            message=hit.message,
            hint=hit.hint or rule.hint,
            line=hit.line,
            subject=subject,
            serial=serial,
            end_line=self.end_line(hit.path, hit.line),
        )
        self.findings.setdefault((rule.id, hit.path, hit.line, hit.message), finding)

    def relative(self, path: str) -> str:
        if os.path.isabs(path):
            try:
                path = os.path.relpath(path, self.root)
            except ValueError:
                return path.replace(os.sep, "/")
        return path.replace(os.sep, "/")

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings.values(), key=lambda f: (f.path, f.line, f.rule_id, f.message))


_VETTED = "_certhygiene_vetted"


def _vet(material: Material, vetted: dict[bytes, str | None]) -> None:
    """Parse every certificate's fields once, now: cryptography parses lazily, and a certificate whose version,
    dates, extensions or key cannot be read is a ``pem.encoding`` problem, not a crash in a later rule. (Names
    are read lazily, and only when needed: building them costs more than the rest; rules cope with bad names.)
    ``vetted``: the verdict of each DER seen in this check (None: usable), so a copy is not vetted again."""
    if getattr(material, _VETTED, False):
        return
    setattr(material, _VETTED, True)
    for block in material.blocks:
        if block.certificate is None:
            continue
        if block.der in vetted:
            reason = vetted[block.der]
        else:
            reason = vetted[block.der] = _unusable(block)
        if reason is not None:
            block.certificate = None
            block.public_key = None
            block.parse_error = reason
            material.problems.append(
                EncodingProblem(block.start_line, f"the {block.label} block cannot be parsed: {reason}")
            )


def _unusable(block: Block) -> str | None:
    """Why the block's certificate cannot be used (None: it can)."""
    cert = block.certificate
    try:
        fields = (cert.version, cert.serial_number, cert.not_valid_before_utc, cert.not_valid_after_utc)
        del fields
        list(cert.extensions)
        key_info(block.public_key if block.public_key is not None else cert.public_key())
    except Exception as exc:  # whatever cryptography raises, the certificate is unusable
        return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
    return None


def _cert_refs(material: Material, role: str, declared: bool, vetted: dict[bytes, str | None]) -> list[CertRef]:
    _vet(material, vetted)
    blocks = material.certificates
    refs: list[CertRef] = []
    for index, block in enumerate(blocks):
        if role == "chain":
            position = CHAIN
        elif role == "client_ca":
            position = CLIENT_CA
        elif index > 0:
            position = CHAIN
        elif declared or role == "bundle" or not _is_ca_file_cert(block.certificate):
            position = LEAF
        else:
            position = CA
        refs.append(CertRef(material, block, position))
    return refs


def _is_ca_file_cert(cert: Any) -> bool:
    """A CA certificate that is not also used as a server certificate (it names no host in subjectAltName)."""
    try:
        if not is_ca(cert):
            return False
        dns, ips = subject_alt_names(cert)
        return not (dns or ips)
    except Exception:  # malformed: treat as a server certificate, the rules report it
        return False


# ------------------------------------------------------------------ check_material


def check_material(
    *,
    certificate: bytes | None,
    chain: bytes | None = None,
    private_key: bytes | None = None,
    client_ca: bytes | None = None,
    auth_type: str = "one-way",
    policy: Policy | None = None,
    names: Mapping[str, str] | None = None,
    rules: Iterable[str] | None = None,
    now: datetime.datetime | None = None,
) -> Report:
    """Check one TLS configuration: server certificate, chain, private key and (two-way) client CA.

    ``names`` gives the display names findings use for each input (default: the
    input's name, e.g. ``certificate``); pass file paths when the content came from files.
    """
    if auth_type not in ("one-way", "two-way"):
        raise ValueError(f"auth_type must be 'one-way' or 'two-way', not {auth_type!r}")
    policy = policy or load_policy(discover=False)
    shown = {"certificate": "certificate", "chain": "chain", "private_key": "private_key", "client_ca": "client_ca"}
    shown.update(names or {})
    run = _Run(policy, rules, now, os.getcwd())
    report = Report(profile=policy.profile)

    def read(data: bytes | None, key: str, role: str) -> tuple[Material | None, list[CertRef]]:
        if data is None:
            return None, []
        material = read_bytes(bytes(data), shown[key], run.read_cache)
        refs = run.cert_refs(material, role, declared=True)
        report.files_checked.append(shown[key])
        run.run(FILE, FileContext(material, role, refs, policy, run.now, declared=True))
        return material, refs

    cert_m, cert_refs = read(certificate, "certificate", "certificate")
    chain_m, chain_refs = read(chain, "chain", "chain")
    key_m, _key_refs = read(private_key, "private_key", "key")
    ca_m, _ca_refs = read(client_ca, "client_ca", "client_ca")

    leaf = cert_refs[0] if cert_refs else None
    chain_set = chain_refs if chain_m is not None and chain_refs else cert_refs[1:]
    note = "" if chain_m is None else " (the chain input holds no certificate)"
    ctx = SetContext(
        policy,
        run.now,
        leaf=leaf,
        server=True,
        chain=chain_set,
        chain_note=note or " (no chain was given)",
        keys=[(key_m, b) for b in key_m.private_keys] if key_m is not None else [],
        client_ca=ca_m,
        client_ca_name=shown["client_ca"],
        two_way=auth_type == "two-way",
        check_client_ca=True,
        signatures=run.signatures,
    )
    if cert_m is not None and not ctx.keys:
        ctx.keys = [(cert_m, b) for b in cert_m.private_keys]
    run.run(SET, ctx)
    if leaf is not None:
        try:
            report.facts = describe_certificate(leaf.cert, run.now)
        except Exception:  # malformed certificate: no facts, the findings say why
            report.facts = {}
    report.findings = run.sorted_findings()
    return report


# ------------------------------------------------------------------ check_paths


class _Repo:
    """Files read once, folder listings, and name-based roles."""

    def __init__(
        self,
        policy: Policy,
        root: str,
        vault_password: bytes | str | None,
        report: Report,
        read_cache: ReadCache,
    ) -> None:
        self.policy = policy
        self.read_cache = read_cache  # the run's: what repeats is read once
        self.root = root
        self.vault_password = vault_password
        self.report = report
        self.materials: dict[str, Material | None] = {}
        self.listings: dict[str, list[str]] = {}
        self.folders: dict[str, _Folder] = {}
        self.name_roles: dict[str, str | None] = {}
        self.absolute: dict[str, str] = {}
        self.cwd = os.getcwd()  # os.path.abspath asks the system for it on every call
        # Neighbours by certificate path: certs_using_chain/certs_using_key resolve a certificate's chain and key
        # file to find who uses a chain or key file, and _check_set asks again for the same certificate.
        self.chain_files: dict[str, str | None] = {}
        self.key_files: dict[str, str | None] = {}
        self.skips: dict[str, str] = {}
        self.vaulted: set[str] = set()  # files decrypted from Ansible Vault

    def abs(self, path: str) -> str:
        """``os.path.abspath``, remembered for this check."""
        found = self.absolute.get(path)
        if found is None:
            found = self.absolute[path] = os.path.normpath(os.path.join(self.cwd, path))
        return found

    # --- reading

    def load(self, path: str) -> Material | None:
        """The material of ``path`` (vault files decrypted); None when it is skipped."""
        key = self.abs(path)
        if key in self.materials:
            return self.materials[key]
        material: Material | None = read_file(path, self.read_cache, self.policy.max_file_size)
        if material is not None and material.form == "skipped":
            self.skips[key] = material.skip_reason or "not read"
            material = None
        elif material is not None and material.form == "vault":
            material = self._decrypt(path)
        self.materials[key] = material
        return material

    def _decrypt(self, path: str) -> Material | None:
        """Check a vault file as if it were its plain content; skip it without a password."""
        if self.vault_password is None:
            self.skips[self.abs(path)] = "Ansible Vault file: no vault password given"
            return None
        try:
            plain = decrypt_vault(read_regular(path, self.policy.max_file_size), self.vault_password)
        except InputError as exc:
            self.skips[self.abs(path)] = f"Ansible Vault file: {exc.reason}"
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

    # --- roles

    def relative(self, path: str) -> str:
        absolute = self.abs(path)
        try:
            return os.path.relpath(absolute, self.root).replace(os.sep, "/")
        except ValueError:
            return absolute.replace(os.sep, "/")

    def name_role(self, path: str) -> str | None:
        """``bundle`` (full chain), ``chain`` or None, from the file's name (and the policy's globs)."""
        if path not in self.name_roles:
            self.name_roles[path] = self._name_role(path)
        return self.name_roles[path]

    def _name_role(self, path: str) -> str | None:
        name = os.path.basename(path).lower()
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
        kinds = {block.kind for block in material.blocks}
        if "certificate" in kinds:
            return "certificate"
        return "key" if "private_key" in kinds else "other"

    # --- neighbours

    def folder(self, folder: str) -> _Folder:
        key = self.abs(folder)
        if key not in self.folders:
            self.folders[key] = _Folder(folder, self.listing(folder), self.name_role)
        return self.folders[key]

    def chain_file_for(self, cert_path: str) -> str | None:
        if cert_path not in self.chain_files:
            self.chain_files[cert_path] = self._chain_file_for(cert_path)
        return self.chain_files[cert_path]

    def _chain_file_for(self, cert_path: str) -> str | None:
        folder, name = os.path.split(cert_path)
        index = self.folder(folder)
        for stem in _stems(name):
            candidates = [c for c in index.chain_by_prefix.get(stem, []) if c != name]
            if candidates:
                return os.path.join(folder, candidates[0])
        if len(index.generic_chains) == 1 and index.generic_chains[0] != name:
            return os.path.join(folder, index.generic_chains[0])
        if index.shared_chain is not None and index.shared_chain != name:
            return os.path.join(folder, index.shared_chain)
        return None

    def key_file_for(self, cert_path: str) -> str | None:
        if cert_path not in self.key_files:
            self.key_files[cert_path] = self._key_file_for(cert_path)
        return self.key_files[cert_path]

    def _key_file_for(self, cert_path: str) -> str | None:
        folder, name = os.path.split(cert_path)
        present = self.folder(folder).present
        candidates: list[str] = []
        for stem in _stems(name):
            candidates += [stem + suffix for suffix in _KEY_SUFFIXES]
        if name.lower() in ("cert.pem", "fullchain.pem"):
            candidates.append("privkey.pem")
        for candidate in candidates:
            if candidate == name or candidate not in present:
                continue
            path = os.path.join(folder, candidate)
            material = self.load(path)
            if material is not None and material.private_keys and not material.certificates:
                return path
        return None

    def certs_using_chain(self, chain_path: str) -> list[str]:
        """Certificate files whose chain file is ``chain_path``."""
        folder, name = os.path.split(chain_path)
        index = self.folder(folder)
        if name in index.generic_chains or name == index.shared_chain:
            candidates = index.cert_files
        else:
            candidates = sorted(
                {c for cut in _STEM_END.finditer(name, 1) for c in index.cert_by_stem.get(name[: cut.start()], [])}
            )
        target = self.abs(chain_path)
        out = []
        for candidate in candidates:
            path = os.path.join(folder, candidate)
            found = self.chain_file_for(path)
            if found is not None and self.abs(found) == target:
                out.append(path)
        return out

    def certs_using_key(self, key_path: str) -> list[str]:
        """Certificate files whose private key file is ``key_path``."""
        folder, name = os.path.split(key_path)
        index = self.folder(folder)
        stems = [name[: -len(suffix)] for suffix in _KEY_SUFFIXES if name.endswith(suffix) and len(name) > len(suffix)]
        candidates = sorted({c for stem in stems for c in index.cert_by_stem.get(stem, [])})
        if name == "privkey.pem":
            candidates += [c for c in ("cert.pem", "fullchain.pem") if c in index.present]
        target = self.abs(key_path)
        out = []
        for candidate in candidates:
            if candidate == name:
                continue
            path = os.path.join(folder, candidate)
            found = self.key_file_for(path)
            if found is not None and self.abs(found) == target:
                out.append(path)
        return out


_KEY_SUFFIXES = (".key", ".key.pem", "-key.pem", "_key.pem", ".pem")


class _Folder:
    """Name indexes of one folder, built once: chain files by stem prefix, certificate files by stem."""

    def __init__(self, folder: str, names: list[str], name_role: Any) -> None:
        self.present = set(names)
        prefix = os.path.join(folder, "")  # prefix + name == os.path.join(folder, name), without a call per name
        self.chain_by_prefix: dict[str, list[str]] = {}
        self.generic_chains: list[str] = []
        self.chains: list[str] = []
        self.cert_files: list[str] = []
        self.cert_by_stem: dict[str, list[str]] = {}
        for name in names:
            role = name_role(prefix + name)
            if role == "chain":
                self.chains.append(name)
                if name.lower().startswith(GENERIC_CHAIN_PREFIXES):
                    self.generic_chains.append(name)
                for match in _STEM_END.finditer(name, 1):
                    self.chain_by_prefix.setdefault(name[: match.start()], []).append(name)
            elif name.lower().endswith(CERT_EXTENSIONS):
                self.cert_files.append(name)
                for stem in _stems(name):
                    self.cert_by_stem.setdefault(stem, []).append(name)
        # The folder's only chain file serves every certificate in it, unless it is named after one of them
        # (cloud.chain.pem belongs to cloud.crt, not to the client certificates beside it).
        self.shared_chain: str | None = None
        if len(self.chains) == 1:
            only = self.chains[0]
            if not any(self.cert_by_stem.get(only[: cut.start()]) for cut in _STEM_END.finditer(only, 1)):
                self.shared_chain = only


_STEM_EXTENSIONS = frozenset((*CERT_EXTENSIONS, ".key"))  # each is a "." and letters: at most one ends a name
_CERT_SUFFIXES = ("-cert", "_cert", ".cert", "-crt", "_crt", ".crt")  # at most one ends a stem
_STEM_END = re.compile(r"[.\-_]")  # where a name may be cut into a stem and the rest


def _stems(name: str) -> list[str]:
    """Stems a neighbour may start with: ``server-cert.pem`` -> ``server-cert``, ``server``."""
    stem = name
    lower = name.lower()
    ext = len(lower) - lower.rfind(".")
    if ext <= len(lower) and lower[-ext:] in _STEM_EXTENSIONS and len(name) > ext:
        stem = name[:-ext]
    stems = [stem]
    lower = stem.lower()
    if lower.endswith(_CERT_SUFFIXES):
        for suffix in _CERT_SUFFIXES:
            if lower.endswith(suffix) and len(stem) > len(suffix):
                stems.append(stem[: -len(suffix)])
                break
    return stems


_SNIFF_LIMIT = 1 << 20  # larger files without a certificate extension are not certificates


def _starts_with_pem(path: str) -> bool:
    """A file whose name says nothing (``server_cert``, ``tls.txt``) but whose content opens with PEM armour.

    Only the opening counts: documentation that quotes a PEM block further down is not material."""
    try:
        if os.path.getsize(path) > _SNIFF_LIMIT:
            return False
    except OSError:
        return False
    head = read_head(path, 64)  # a FIFO or device is never opened for reading
    return head is not None and head.lstrip().startswith(b"-----BEGIN ")


def _expand(paths: Iterable[str]) -> list[str]:
    """Files named explicitly, and cert-like files (by extension or PEM content) under the folders named,
    sorted per folder."""
    return list(_expand_absolute(paths))


def _expand_absolute(paths: Iterable[str]) -> dict[str, str]:
    """``_expand``'s files (in order), each with its absolute path (which the walk works out anyway)."""
    out: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found = []
            for folder, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
                prefix = os.path.join(folder, "")  # prefix + name == os.path.join(folder, name)
                for name in files:
                    lower = name.lower()
                    if lower.endswith(WALK_EXTENSIONS) or "chain" in lower or _starts_with_pem(prefix + name):
                        found.append(prefix + name)
            out.extend(sorted(found))
        else:
            out.append(path)
    seen: set[str] = set()
    unique: dict[str, str] = {}
    cwd = os.getcwd()
    for path in out:
        key = os.path.normpath(os.path.join(cwd, path))  # os.path.abspath, without a getcwd() per path
        if key not in seen:
            seen.add(key)
            unique[os.path.normpath(path)] = key
    return unique


def check_paths(
    paths: Sequence[str] | Iterable[str],
    policy: Policy | None = None,
    *,
    root: str | None = None,
    rules: Iterable[str] | None = None,
    vault_password: bytes | str | None = None,
    now: datetime.datetime | None = None,
) -> Report:
    """Check files and folders (folders: every cert-like file under them, hidden folders left out).

    ``root`` (default: the current folder) is what ignore globs and SARIF paths are
    relative to. ``rules`` limits the check to these rule ids (the hooks use it).
    Ansible Vault files are decrypted in memory with ``vault_password``; without it
    they are skipped and listed in ``Report.skipped``.
    """
    with warnings.catch_warnings(), _no_cyclic_gc():
        warnings.simplefilter("ignore")  # cryptography's deprecation notes about odd certificates: not for users
        return _check_paths(list(paths), policy, root, rules, vault_password, now)


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector during a check, as mypy and other batch tools do. A check keeps
    every file's material to the end and makes no reference cycles; the collector would walk that growing heap
    again and again (5-10% of a large check's time). Reference counting still frees everything."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check_paths(
    paths: list[str],
    policy: Policy | None,
    root: str | None,
    rules: Iterable[str] | None,
    vault_password: bytes | str | None,
    now: datetime.datetime | None,
) -> Report:
    policy = policy or load_policy(root=root)
    root = os.path.abspath(root or os.getcwd())
    report = Report(profile=policy.profile, root=root)
    run = _Run(policy, rules, now, root)
    repo = _Repo(policy, root, vault_password, report, run.read_cache)
    expanded = _expand_absolute(paths)
    repo.absolute.update(expanded)
    asked = list(expanded)
    asked_keys = set(expanded.values())

    leaf_files: list[str] = []
    extra_leaf_files: list[str] = []  # neighbours of named chain/key files
    lone_chains: list[tuple[str, Material]] = []
    for path in asked:
        material = repo.load(path)
        if material is None:
            report.skipped.append((path, repo.skips.get(repo.abs(path), "skipped")))
            continue
        report.files_checked.append(path)
        role = repo.role(path, material)
        refs = run.cert_refs(material, role)
        run.run(FILE, FileContext(material, role, refs, policy, run.now, vaulted=repo.abs(path) in repo.vaulted))
        if role in ("certificate", "bundle") and refs:
            leaf_files.append(path)
        elif role == "chain":
            lone_chains.append((path, material))
        elif role == "key":
            extra_leaf_files.extend(repo.certs_using_key(path))

    used_chains: set[str] = set()
    for path, _material in lone_chains:
        users = repo.certs_using_chain(path)
        if users:
            used_chains.add(repo.abs(path))
            extra_leaf_files.extend(users)

    done: set[str] = set()
    for path in leaf_files + extra_leaf_files:
        key = repo.abs(path)
        if key in done:
            continue
        done.add(key)
        _check_set(run, repo, path, asked_keys, used_chains)

    for path, material in lone_chains:
        if repo.abs(path) in used_chains:
            continue
        refs = run.cert_refs(material, "chain")
        run.run(SET, SetContext(policy, run.now, leaf=None, chain=refs, signatures=run.signatures))

    report.findings = run.sorted_findings()
    return report


def _check_set(run: _Run, repo: _Repo, path: str, asked: set[str], used_chains: set[str]) -> None:
    material = repo.load(path)
    if material is None:
        return
    role = repo.role(path, material)
    if role not in ("certificate", "bundle"):
        return
    refs = run.cert_refs(material, role)
    if not refs:
        return
    leaf = refs[0]
    # A CA file (its first certificate a CA without a server name) is a CA bundle, not leaf + chain.
    chain = refs[1:] if leaf.position == LEAF else []
    note = ""
    if leaf.position != LEAF:
        pass
    elif not chain and role == "certificate":
        chain_path = repo.chain_file_for(path)
        if chain_path is not None:
            chain_material = repo.load(chain_path)
            if chain_material is not None:
                chain = run.cert_refs(chain_material, "chain")
                used_chains.add(repo.abs(chain_path))
        if chain_path is None:
            stem = _stems(os.path.basename(path))[-1]
            note = f" (no chain in the file and no chain file beside it, such as {stem}.chain.pem or chain.pem)"
        elif not chain:
            note = f" ({chain_path} holds no certificate)"
    elif not chain:
        note = " (the full-chain file holds only the certificate)"
    keys = [(material, block) for block in material.private_keys]
    if not keys:
        key_path = repo.key_file_for(path)
        if key_path is not None:
            key_material = repo.load(key_path)
            if key_material is not None:
                keys = [(key_material, block) for block in key_material.private_keys]
    ctx = SetContext(
        run.policy,
        run.now,
        leaf=leaf,
        server=leaf.position == LEAF,
        chain=chain,
        chain_note=note,
        keys=keys,
        signatures=run.signatures,
    )
    leaf_asked = repo.abs(path) in asked
    if not leaf_asked:  # checked only when one of its files was named
        members = {repo.abs(r.path) for r in chain} | {repo.abs(m.path) for m, _block in keys}
        if not members & asked:
            return

    def keep(rule: Rule, hit: Hit) -> bool:
        # A finding about the certificate alone (a missing chain) only when the certificate was named.
        return leaf_asked or rule.id != "chain.required"

    run.run(SET, ctx, keep)


__all__ = ["CA", "CHAIN", "CLIENT_CA", "LEAF", "Report", "check_material", "check_paths"]
