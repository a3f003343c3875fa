# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the rule catalog on material: what the caller hands over, or files in a repository.

``check_material`` checks one TLS configuration as a deployment would receive it
(certificate, chain, private key, client CA). ``check_paths`` checks files and
folders of a repository: ``layout.Layout`` says what each file is and which files
belong together (explicit bundles, then names, then proof by signature); this module
runs the rules on each file and on each set (certificate, chain, key, client CA).

A finding is about the files given: neighbours are read for pairing and signatures,
and a finding located in a file that was not given is not reported. A folder given
means every candidate file under it is given. Each file is read and parsed once.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._record import Record
from .facts import describe_certificate, is_ca, key_info, not_after, not_before, subject_alt_names
from .findings import ERROR, WARNING, Finding
from .forks import fork_with_pipe, read_all, send_all
from .inputs import InputError, NotRegularFile
from .layout import (  # re-exported: other doors import these names from here
    CERT_EXTENSIONS,
    CHAIN_PATTERNS,
    DOCUMENT_EXTENSIONS,
    FULLCHAIN_PATTERNS,
    GENERIC_CHAIN_PREFIXES,
    WALK_EXTENSIONS,
    BackgroundWalk,
    Layout,
    expand_absolute,
    expand_by_folder,
    expand_paths,
    is_candidate,
)
from .material import Block, EncodingProblem, Material, ReadCache, read_bytes
from .policy import Policy, load_policy
from .rules import (
    CA,
    CERTIFICATES,
    CHAIN,
    CLIENT,
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

if TYPE_CHECKING:
    from .documents import Document, Value

REPORT_VERSION = 1


class Report(Record):
    """What a check found."""

    _fields = ("findings", "files_checked", "skipped", "locked", "input_errors", "profile", "root", "facts")
    __hash__ = None  # type: ignore[assignment]  # it changes: unhashable, as a dataclass that is not frozen

    findings: list[Finding]
    files_checked: list[str]
    skipped: list[tuple[str, str]]  # (path, why)
    # The entries of ``skipped`` a vault password would open (Ansible Vault files and values checked without one):
    # the doors tell how to give it by this, not by reading the reason.
    locked: list[tuple[str, str]]
    # (path, why): input the check could not use and that the user must fix (a vault password that does not open
    # a vault file, a bundle naming a missing file). The doors exit 2 (the module fails) when there is any.
    input_errors: list[tuple[str, str]]
    profile: str
    root: str | None
    facts: dict[str, Any]  # check_material: facts of the server certificate

    def __init__(  # the lists and dicts left out are new empty ones
        self,
        findings: list[Finding] | None = None,
        files_checked: list[str] | None = None,
        skipped: list[tuple[str, str]] | None = None,
        locked: list[tuple[str, str]] | None = None,
        input_errors: list[tuple[str, str]] | None = None,
        profile: str = "seed",
        root: str | None = None,
        facts: dict[str, Any] | None = None,
    ) -> None:
        self.findings = [] if findings is None else findings
        self.files_checked = [] if files_checked is None else files_checked
        self.skipped = [] if skipped is None else skipped
        self.locked = [] if locked is None else locked
        self.input_errors = [] if input_errors is None else input_errors
        self.profile = profile
        self.root = root
        self.facts = {} if facts is None else facts

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
                "input_errors": len(self.input_errors),
            },
            "files_checked": list(self.files_checked),
            "skipped": [{"path": path, "reason": reason} for path, reason in self.skipped],
            "input_errors": [{"path": path, "message": message} for path, message in self.input_errors],
            "findings": [f.as_dict() for f in self.findings],
        }


# ------------------------------------------------------------------ the engine


