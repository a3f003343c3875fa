# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rule catalog: every restriction of the seed document, once, as a named rule.

A rule is a function registered with ``@rule(...)``: a stable id, a fixed default
severity, the seed sentence it enforces (``citation``), a title, a fix hint and
its SARIF metadata. The function looks at a context and yields ``Hit``s; the
engine (``check.py``) turns hits into findings, applying the policy's severities
and ignores. Rules read parsed material only (``material.py``), never bytes, and
never put key material in a message.

Two scopes:

- ``file``: one file (``FileContext``): its blocks, and its certificates with their
  position (``leaf`` = the server certificate, ``chain``, ``ca``, ``client_ca``).
- ``set``: one TLS configuration (``SetContext``): a server certificate with its
  chain, private key and (two-way TLS) client CA.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ._crypto import tbs_names, x509
from ._record import Record
from .facts import (
    KeyInfo,
    cert_label,
    common_name,
    is_ca,
    is_client_only,
    is_fqdn_or_ip,
    is_self_issued,
    is_signed_by,
    key_info,
    not_after,
    not_before,
    same_public_key,
    subject_alt_names,
)
from .findings import ERROR, WARNING
from .material import Block, Material

DOCS_URL = "https://example.invalid/certhygiene/tls/docs/rules.md"

FILE = "file"
SET = "set"

# What a file rule needs in a file to have anything to say (Rule.needs).
CERTIFICATES = "certificates"
PRIVATE_KEYS = "private_keys"

# Certificate positions.
LEAF = "leaf"  # the server certificate
CHAIN = "chain"  # a certificate of a chain (or an extra certificate after the leaf)
CA = "ca"  # a CA certificate file on its own (not a server certificate)
CLIENT_CA = "client_ca"  # the client CA of two-way TLS
# A client certificate in a repository (the layout says so: clientAuth-only, a "client" file name, or issued by
# a client CA): never imported into a deployment, so not held to the server certificate's restrictions.
CLIENT = "client"