class _Memo:
    """What one check learns once and reuses: files and certificates read (ReadCache), ``_vet``'s verdicts by DER,
    signature verdicts by (certificate DER, issuer DER), file rules' hits by content. Facts of the content alone
    (under one policy, rule set and time), so a pool worker keeps one for all the folders it checks."""

    def __init__(self) -> None:
        self.read_cache = ReadCache()
        self.vetted: dict[bytes, str | None] = {}
        self.signatures: dict[tuple[bytes, bytes], bool] = {}
        self.file_hits: dict[tuple[Any, ...], list[tuple[Rule, Hit]]] = {}  # _Run.run: file rules' hits by content


class _Run:
    """One check: the policy, the rules to run, and the findings so far."""

    def __init__(
        self,
        policy: Policy,
        rules: Iterable[str] | None,
        now: datetime.datetime | None,
        root: str,
        memo: _Memo | None = None,
    ) -> None:
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
        self.documents: set[str] = set()  # YAML/JSON documents: seen[path] holds every value's blocks
        # Work done once per check for what repeats across files (a chain's CA certificates, a chain file, stand
        # in many folders): see _Memo.
        memo = memo or _Memo()
        self.read_cache = memo.read_cache
        self.vetted = memo.vetted
        self.signatures = memo.signatures
        self.file_hits = memo.file_hits
        # A certificate file's refs are wanted by its file rules and again as the leaf or chain of a set. The key is
        # id(material); the material is kept in the value, so the id cannot be reused while the run lives.
        self.refs: dict[tuple[int, str, bool, bool], tuple[Material, list[CertRef]]] = {}

    def cert_refs(self, material: Material, role: str, declared: bool = False, client: bool = False) -> list[CertRef]:
        """The material's certificates with their positions (``_cert_refs``), worked out once per role."""
        key = (id(material), role, declared, client)
        found = self.refs.get(key)
        if found is None or found[0] is not material:
            found = self.refs[key] = (material, _cert_refs(material, role, declared, self.vetted, client))
        return found[1]

    def repository_set(
        self,
        leaf: CertRef,
        chain: list[CertRef],
        chain_note: str,
        keys: list[tuple[Material, Block]],
        client_ca: Material | None,
        client_ca_name: str | None,
        two_way: bool,
    ) -> SetContext:
        """The set of a certificate found in a repository (a file, or a document's mapping): a server set when
        the certificate is a leaf; a finding about its key is located in the key too; the client CA is checked
        where the set is two-way (a bundle or a mapping names one)."""
        return SetContext(
            self.policy,
            self.now,
            leaf=leaf,
            server=leaf.position == LEAF,
            chain=chain,
            chain_note=chain_note,
            keys=keys,
            client_ca=client_ca,
            client_ca_name=client_ca_name or "client_ca",
            two_way=two_way,
            check_client_ca=two_way,
            signatures=self.signatures,
            key_findings=True,
        )

    def saw(self, material: Material) -> None:
        """Remember the material of each path, for the findings' line ranges."""
        if material.path not in self.documents:  # a document's values: its combined material stays
            self.seen[material.path] = material

    def end_line(self, path: str, line: int) -> int:
        material = self.seen.get(path)
        return material.end_line_of(line) if material is not None else line

    def run(
        self,
        scope: str,
        ctx: FileContext | SetContext,
        keep: Any = None,
        rewrite: Callable[[Rule, Hit], Hit] | None = None,
    ) -> None:
        """Run the scope's rules on ``ctx``; ``keep(rule, hit)`` filters hits, ``rewrite(rule, hit)`` locates them (a
        document's values: the value's line and key path)."""
        if isinstance(ctx, FileContext):
            self.saw(ctx.material)
        else:
            for ref in ([ctx.leaf] if ctx.leaf else []) + ctx.chain:
                self.saw(ref.material)
            for material, _block in ctx.keys:
                self.saw(material)
        memo_key: tuple[Any, ...] | None = None
        if scope == FILE and isinstance(ctx, FileContext):
            rules = self.file_rules_for[(bool(ctx.certs), ctx.material.has_private_key)]
            content = ctx.material.content
            if content is not None and keep is None and rewrite is None:
                # File rules see the content, the role and the certificates' positions, never the path but to
                # say where: a copy of a content seen before (a chain file standing in many folders) gets the
                # same hits, located in it.
                memo_key = (content, ctx.role, ctx.declared, ctx.vaulted, tuple([ref.position for ref in ctx.certs]))
                seen = self.file_hits.get(memo_key)
                if seen is not None:
                    for rule, hit in seen:
                        self.add(rule, hit.replace(path=ctx.path))
                    return
        else:
            rules = self.file_rules if scope == FILE else self.set_rules
        found: list[tuple[Rule, Hit]] = []
        for rule in rules:
            try:
                hits = list(rule.check(ctx))
            except Exception as exc:  # a rule must not take the check down; report instead
                where = ctx.path if isinstance(ctx, FileContext) else (ctx.leaf.path if ctx.leaf else "")
                hits = [Hit(f"could not be checked: the content is malformed ({type(exc).__name__})", where)]
            for hit in hits:
                if keep is not None and not keep(rule, hit):
                    continue
                found.append((rule, hit))
                self.add(rule, rewrite(rule, hit) if rewrite is not None else hit)
        if memo_key is not None:
            self.file_hits[memo_key] = found

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
        fields = (cert.version, cert.serial_number, not_before(cert), not_after(cert))
        del fields
        list(cert.extensions)
        key_info(block.public_key if block.public_key is not None else cert.public_key())
    except Exception as exc:  # whatever cryptography raises, the certificate is unusable
        return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
    return None


def _cert_refs(
    material: Material, role: str, declared: bool, vetted: dict[bytes, str | None], client: bool = False
) -> list[CertRef]:
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
        elif not declared and role != "bundle" and _is_ca_file_cert(block.certificate):
            position = CA
        else:
            position = CLIENT if client and not declared else LEAF
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


def check_paths(
    paths: Sequence[str] | Iterable[str],
    policy: Policy | None = None,
    *,
    root: str | None = None,
    rules: Iterable[str] | None = None,
    vault_password: bytes | str | None = None,
    now: datetime.datetime | None = None,
    jobs: int = 1,
    walk: BackgroundWalk | None = None,
) -> Report:
    """Check files and folders (folders: every candidate file under them, hidden folders left out).

    ``root`` (default: the current folder) is what ignore globs and SARIF paths are
    relative to. ``rules`` limits the check to these rule ids (the hooks use it).
    Findings are those located in the files given; neighbours only help to pair.
    Ansible Vault files are decrypted in memory with ``vault_password``; without it
    they are skipped and listed in ``Report.skipped``; a password that does not open
    one is an input error (``Report.input_errors``).
    ``jobs`` > 1: folders are checked by that many processes (``_check_parallel``); the report is the same.
    ``walk``: the walk of ``paths`` started earlier in a fork (``layout.BackgroundWalk``); taken when it has one.
    """
    named = list(paths)
    with warnings.catch_warnings(), _no_cyclic_gc():
        warnings.simplefilter("ignore")  # cryptography's deprecation notes about odd certificates: not for users
        walked = walk.result() if walk is not None and walk.paths == named else None
        given: list[str] | dict[str, str] = named if walked is None else walked[0]
        if jobs > 1:
            given, folders = expand_by_folder(given) if walked is None else walked  # walked once, pool or not
            parallel = _check_parallel(given, folders, policy, root, rules, vault_password, now, jobs)
            if parallel is not None:
                return parallel
        return _check_paths(given, policy, root, rules, vault_password, now)


# Below this many files a process pool costs more than it saves (forking, and each worker pairing its folders).
PARALLEL_MIN_FILES = 400
# Tasks per worker: small enough that the workers finish together (a task is whole folders, and folders differ),
# large enough that handing them out costs nothing next to checking them.
TASKS_PER_JOB = 16
_TASK_INDEX_BYTES = 2  # a task's number in the claims pipe
# Tasks of at least files/MAX_TASKS_HALF files make at most 2 * MAX_TASKS_HALF + 1 tasks (two neighbours always
# hold more than the target): 2,001 numbers, 4,002 bytes, one write that a pipe takes whole before anyone reads.
MAX_TASKS_HALF = 1000