class Hit(Record):
    """What a rule reports; the engine makes it a ``Finding``. Treat as immutable (``replace`` makes a changed
    copy)."""

    __slots__ = _fields = ("message", "path", "line", "cert", "hint", "severity")

    message: str
    path: str
    line: int
    cert: Any  # the certificate concerned: its subject and serial go into the finding
    hint: str | None  # a fix more precise than the rule's hint
    severity: str | None  # a severity other than the rule's (cert.validity's warning window)

    def __init__(
        self,
        message: str,
        path: str,
        line: int = 0,
        cert: Any = None,
        hint: str | None = None,
        severity: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.cert = cert
        self.hint = hint
        self.severity = severity


class CertRef(Record):
    """A certificate in a file, with its position. Treat as immutable."""

    __slots__ = _fields = ("material", "block", "position")

    material: Material
    block: Block
    position: str

    def __init__(self, material: Material, block: Block, position: str) -> None:
        self.material = material
        self.block = block
        self.position = position

    @property
    def cert(self) -> Any:
        return self.block.certificate

    @property
    def path(self) -> str:
        return self.material.path

    @property
    def line(self) -> int:
        return self.block.start_line

    @property
    def name(self) -> str:
        """The certificate's subject and serial (for a finding located at the certificate)."""
        return safe_label(self.cert)

    @property
    def label(self) -> str:
        """Subject, serial and line (for a certificate a finding elsewhere refers to)."""
        return f"{safe_label(self.cert)} (line {self.line})" if self.line else safe_label(self.cert)


class FileContext(Record):
    """What a file rule looks at."""

    _fields = ("material", "role", "certs", "policy", "now", "declared", "vaulted")
    __hash__ = None  # type: ignore[assignment]  # it may change: unhashable, as a dataclass that is not frozen

    material: Material
    role: str  # certificate | bundle | chain | key | client_ca | other
    certs: list[CertRef]
    policy: Any  # policy.Policy (Any to keep the import graph one-way)
    now: datetime.datetime
    declared: bool  # the caller said what the input is (check_material), not a file name
    vaulted: bool  # the content was decrypted from an Ansible Vault file

    def __init__(
        self,
        material: Material,
        role: str,
        certs: list[CertRef],
        policy: Any,
        now: datetime.datetime,
        declared: bool = False,
        vaulted: bool = False,
    ) -> None:
        self.material = material
        self.role = role
        self.certs = certs
        self.policy = policy
        self.now = now
        self.declared = declared
        self.vaulted = vaulted

    @property
    def path(self) -> str:
        return self.material.path


class SetContext(Record):
    """What a set rule looks at: a certificate with its chain, keys and client CA."""

    _fields = (
        "policy",
        "now",
        "leaf",
        "server",
        "chain",
        "chain_note",
        "keys",
        "client_ca",
        "client_ca_name",
        "two_way",
        "check_client_ca",
        "key_findings",
        "signatures",
        "_leaf_copies",
    )
    _shown = _fields[:-2]
    __hash__ = None  # type: ignore[assignment]  # it may change: unhashable, as a dataclass that is not frozen

    policy: Any
    now: datetime.datetime
    leaf: CertRef | None
    server: bool  # the leaf is a server certificate (not a CA file)
    chain: list[CertRef]
    chain_note: str  # where a chain was looked for, for chain.required's message
    keys: list[tuple[Material, Block]]
    client_ca: Material | None
    client_ca_name: str
    two_way: bool
    check_client_ca: bool  # only where the caller says what the client CA is
    # Repository checks: a finding about a key file of its own is also located in the key file (a commit may hold
    # only the key; findings are reported for the files given).
    key_findings: bool
    # Signature verdicts by (certificate DER, issuer DER). A verification costs ~40 µs; chain.order and
    # chain.algorithm ask for the same pairs, and the engine shares one dict across a whole check, where the
    # same intermediate -> root pair stands in every chain file of a repository.
    signatures: dict[tuple[bytes, bytes], bool]
    _leaf_copies: list[CertRef] | None

    def __init__(
        self,
        policy: Any,
        now: datetime.datetime,
        leaf: CertRef | None = None,
        server: bool = True,
        chain: list[CertRef] | None = None,  # None: a new empty list
        chain_note: str = "",
        keys: list[tuple[Material, Block]] | None = None,  # None: a new empty list
        client_ca: Material | None = None,
        client_ca_name: str = "client_ca",
        two_way: bool = False,
        check_client_ca: bool = False,
        key_findings: bool = False,
        signatures: dict[tuple[bytes, bytes], bool] | None = None,  # None: a new empty dict
        _leaf_copies: list[CertRef] | None = None,
    ) -> None:
        self.policy = policy
        self.now = now
        self.leaf = leaf
        self.server = server
        self.chain = [] if chain is None else chain
        self.chain_note = chain_note
        self.keys = [] if keys is None else keys
        self.client_ca = client_ca
        self.client_ca_name = client_ca_name
        self.two_way = two_way
        self.check_client_ca = check_client_ca
        self.key_findings = key_findings
        self.signatures = {} if signatures is None else signatures
        self._leaf_copies = _leaf_copies

    def leaf_copies(self) -> list[CertRef]:
        """Chain certificates that are the leaf itself or end-entity certificates: chain.leaf reports them and
        chain.order leaves them out; worked out once for both."""
        if self._leaf_copies is None:
            self._leaf_copies = [
                ref
                for ref in self.chain
                if (self.leaf is not None and ref.block.der == self.leaf.block.der) or not is_ca(ref.cert)
            ]
        return self._leaf_copies

    def signed_by(self, cert: CertRef, issuer: CertRef) -> bool:
        """``facts.is_signed_by(cert.cert, issuer.cert)``, verified once per pair of certificates."""
        key = (cert.block.der, issuer.block.der)
        verdict = self.signatures.get(key)
        if verdict is None:
            verdict = self.signatures[key] = is_signed_by(
                cert.cert, issuer.cert, cert.block.der, issuer.block.der, issuer.block.public_key
            )
        return verdict


Check = Callable[[Any], Iterator[Hit]]


class Rule(Record):
    """A rule: what ``@rule`` registers. Treat as immutable; equal and hashed by all but ``check``."""

    __slots__ = _fields = (
        "id",
        "severity",
        "title",
        "citation",
        "hint",
        "description",
        "scope",
        "security_severity",
        "tags",
        "check",
        "default_on",
        "needs",
    )
    _compared = _shown = tuple(name for name in _fields if name != "check")

    id: str
    severity: str
    title: str
    citation: str  # the sentence of the seed document the rule enforces
    hint: str  # how to fix it
    description: str  # what the rule checks, in full
    scope: str
    security_severity: str  # SARIF / GitHub code scanning score, "0.0" .. "10.0"
    tags: tuple[str, ...]
    check: Check
    default_on: bool  # False: opt-in, runs only when a policy or a caller (a hook) asks for it
    # A file rule that looks only at the file's certificates (CERTIFICATES) or private keys (PRIVATE_KEYS):
    # the engine does not call it for a file that has none (a check calls ~10 file rules on every file).
    needs: str | None

    def __init__(
        self,
        id: str,
        severity: str,
        title: str,
        citation: str,
        hint: str,
        description: str,
        scope: str,
        security_severity: str,
        tags: tuple[str, ...],
        check: Check,
        default_on: bool = True,
        needs: str | None = None,
    ) -> None:
        self.id = id
        self.severity = severity
        self.title = title
        self.citation = citation
        self.hint = hint
        self.description = description
        self.scope = scope
        self.security_severity = security_severity
        self.tags = tags
        self.check = check
        self.default_on = default_on
        self.needs = needs

    @property
    def name(self) -> str:
        """PascalCase name for SARIF (``pem.encoding`` -> ``PemEncoding``)."""
        return "".join(part.capitalize() for part in self.id.replace("_", ".").split("."))

    @property
    def help_uri(self) -> str:
        return f"{DOCS_URL}#{self.id.replace('.', '-').replace('_', '-')}"

    @property
    def help_text(self) -> str:
        return f'{self.description}\n\nSeed: "{self.citation}"\n\nFix: {self.hint}'

    @property
    def help_markdown(self) -> str:
        return (
            f"**{self.title}** (`{self.id}`, {self.severity})\n\n{self.description}\n\n"
            f"> {self.citation}\n\n**Fix:** {self.hint}\n"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "title": self.title,
            "citation": self.citation,
            "hint": self.hint,
            "description": self.description,
            "scope": self.scope,
            "help_uri": self.help_uri,
            "security_severity": self.security_severity,
            "tags": list(self.tags),
            "default_on": self.default_on,
        }


RULES: dict[str, Rule] = {}


def rule(
    rule_id: str,
    *,
    severity: str,
    title: str,
    citation: str,
    hint: str,
    scope: str,
    security_severity: str,
    tags: tuple[str, ...] = ("security", "tls"),
    default_on: bool = True,
    needs: str | None = None,
) -> Callable[[Check], Check]:
    """Register the decorated function as the rule ``rule_id``; its docstring is the rule's description."""

    def register(check: Check) -> Check:
        description = " ".join((check.__doc__ or title).split())
        tagged = tags if "security" in tags else ("security", *tags)  # code scanning files them as security
        RULES[rule_id] = Rule(
            rule_id,
            severity,
            title,
            citation,
            hint,
            description,
            scope,
            security_severity,
            tagged,
            check,
            default_on,
            needs,
        )
        return check

    return register


# ---------------------------------------------------------------- helpers


def safe_label(cert: Any) -> str:
    """``facts.cert_label``, or what can be said when the certificate's name cannot be decoded."""
    try:
        return cert_label(cert)
    except Exception:  # a damaged name: the certificate is still named by its serial
        return f"a certificate with an unreadable subject (serial 0x{cert.serial_number:x})"


def name_text(cert: Any, which: str) -> str:
    """The RFC 4514 text of the certificate's ``subject`` or ``issuer``, ``(empty)`` or ``(unreadable)``."""
    try:
        return str(getattr(cert, which).rfc4514_string()) or "(empty)"
    except Exception:
        return "(unreadable)"


def _self_issued(cert: Any) -> bool:
    try:
        return is_self_issued(cert)
    except Exception:  # an unreadable name: not provably a root
        return False


def _self_signed(cert: Any) -> bool:
    try:
        return is_self_issued(cert) and is_signed_by(cert, cert)
    except Exception:  # an unreadable name: not provably self-signed
        return False


def _common_name(cert: Any) -> str | None:
    try:
        return common_name(cert.subject)
    except Exception:  # an unreadable name has no usable CN
        return None


def _key_info_of(ref: CertRef) -> KeyInfo:
    """The certificate's key type and size, from the public key parsed with it (``Block.public_key``)."""
    public_key = ref.block.public_key
    return key_info(public_key if public_key is not None else ref.cert.public_key())


def issuer_is_empty(cert: Any, der: bytes) -> bool:
    """Whether the issuer Name of the certificate ``der`` is an empty SEQUENCE, read from the DER (no Python name
    objects are built)."""
    try:
        issuer = tbs_names(der)[1]  # the whole element: tag, length, content
        if issuer[0] == 0x30:  # a SEQUENCE, as a Name is: empty when the element is its header alone
            return len(issuer) == (2 if issuer[1] < 0x80 else 2 + (issuer[1] & 0x7F))
    except (IndexError, ValueError):
        pass
    return len(cert.issuer) == 0


def version_of(cert: Any) -> str:
    try:
        return "v3" if cert.version == x509.Version.v3 else "v1"
    except x509.InvalidVersion:
        return "an unknown version"


def _date(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _is_client_only(cert: Any) -> bool:
    """A certificate whose extended key usage allows client auth but not server auth."""
    return is_client_only(cert)


def _key_subjects(ctx: FileContext) -> Iterator[tuple[Any, int, Any, str | CertRef]]:
    """(public key, line, certificate or None, how to name it) for every key key.algorithm looks at:
    private keys, public keys, requests, and server certificates (not CA certificates). A certificate is
    named by its ``CertRef``: its label is made only when a finding needs it."""
    for block in ctx.material.blocks:
        if block.public_key is None:
            continue
        if block.kind == "private_key":
            yield block.public_key, block.start_line, None, f"the private key (line {block.start_line})"
        elif block.kind == "public_key":
            yield block.public_key, block.start_line, None, f"the public key (line {block.start_line})"
        elif block.kind == "csr":
            yield block.public_key, block.start_line, None, f"the certificate request (line {block.start_line})"
    for ref in ctx.certs:
        if ref.position == LEAF and ref.block.public_key is not None:
            yield ref.block.public_key, ref.line, ref.cert, ref


def _named(what: str | CertRef) -> str:
    return what if isinstance(what, str) else what.name


def _is_weak(name: str, algorithm: str, size: int) -> bool:
    if algorithm in ("RSA", "DSA"):
        return size < 2048
    if algorithm == "EC":
        return size < 256
    return False


_FORMAT_NAMES = {
    "pkcs1": "PKCS#1 (BEGIN RSA PRIVATE KEY)",
    "pkcs8": "PKCS#8 (BEGIN PRIVATE KEY)",
    "sec1": "SEC1 (BEGIN EC PRIVATE KEY)",
    "openssh": "OpenSSH (BEGIN OPENSSH PRIVATE KEY)",
    "dsa": "DSA (BEGIN DSA PRIVATE KEY)",
}

_NOT_PEM = {
    "der": (
        "the file is DER (binary), not PEM",
        "convert it to PEM: `openssl x509 -inform DER -in FILE -out FILE.pem` for a certificate, "
        "`openssl pkey -inform DER -in KEY -out KEY.pem` for a key",
    ),
    "pkcs12": (
        "the file is a PKCS#12 archive (.p12/.pfx), not PEM",
        "extract PEM files: `openssl pkcs12 -in FILE -clcerts -nokeys -out server.crt`, "
        "`openssl pkcs12 -in FILE -cacerts -nokeys -out chain.pem`, "
        "`openssl pkcs12 -in FILE -nocerts -noenc -out server.key`",
    ),
    "binary": (
        "the file is binary data, not PEM",
        "give the PEM file (text starting with -----BEGIN CERTIFICATE----- or -----BEGIN PRIVATE KEY-----)",
    ),
    "vault": (
        "the content is encrypted with Ansible Vault, not PEM",
        "decrypt it before the import (e.g. a `lookup('file', ...)` of a vault-encrypted file, or "
        "`ansible-vault decrypt`); give the vault password to check what is inside",
    ),
}

_WANTS = {"certificate": "certificate", "chain": "certificate", "client_ca": "certificate", "key": "private_key"}


# ---------------------------------------------------------------- decisions shared with issuing
# Each function below is the one place a rule decides: the rule applies it to certificates found in files, issuing
# (issue.check_policy) to the certificate it is about to make. Each returns what is wrong (the words after the
# certificate's name in the rule's message) or None.


def key_problem(policy: Any, info: KeyInfo) -> str | None:
    """key.algorithm: a key of a type or size the policy does not allow."""
    if info.name in policy.allowed_keys:
        return None
    return f"has a {info.name} key; the policy allows {', '.join(policy.allowed_keys)}"


def identity_problem(
    policy: Any, dns: Sequence[str], ips: Sequence[str], cn: str | Callable[[], str | None] | None
) -> str | None:
    """cert.identity: no FQDN or IP address in the subjectAltName (or, when the policy allows it and there is
    no subjectAltName name at all, in the CN: clients ignore the CN otherwise). ``cn``: the CN, or a function
    that reads it (only called when the subjectAltName does not settle it: reading a name is costly)."""
    names = [*dns, *ips]
    if any(is_fqdn_or_ip(name) for name in names):
        return None
    if callable(cn):
        cn = cn()
    if policy.identity_from_cn and not names and cn and is_fqdn_or_ip(cn):
        return None
    where = "subjectAltName or CN" if policy.identity_from_cn else "subjectAltName"
    return (
        f"names no FQDN or IP address in its {where} (subjectAltName: {', '.join(names) or 'none'}; CN: {cn or 'none'})"
    )


def days_left_problem(policy: Any, end: datetime.datetime, now: datetime.datetime) -> str | None:
    """cert.validity: a server certificate with fewer than the policy's ``min_days_left`` days left."""
    left = (end - now).days
    if left >= policy.min_days_left:
        return None
    return f"expires on {_date(end)}, in {left} days; the policy needs at least {policy.min_days_left} days left"


def algorithm_problem(mine: KeyInfo, theirs: KeyInfo, signer: str | Callable[[], str]) -> str | None:
    """chain.algorithm: the certificate's key algorithm differs from its signing CA's. ``signer``: how to name
    the CA, or a function that names it (only called for a problem: a label reads the CA's subject)."""
    if mine.algorithm == theirs.algorithm:
        return None
    named = signer() if callable(signer) else signer
    return f"has a {mine.algorithm} key but its signing CA {named} has a {theirs.algorithm} key"


# ---------------------------------------------------------------- the catalog


@rule(
    "pem.encoding",
    severity=ERROR,
    title="Not PEM-encoded",
    citation="The certificate, private key and certificate chain must be PEM-encoded.",
    hint="save the file as PEM: only -----BEGIN ...-----/-----END ...----- blocks with base64 between them, "
    "nothing else in the file",
    scope=FILE,
    security_severity="5.0",
    tags=("security", "tls", "encoding"),
)
def pem_encoding(ctx: FileContext) -> Iterator[Hit]:
    """The file must be PEM: not DER, PKCS#12, binary or Ansible Vault content; every BEGIN line closed by
    its END line; valid base64; no text between blocks; blocks that parse; private keys in a format the
    policy accepts (``key_formats``: PKCS#1 or PKCS#8 by default)."""
    material = ctx.material
    if material.form in _NOT_PEM and not (material.form == "binary" and material.problems):
        message, hint = _NOT_PEM[material.form]
        yield Hit(message, ctx.path, 0, hint=hint)
    for problem in material.problems:
        yield Hit(problem.detail, ctx.path, problem.line)
    for block in material.private_keys:
        fmt = block.key_format or ""
        if material.form == "pem" and fmt not in ctx.policy.key_formats:
            accepted = ", ".join(_FORMAT_NAMES.get(f, f) for f in ctx.policy.key_formats)
            hint = (
                "rewrite it as PKCS#8: `ssh-keygen -p -m PKCS8 -f KEY`"
                if fmt == "openssh"
                else "rewrite it as PKCS#8: `openssl pkey -in KEY -out KEY.pk8`"
            )
            yield Hit(
                f"the private key (line {block.start_line}) is in {_FORMAT_NAMES.get(fmt, fmt)} format; "
                f"the policy accepts {accepted}",
                ctx.path,
                block.start_line,
                hint=hint,
            )
    if material.form == "pem" and material.blocks:
        useful = {"certificate", "csr", "private_key", "public_key"}
        kinds = {block.kind for block in material.blocks}
        for block in material.blocks:
            if block.kind == "other" and kinds & useful:
                yield Hit(
                    f"a {block.label} block (line {block.start_line}) stands among the certificates and keys",
                    ctx.path,
                    block.start_line,
                    hint=f"remove the {block.label} block: the file must hold only certificates or only the key",
                )
    wanted = _WANTS.get(ctx.role)
    if ctx.declared and wanted and material.form in ("pem", "der") and not material.problems:
        if not any(block.kind == wanted for block in material.blocks):
            found = ", ".join(sorted({block.label for block in material.blocks})) or "nothing"
            noun = "certificate" if wanted == "certificate" else "private key"
            yield Hit(
                f"the {ctx.role.replace('_', ' ')} input holds no {noun} (it holds {found})",
                ctx.path,
                0,
                hint=f"give the {noun} here (check that the fields were not swapped)",
            )


@rule(
    "key.encrypted",
    severity=ERROR,
    title="Private key is passphrase-protected",
    citation="The private key must be unencrypted.",
    hint="remove the passphrase: `openssl pkey -in KEY -out KEY.plain` (PKCS#8; add `-traditional` for "
    "PKCS#1), or `ssh-keygen -p -N '' -m PKCS8 -f KEY` for an OpenSSH key; keep the plain key secret with "
    "Ansible Vault (`ansible-vault encrypt KEY.plain`) instead of a passphrase",
    scope=FILE,
    security_severity="4.0",
    tags=("security", "tls", "private-key"),
    needs=PRIVATE_KEYS,
)
def key_encrypted(ctx: FileContext) -> Iterator[Hit]:
    """A private key protected by a passphrase: PKCS#8 ``ENCRYPTED PRIVATE KEY``, legacy PEM with
    ``Proc-Type: 4,ENCRYPTED``, encrypted OpenSSH keys, encrypted DER. Ansible Vault files are not PEM keys:
    the engine decrypts them (given the vault password) and checks what is inside."""
    for block in ctx.material.private_keys:
        if block.encrypted:
            how = {
                "ENCRYPTED PRIVATE KEY": "PKCS#8 ENCRYPTED PRIVATE KEY",
                "OPENSSH PRIVATE KEY": "an encrypted OpenSSH key",
                "DER": "an encrypted DER key",
            }.get(block.label, f"{block.label} with Proc-Type: 4,ENCRYPTED")
            yield Hit(
                f"the private key (line {block.start_line}) is encrypted with a passphrase ({how})",
                ctx.path,
                block.start_line,
            )


@rule(
    "key.plaintext",
    severity=ERROR,
    title="Private key committed outside Ansible Vault (opt-in)",
    citation="The private key must be unencrypted.",
    hint="encrypt the file with Ansible Vault: `ansible-vault encrypt FILE` (the deployment still gets the plain "
    "key; check vault files with --vault-password-file)",
    scope=FILE,
    security_severity="8.0",
    tags=("security", "secrets", "private-key"),
    default_on=False,
    needs=PRIVATE_KEYS,
)
def key_plaintext(ctx: FileContext) -> Iterator[Hit]:
    """Opt-in (off in every profile; the ``forbid-plaintext-private-keys`` hook or ``rules: {key.plaintext:
    true}`` turns it on): an unencrypted private key (PEM of any format, OpenSSH, DER, also inline in YAML or any
    text file) in a file that is not an Ansible Vault file. The deployment needs the key unencrypted, so a
    repository keeps it in a vault, never in the clear."""
    if ctx.vaulted:
        return
    for block in ctx.material.private_keys:
        if not block.encrypted:
            fmt = _FORMAT_NAMES.get(block.key_format or "", "DER" if block.label == "DER" else block.label)
            yield Hit(
                f"an unencrypted private key (line {block.start_line}, {fmt}) is stored in the clear",
                ctx.path,
                block.start_line,
            )


@rule(
    "key.algorithm",
    severity=ERROR,
    title="Key algorithm or size not allowed",
    citation="The certificate must specify a cryptographic algorithm and a key size. The following algorithms "
    "are supported by EMQ X Cloud: 1024-bit RSA (RSA_1024) 2048-bit RSA (RSA_2048)",
    hint="make a new key of an allowed algorithm and size (e.g. `openssl genrsa -out server.key 2048`) and "
    "reissue the certificate for it",
    scope=FILE,
    security_severity="7.5",
    tags=("security", "tls", "crypto"),
)
def key_algorithm(ctx: FileContext) -> Iterator[Hit]:
    """Private keys, public keys, certificate requests and server certificates whose key is not in the
    policy's ``allowed_keys`` (seed: RSA_1024, RSA_2048). CA certificates of a chain are not checked: their
    keys are the CA's choice. The size comes from the public numbers only."""
    for public_key, line, cert, what in _key_subjects(ctx):
        problem = key_problem(ctx.policy, key_info(public_key))
        if problem:
            yield Hit(f"{_named(what)} {problem}", ctx.path, line, cert=cert)


@rule(
    "key.weak",
    severity=WARNING,
    title="Allowed but weak key",
    citation="As a security protocol based on the public key algorithm of modern cryptography, TLS/SSL can "
    "ensure transmission security on computer communication networks.",
    hint="move to RSA 2048 (or ECDSA P-256 where the service takes it) at the next renewal",
    scope=FILE,
    security_severity="6.5",
    tags=("security", "tls", "crypto"),
)
def key_weak(ctx: FileContext) -> Iterator[Hit]:
    """A key the policy allows but that is weak by today's standards: RSA or DSA under 2048 bits, EC under
    256 bits (the seed allows RSA_1024)."""
    allowed = ctx.policy.allowed_keys
    for public_key, line, cert, what in _key_subjects(ctx):
        info = key_info(public_key)
        if info.name in allowed and _is_weak(info.name, info.algorithm, info.size):
            yield Hit(f"{_named(what)} has a {info.name} key, which is weak", ctx.path, line, cert=cert)


@rule(
    "cert.version",
    severity=ERROR,
    title="Not an X.509 v3 certificate",
    citation="The certificate must be an SSL/TLS X.509 version 3 certificate.",
    hint="reissue it as v3: sign with an extensions file, e.g. `openssl x509 -req ... -extfile openssl.cnf "
    "-extensions v3_req` (OpenSSL 3 writes v1 when no extensions are given)",
    scope=FILE,
    security_severity="4.0",
    tags=("security", "tls", "certificate"),
    needs=CERTIFICATES,
)
def cert_version(ctx: FileContext) -> Iterator[Hit]:
    """Every certificate (server, chain, client CA) must be X.509 version 3. Client certificates are not imported
    into the deployment (the seed's own client recipe writes v1 ones): they are not held to it."""
    for ref in ctx.certs:
        if ref.position == CLIENT:
            continue
        version = version_of(ref.cert)
        if version != "v3":
            yield Hit(f"{ref.name} is X.509 {version}, not v3", ctx.path, ref.line, cert=ref.cert)


@rule(
    "cert.identity",
    severity=ERROR,
    title="No FQDN or IP address",
    citation="It must contain a public key, the fully qualified domain name (FQDN) or IP address for your "
    "website, and information about the issuer.",
    hint="reissue it with the deployment's address in subjectAltName (openssl.cnf `[alt_names]` "
    "`DNS.1 = mqtt.example.com` or `IP.1 = 203.0.113.10`)",
    scope=FILE,
    security_severity="6.0",
    tags=("security", "tls", "certificate"),
    needs=CERTIFICATES,
)
def cert_identity(ctx: FileContext) -> Iterator[Hit]:
    """The server certificate must name an FQDN or IP address in subjectAltName, or in the subject CN when it has
    no subjectAltName name and the policy allows it (``identity_from_cn``: true in seed and emqx-cloud, false in
    strict). CA certificates and
    client certificates (extended key usage clientAuth without serverAuth) are not server identities."""
    for ref in ctx.certs:
        if ref.position != LEAF:
            continue
        dns, ips = subject_alt_names(ref.cert)
        problem = identity_problem(ctx.policy, dns, ips, functools.partial(_common_name, ref.cert))
        if problem is None or _is_client_only(ref.cert):  # asked last: most certificates name their host
            continue
        yield Hit(f"{ref.name} {problem}", ctx.path, ref.line, cert=ref.cert)


@rule(
    "cert.issuer",
    severity=ERROR,
    title="Empty issuer",
    citation="It must contain a public key, the fully qualified domain name (FQDN) or IP address for your "
    "website, and information about the issuer.",
    hint="reissue it from a CA, or self-sign it with a subject (`openssl req -x509 -subj '/CN=...'`)",
    scope=FILE,
    security_severity="4.0",
    tags=("security", "tls", "certificate"),
    needs=CERTIFICATES,
)
def cert_issuer(ctx: FileContext) -> Iterator[Hit]:
    """Every certificate must carry information about its issuer: an issuer name that is not empty."""
    for ref in ctx.certs:
        if issuer_is_empty(ref.cert, ref.block.der):
            yield Hit(f"{ref.name} has an empty issuer name", ctx.path, ref.line, cert=ref.cert)


@rule(
    "cert.validity",
    severity=ERROR,
    title="Not valid long enough",
    citation="The certificate must be valid. and it cannot be imported before its validity period begins or "
    "within 180 days before its validity period begins.",
    hint="renew it: issue a new certificate (and chain) that is valid now and for long enough",
    scope=FILE,
    security_severity="7.0",
    tags=("security", "tls", "certificate", "expiry"),
    needs=CERTIFICATES,
)
def cert_validity(ctx: FileContext) -> Iterator[Hit]:
    """Every certificate must be valid now (not before its notBefore, not after its notAfter). The server
    certificate must also have at least ``min_days_left`` days of validity left (the seed names 180 days);
    with ``warn_days`` (strict: 210) a warning comes that many days before expiry."""
    policy = ctx.policy
    for ref in ctx.certs:
        start, end = not_before(ref.cert), not_after(ref.cert)
        if ctx.now < start:
            yield Hit(f"{ref.name} is not valid before {_date(start)}", ctx.path, ref.line, cert=ref.cert)
            continue
        if ctx.now > end:
            yield Hit(f"{ref.name} expired on {_date(end)}", ctx.path, ref.line, cert=ref.cert)
            continue
        if ref.position != LEAF:
            continue
        left = (end - ctx.now).days
        problem = days_left_problem(policy, end, ctx.now)
        if problem:
            yield Hit(f"{ref.name} {problem}", ctx.path, ref.line, cert=ref.cert)
        elif left < policy.warn_days:
            yield Hit(
                f"{ref.name} expires on {_date(end)}, in {left} days (warning window: {policy.warn_days} days)",
                ctx.path,
                ref.line,
                cert=ref.cert,
                hint=f"renew it soon: under {policy.min_days_left} days left it can no longer be imported",
                severity=WARNING,
            )


@rule(
    "chain.required",
    severity=ERROR,
    title="CA-signed certificate without its chain",
    citation="If your certificate is signed by a CA, you must include the certificate chain when you import "
    "your certificate.",
    hint="give the issuing CA certificates (intermediates first, in order) as the certificate chain: "
    "`certhygiene complete CERT` fetches and orders them",
    scope=SET,
    security_severity="5.0",
    tags=("tls", "certificate", "chain"),
)
def chain_required(ctx: SetContext) -> Iterator[Hit]:
    """A server certificate that is not self-signed (it is signed by a CA) comes with no chain. Client
    certificates (clientAuth without serverAuth) are never imported into the deployment: they need none."""
    leaf = ctx.leaf
    if leaf is None or not ctx.server or ctx.chain or _is_client_only(leaf.cert):
        return
    if _self_signed(leaf.cert):
        return
    issuer = name_text(leaf.cert, "issuer")
    yield Hit(
        f"{leaf.name} is signed by '{issuer}' but has no certificate chain{ctx.chain_note}",
        leaf.path,
        leaf.line,
        cert=leaf.cert,
    )


@rule(
    "chain.leaf",
    severity=ERROR,
    title="Chain holds the certificate or an end-entity certificate",
    citation="Do not copy the certificate into the certificate chain",
    hint="remove that certificate from the chain: the chain holds only the CA certificates that issued the "
    "server certificate (`certhygiene split` separates them)",
    scope=SET,
    security_severity="4.0",
    tags=("tls", "certificate", "chain"),
)
def chain_leaf(ctx: SetContext) -> Iterator[Hit]:
    """The certificate chain holds the server certificate itself, or any end-entity (non-CA) certificate."""
    for ref in ctx.leaf_copies():
        if ctx.leaf is not None and ref.block.der == ctx.leaf.block.der:
            message = f"the chain holds the certificate itself: {ref.name}"
        else:
            message = f"the chain holds {ref.name}, an end-entity certificate (not a CA)"
        yield Hit(message, ref.path, ref.line, cert=ref.cert)


@rule(
    "chain.order",
    severity=ERROR,
    title="Chain out of order or broken",
    citation="When the certificate is opened in text form, multiple certificates are in the order of user "
    "certificate-intermediate certificate -root certificate.",
    hint="order the chain: first the CA that issued the certificate, then the CA that issued that one, and so "
    "on (`certhygiene complete CERT` rebuilds it)",
    scope=SET,
    security_severity="5.0",
    tags=("tls", "certificate", "chain"),
)
def chain_order(ctx: SetContext) -> Iterator[Hit]:
    """Each chain certificate must directly certify the one before it (the first certifies the server
    certificate): its subject is the issuer name of the one before, and its key verifies that one's
    signature. A chain judged on its own (a CA bundle, a Secret's ``ca.crt``) may hold several chains or
    trust anchors: after a root (self-issued: its subject is its issuer; a trust anchor's own signature, often
    SHA-1, proves nothing) the next certificate starts another one, unless that root issued it and it is no
    root itself (the chain is upside down)."""
    copies = {id(ref) for ref in ctx.leaf_copies()}
    sequence = ([ctx.leaf] if ctx.leaf is not None else []) + [ref for ref in ctx.chain if id(ref) not in copies]
    for before, ref in zip(sequence, sequence[1:]):  # itertools.pairwise is Python 3.10+
        if ctx.signed_by(before, ref):
            continue
        if ctx.leaf is None and _self_issued(before.cert):
            if _self_issued(ref.cert) or not ctx.signed_by(ref, before):
                continue
        wanted = name_text(before.cert, "issuer")
        if wanted == name_text(ref.cert, "subject"):
            message = f"{ref.name} has the issuer's name but its key does not verify the signature of {before.label}"
        else:
            message = f"{ref.name} does not certify {before.label}, whose issuer is '{wanted}'"
        yield Hit(message, ref.path, ref.line, cert=ref.cert)


@rule(
    "chain.algorithm",
    severity=ERROR,
    title="Key algorithm differs from the signing CA's",
    citation="The cryptographic algorithm of an imported certificate must match the algorithm of the signing "
    "CA. For example, if the signing CA key type is RSA, then the certificate key type must also be RSA.",
    hint="issue the certificate from a CA with the same key type (an RSA key for an RSA CA, an EC key for an EC CA)",
    scope=SET,
    security_severity="4.0",
    tags=("tls", "certificate", "chain", "crypto"),
)
def chain_algorithm(ctx: SetContext) -> Iterator[Hit]:
    """The server certificate's key type (RSA, EC ...) differs from the key type of the CA that signed it
    (found in the chain)."""
    leaf = ctx.leaf
    if leaf is None or not ctx.server:
        return
    signer = next((ref for ref in ctx.chain if ctx.signed_by(leaf, ref)), None)
    if signer is None or signer.block.der == leaf.block.der:
        return
    problem = algorithm_problem(_key_info_of(leaf), _key_info_of(signer), lambda: signer.label)
    if problem:
        yield Hit(f"{leaf.name} {problem}", leaf.path, leaf.line, cert=leaf.cert)


@rule(
    "pair.mismatch",
    severity=ERROR,
    title="Private key does not belong to the certificate",
    citation="One-way authentication requires: Server certificate Certificate chain Private key",
    hint="give the private key the certificate was issued for (compare `openssl x509 -noout -pubkey -in CERT` "
    "with `openssl pkey -pubout -in KEY`), or reissue the certificate for this key",
    scope=SET,
    security_severity="7.0",
    tags=("security", "tls", "private-key"),
)
def pair_mismatch(ctx: SetContext) -> Iterator[Hit]:
    """The private key that goes with the certificate (the key input, a key in the same file, or the
    neighbouring key file: ``x.crt`` with ``x.key``) has a different public key than the certificate."""
    leaf = ctx.leaf
    if leaf is None or leaf.block.public_key is None:
        return
    for material, block in ctx.keys:
        if block.public_key is None:
            continue  # encrypted or unreadable: key.encrypted / pem.encoding say so
        if not same_public_key(block.public_key, leaf.block.public_key):
            yield Hit(
                f"the private key in {material.path} (line {block.start_line}) does not belong to {leaf.name}: "
                "their public keys differ",
                leaf.path,
                leaf.line,
                cert=leaf.cert,
            )
            if ctx.key_findings and material.path != leaf.path:
                yield Hit(
                    f"this private key (line {block.start_line}) does not belong to {leaf.name} in {leaf.path}, "
                    "its certificate: their public keys differ",
                    material.path,
                    block.start_line,
                    cert=leaf.cert,
                )


@rule(
    "bundle.multiple",
    severity=ERROR,
    title="Certificate file holds several certificates",
    citation="You need to separate the user certificate from the intermediate certificate and fill the "
    "intermediate certificate into the certificate chain.",
    hint="split it: keep the first (server) certificate in this file and move the others, in order, to the "
    "chain file: `certhygiene split FILE`",
    scope=FILE,
    security_severity="4.0",
    tags=("tls", "certificate", "chain"),
    needs=CERTIFICATES,
)
def bundle_multiple(ctx: FileContext) -> Iterator[Hit]:
    """A certificate file (not a chain or full-chain file) holds more than one certificate: the purchased
    certificate came with its intermediates (seed, common problem 1). Files of CA certificates only are CA
    bundles, not this problem."""
    if ctx.role != "certificate" or len(ctx.certs) < 2 or ctx.certs[0].position != LEAF:
        return
    first, second = ctx.certs[0], ctx.certs[1]
    yield Hit(
        f"the file holds {len(ctx.certs)} certificates: {first.label} followed by {second.label}"
        + (f" and {len(ctx.certs) - 2} more" if len(ctx.certs) > 2 else ""),
        ctx.path,
        second.line,
        cert=first.cert,
    )


@rule(
    "client_ca.invalid",
    severity=ERROR,
    title="Two-way TLS without a valid client CA",
    citation="CA certificate: when selecting two-way authentication, you need to provide the client's CA certificate",
    hint="give the CA certificate that issued the client certificates (the seed's `client-ca.crt`), not a "
    "client certificate",
    scope=SET,
    security_severity="7.5",
    tags=("security", "tls", "client-auth"),
)
def client_ca_invalid(ctx: SetContext) -> Iterator[Hit]:
    """With two-way authentication the client CA is missing, holds no certificate, or holds a certificate that
    is not a CA certificate (basicConstraints CA:TRUE, or a self-issued v1 root)."""
    if not ctx.check_client_ca or not ctx.two_way:
        return
    material = ctx.client_ca
    if material is None:
        yield Hit("two-way authentication needs a client CA certificate and none was given", ctx.client_ca_name)
        return
    certs = material.certificates
    if not certs:
        yield Hit("the client CA holds no certificate", material.path)
    for block in certs:
        if not is_ca(block.certificate):
            ref = CertRef(material, block, CLIENT_CA)
            yield Hit(f"{ref.name} is not a CA certificate", material.path, ref.line, cert=block.certificate)