def _check_parallel(
    expanded: dict[str, str],
    folders: dict[str, list[tuple[str, str]]],
    policy: Policy | None,
    root: str | None,
    rules: Iterable[str] | None,
    vault_password: bytes | str | None,
    now: datetime.datetime | None,
    jobs: int,
) -> Report | None:
    """``check_paths`` by ``jobs`` forked processes (``_run_forked``), folder by folder; None where it cannot help
    (few files, one folder, no ``fork``). Pairing never looks beyond a certificate's folder except for
    the policy's bundles, and a check reports only the findings located in the files it was given, whoever
    computed them, as pre-commit's parallel batches rely on: so each task is whole folders, and the merged report
    is the single-process report (findings sorted, files in the walk's order)."""
    if not hasattr(os, "fork") or len(expanded) < PARALLEL_MIN_FILES:
        return None
    if len(folders) < 2:
        return None
    policy = policy or load_policy(root=root)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    # Runs of folders in the walk's order, each at most about 1/TASKS_PER_JOB of a worker's share (a larger folder
    # is a task of its own), handed out largest first: each process claims the next task when it is free, so they
    # finish together. The reports are merged in the tasks' order.
    # (At most ~2,000 tasks whatever --jobs says: their numbers must fit in one atomic pipe write, 4 KiB.)
    target = max(1, len(expanded) // (jobs * TASKS_PER_JOB), -(-len(expanded) // MAX_TASKS_HALF))
    tasks: list[list[tuple[str, str]]] = [[]]
    for files in folders.values():
        if tasks[-1] and len(tasks[-1]) + len(files) > target:
            tasks.append([])
        tasks[-1].extend(files)
    frozen_rules = frozenset(rules) if rules is not None else None

    def check_task(files: list[tuple[str, str]], memo: _Memo) -> Report:
        return _check_paths(dict(files), policy, root, frozen_rules, vault_password, now, memo)

    reports = _run_forked(tasks, min(jobs, len(tasks)), check_task)
    if reports is None:
        return None
    merged = Report(profile=policy.profile, root=reports[0].root)
    findings: dict[tuple[str, str, int, str], Finding] = {}
    for part in reports:
        for finding in part.findings:
            findings.setdefault((finding.rule_id, finding.path, finding.line, finding.message), finding)
        merged.files_checked.extend(part.files_checked)
        merged.skipped.extend(part.skipped)
        merged.locked.extend(part.locked)
        merged.input_errors.extend(error for error in part.input_errors if error not in merged.input_errors)
    merged.findings = sorted(findings.values(), key=lambda f: (f.path, f.line, f.rule_id, f.message))
    # In the tasks' order, the walk's but where a subfolder's files stand between a folder's (x/a, x/m/b, x/z), or
    # files were skipped: then sorted.
    walked = list(expanded)
    if merged.files_checked != walked:
        order = {path: index for index, path in enumerate(walked)}
        merged.files_checked.sort(key=lambda path: order.get(path, len(order)))
        merged.skipped.sort(key=lambda entry: order.get(entry[0], len(order)))
    return merged


def _run_forked(
    tasks: list[list[tuple[str, str]]], workers: int, check_task: Callable[[list[tuple[str, str]], _Memo], Report]
) -> list[Report] | None:
    """Every task's report, worked out by ``workers`` forks of this process; None when none could be forked (the
    caller checks in this process).

    The tasks' numbers wait in a pipe; each fork reads one number at a time (a read this small is atomic), so a
    free fork takes the next task and no task is taken twice. A fork sends back its reports, pickled, through a
    pipe of its own and ends with ``os._exit``: the heap of materials it built dies with it, unfreed (this process
    stays small, and freeing the heap would cost ~10 ms per 5,000 files at the end of the check). A task whose
    fork failed (it crashed or was killed) is checked here, so a report always covers every task. Forking (not
    spawning) shares the imported engine and costs no start-up; the check starts no threads before it."""
    import pickle
    import select

    largest_first = sorted(range(len(tasks)), key=lambda index: -len(tasks[index]))
    numbers = b"".join(i.to_bytes(_TASK_INDEX_BYTES, "big") for i in largest_first)
    if len(numbers) > select.PIPE_BUF:  # _check_parallel never makes so many: a write this size could block
        return None
    claims, feed = os.pipe()
    try:
        os.write(feed, numbers)
    finally:
        os.close(feed)
    children: list[tuple[int, int]] = []
    ended: list[int] = []  # forks whose pipe said all: reaped last, while their heaps are torn down
    try:
        for _unused in range(workers):
            # The pipe is widened (fork_with_pipe): a fork that ends first sends its reports and ends, whoever is
            # read first.
            forked = fork_with_pipe()
            if forked is None:
                break
            pid, end = forked
            if pid == 0:  # the fork: check what it claims, send the reports, end
                status = 1
                # The memo and the reports are held to the end: freeing what the memo gathered (every file read)
                # took ~11 ms between a fork's last task and its reports.
                memo = _Memo()
                try:
                    reports = _claim_tasks(claims, tasks, check_task, memo)
                    send_all(end, pickle.dumps(reports, pickle.HIGHEST_PROTOCOL))
                    os.close(end)  # the end of the reports now, not after the exit has unmapped the heap
                    status = 0
                finally:
                    os._exit(status)
            children.append((pid, end))
        if not children:
            return None
        done: dict[int, Report] = {}
        while children:
            pid, results = children[0]
            try:
                data = read_all(results)
            finally:
                os.close(results)
                children[0] = (pid, -1)  # closed: never closed twice (the number may be reused)
            ended.append(pid)
            children.pop(0)
            try:
                # S301: the bytes come from this process's own fork, through a pipe only the two of them hold
                done.update(pickle.loads(data))  # noqa: S301
            except Exception:  # noqa: S110 - the fork failed: its tasks are checked below
                pass
    finally:
        os.close(claims)
        for pid, results in children:  # only on the way out of an error (an interrupt): stop the forks
            import signal  # here: its enums cost ~1 ms of every start

            if results >= 0:
                os.close(results)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
            ended.append(pid)
        for pid in ended:
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
    missing = [index for index in range(len(tasks)) if index not in done]  # claimed by a fork that did not finish
    if missing:
        memo = _Memo()
        for index in missing:
            done[index] = _quietly(check_task, tasks[index], memo)
    return [done[index] for index in range(len(tasks))]


def _claim_tasks(
    claims: int,
    tasks: list[list[tuple[str, str]]],
    check_task: Callable[[list[tuple[str, str]], _Memo], Report],
    memo: _Memo,
) -> dict[int, Report]:
    """The reports of the tasks this process (a fork) claims from the pipe ``claims`` until it is empty; one memo
    for all."""
    done: dict[int, Report] = {}
    with warnings.catch_warnings(), _no_cyclic_gc():
        warnings.simplefilter("ignore")  # as check_paths
        while True:
            claimed = os.read(claims, _TASK_INDEX_BYTES)
            if len(claimed) < _TASK_INDEX_BYTES:
                return done
            index = int.from_bytes(claimed, "big")
            done[index] = check_task(tasks[index], memo)


def _quietly(
    check_task: Callable[[list[tuple[str, str]], _Memo], Report], files: list[tuple[str, str]], memo: _Memo
) -> Report:
    with warnings.catch_warnings(), _no_cyclic_gc():
        warnings.simplefilter("ignore")  # as check_paths
        return check_task(files, memo)


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
    paths: list[str] | dict[str, str],
    policy: Policy | None,
    root: str | None,
    rules: Iterable[str] | None,
    vault_password: bytes | str | None,
    now: datetime.datetime | None,
    memo: _Memo | None = None,
) -> Report:
    """``check_paths`` in this process. ``paths``: as given, or already expanded (file -> absolute path)."""
    policy = policy or load_policy(root=root)
    root = os.path.abspath(root or os.getcwd())
    report = Report(profile=policy.profile, root=root)
    run = _Run(policy, rules, now, root, memo)
    layout = Layout(policy, root, vault_password, run.read_cache, run.signatures)
    expanded = paths if isinstance(paths, dict) else expand_absolute(paths)
    layout.absolute.update(expanded)
    given = set(expanded.values())

    def in_given(_rule: Rule, hit: Hit) -> bool:
        # Findings are about the files given; a pre-commit batch reports only what is located in its files.
        return layout.abs(hit.path) in given

    leaf_files: list[str] = []
    known: dict[str, tuple[Material, str, bool, list[CertRef]]] = {}  # certificate files read: what _check_set needs
    extra_leaf_files: list[str] = []  # certificates of the given chain, key and client CA files
    chain_files: list[tuple[str, Material]] = []  # given files that may serve as a chain (chain or CA files)
    for path, key in expanded.items():
        if path.lower().endswith(DOCUMENT_EXTENSIONS):
            _check_document(run, report, path, vault_password)
            continue
        material = layout.load(path)
        if material is None:
            if key in layout.vault_errors:
                report.input_errors.append((path, layout.vault_errors[key]))
            else:
                report.skipped.append((path, layout.skips.get(key, "skipped")))
                if key in layout.locked:
                    report.locked.append(report.skipped[-1])
            continue
        report.files_checked.append(path)
        role = layout.role(path, material)
        declared = layout.declared(path)
        client = role == "certificate" and bool(material.certificates) and layout.is_client(path, material)
        refs = run.cert_refs(material, role, declared, client)
        run.run(FILE, FileContext(material, role, refs, policy, run.now, vaulted=key in layout.vaulted))
        if role in ("certificate", "bundle") and refs:
            leaf_files.append(path)
            known[key] = (material, role, declared, refs)
            if refs[0].position == CA:
                chain_files.append((path, material))
        elif role == "chain":
            chain_files.append((path, material))
        elif role == "key":
            extra_leaf_files.extend(layout.certs_using_key(path))
        elif role == "client_ca":
            extra_leaf_files.extend(layout.certs_using_client_ca(path))

    used_chains: set[str] = set()
    contradicted: list[tuple[str, str]] = []  # (certificate, chain file named after it that did not issue it)
    for path, _material in chain_files:
        for user, proven in layout.certs_using_chain(path):
            if proven:
                used_chains.add(layout.abs(path))
                extra_leaf_files.append(user)
            else:
                contradicted.append((user, path))

    done: set[str] = set()
    for path in leaf_files + extra_leaf_files:
        key = layout.abs(path)
        if key in done:
            continue
        done.add(key)
        _check_set(run, layout, path, used_chains, in_given, known.get(key))

    for user, path in contradicted:
        _check_named_chain(run, layout, user, path)

    for path, material in chain_files:
        if layout.abs(path) in used_chains or layout.role(path, material) != "chain":
            continue
        refs = run.cert_refs(material, "chain")
        run.run(SET, SetContext(policy, run.now, leaf=None, chain=refs, signatures=run.signatures), in_given)

    report.findings = run.sorted_findings()
    report.input_errors.extend(layout.config_errors)
    return report


def _check_set(
    run: _Run,
    layout: Layout,
    path: str,
    used_chains: set[str],
    keep: Any,
    known: tuple[Material, str, bool, list[CertRef]] | None = None,
) -> None:
    """The set rules on the certificate file ``path`` with its chain, key and client CA. ``known``: the file's
    (material, role, declared, refs) when the file rules already worked them out."""
    if known is not None:
        material, role, declared, refs = known
    else:
        loaded = layout.load(path)
        if loaded is None:
            return
        material = loaded
        role = layout.role(path, material)
        if role not in ("certificate", "bundle") or not material.certificates:
            return
        declared = layout.declared(path)
        client = role == "certificate" and layout.is_client(path, material)
        refs = run.cert_refs(material, role, declared, client)
    if not refs:
        return
    leaf = refs[0]
    own = leaf.position in (LEAF, CLIENT)
    # A CA file (its first certificate a CA without a server name) is a CA bundle, not leaf + chain.
    chain = refs[1:] if own else []
    note = ""
    if own and not chain and role == "certificate":
        found = layout.chain_for(path)
        if found.path is not None:
            chain_material = layout.load(found.path)
            if chain_material is not None:
                chain = run.cert_refs(chain_material, "chain")
                used_chains.add(layout.abs(found.path))
            if not chain:
                note = f" ({found.path} holds no certificate)"
        else:
            note = found.note
    elif own and not chain:
        note = " (the full-chain file holds only the certificate)"
    keys = [(material, block) for block in material.private_keys]
    if not keys:
        key_path = layout.key_for(path)
        if key_path is not None:
            key_material = layout.load(key_path)
            if key_material is not None:
                keys = [(key_material, block) for block in key_material.private_keys]
    client_ca_path = layout.client_ca_for(path)
    two_way = layout.two_way(path)
    client_ca = layout.load(client_ca_path) if client_ca_path is not None else None
    run.run(SET, run.repository_set(leaf, chain, note, keys, client_ca, client_ca_path, two_way), keep)


def _check_named_chain(run: _Run, layout: Layout, cert_path: str, chain_path: str) -> None:
    """A chain file named after a certificate that it did not issue: the chain file's findings (chain.order says
    which certificate does not certify which). The certificate's own set has no chain (chain.required)."""
    material = layout.load(cert_path)
    chain_material = layout.load(chain_path)
    if material is None or chain_material is None or not material.certificates:
        return
    leaf = run.cert_refs(material, "certificate", layout.declared(cert_path), layout.is_client(cert_path, material))
    chain = run.cert_refs(chain_material, "chain")
    target = layout.abs(chain_path)
    ctx = SetContext(run.policy, run.now, leaf=leaf[0], chain=chain, signatures=run.signatures)
    run.run(SET, ctx, lambda _rule, hit: layout.abs(hit.path) == target)


# ------------------------------------------------------------------ YAML and JSON documents


def _check_document(run: _Run, report: Report, path: str, vault_password: bytes | str | None) -> None:
    """The material inside a YAML/JSON document (documents.py), through the same rules as files: each value as a
    file, each group of values of one mapping as a certificate file with its chain, key and client CA. Findings
    stand at the value's line (a block scalar's BEGIN line) and name its key path."""
    from .documents import read_document_file

    policy = run.policy
    found = read_document_file(path, policy.max_file_size, vault_password, run.read_cache)
    if isinstance(found, InputError):
        if isinstance(found, NotRegularFile):
            report.skipped.append((path, found.reason))
            return
        report.files_checked.append(path)
        material = Material(path, "binary", problems=[EncodingProblem(0, found.reason)])
        run.run(FILE, FileContext(material, "other", [], policy, run.now))
        return
    doc = found
    report.skipped.extend((path, reason) for reason in doc.skips)
    report.locked.extend((path, reason) for reason in doc.locked)
    if doc.input_error is not None:
        report.input_errors.append((path, doc.input_error))
    if not doc.values and doc.problem is None:
        return  # not material (no certificate or key in it), or nothing in it could be read (the skips say why)
    report.files_checked.append(path)
    if doc.problem is not None:
        line, detail = doc.problem
        material = Material(path, "text", problems=[EncodingProblem(line, detail)])
        hint = "fix the YAML syntax at that line (`yamllint FILE` says more), then check again"
        run.run(
            FILE, FileContext(material, "other", [], policy, run.now), rewrite=lambda _rule, hit: _hinted(hit, hint)
        )
        return
    run.documents.add(path)
    run.seen[path] = Material(path, "document", [block for value in doc.values for block in value.material.blocks])
    for value in doc.values:
        refs = run.cert_refs(value.material, value.role)
        ctx = FileContext(value.material, value.role, refs, policy, run.now, vaulted=value.vaulted)
        run.run(FILE, ctx, rewrite=_at_value(value))
    for group in doc.groups:
        members = [v for v in (group.certificate, group.chain, group.client_ca, *group.keys) if v is not None]
        rewrite = _in_group(members, doc)
        if group.certificate is not None:
            _check_value_set(run, group, rewrite)
        elif group.chain is not None:
            chain = run.cert_refs(group.chain.material, "chain")
            run.run(SET, SetContext(policy, run.now, leaf=None, chain=chain, signatures=run.signatures), None, rewrite)


def _check_value_set(run: _Run, group: Any, rewrite: Callable[[Rule, Hit], Hit]) -> None:
    value = group.certificate
    refs = run.cert_refs(value.material, value.role)
    if not refs:
        return
    leaf = refs[0]
    own = leaf.position in (LEAF, CLIENT)
    chain = refs[1:] if own else []
    note = ""
    if own and not chain:
        if group.chain is not None:
            chain = run.cert_refs(group.chain.material, "chain")
        elif value.role == "bundle":
            note = f" ({value.key_path} holds only the certificate: its chain follows it there)"
        else:
            note = f" (no chain beside {value.key_path}: a value named chain or ca_bundle in the same mapping)"
    keys = [(key.material, block) for key in group.keys for block in key.material.private_keys]
    if not keys:
        keys = [(value.material, block) for block in value.material.private_keys]
    client_ca = group.client_ca
    ctx = run.repository_set(
        leaf,
        chain,
        note,
        keys,
        client_ca.material if client_ca is not None else None,
        client_ca.key_path if client_ca is not None else None,
        client_ca is not None,
    )
    run.run(SET, ctx, None, rewrite)


def _hinted(hit: Hit, hint: str) -> Hit:
    return hit.replace(hint=hint)


# pem.encoding's own hint speaks of a file ("nothing else in the file"): a value's encoding problem gets this one.
_VALUE_PEM_HINT = (
    "make the value PEM: only -----BEGIN ...-----/-----END ...----- blocks with base64 between them, each on its "
    "own lines (in YAML a block scalar, `key: |`, keeps them)"
)


def _at_value(value: Value) -> Callable[[Rule, Hit], Hit]:
    """A file rule's hit on a value: at the value's line when the rule names none, with the key path."""

    def rewrite(rule: Rule, hit: Hit) -> Hit:
        hint = _VALUE_PEM_HINT if rule.id == "pem.encoding" and hit.hint is None else hit.hint
        return hit.replace(line=hit.line or value.line, message=f"{value.key_path}: {hit.message}", hint=hint)

    return rewrite


def _in_group(members: list[Value], doc: Document) -> Callable[[Rule, Hit], Hit]:
    """A set rule's hit: the key path of the value (of the group first, then of the document) holding its line."""

    def rewrite(_rule: Rule, hit: Hit) -> Hit:
        line = hit.line or (members[0].line if members else 0)
        for value in (*members, *doc.values):
            if value.line <= line <= value.last_line:
                return hit.replace(line=line, message=f"{value.key_path}: {hit.message}")
        return hit.replace(line=line)

    return rewrite


__all__ = [
    "CA",
    "CERT_EXTENSIONS",
    "CHAIN",
    "CHAIN_PATTERNS",
    "CLIENT",
    "CLIENT_CA",
    "FULLCHAIN_PATTERNS",
    "GENERIC_CHAIN_PREFIXES",
    "LEAF",
    "WALK_EXTENSIONS",
    "Report",
    "check_material",
    "check_paths",
    "expand_paths",
    "is_candidate",
]
