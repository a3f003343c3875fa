# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS material inside YAML and JSON documents: Ansible variables, Kubernetes Secrets, Helm values.

A document is parsed only when a cheap pre-scan of its bytes finds a reason (``worth_parsing``: PEM
armour, ``kind: Secret``, ``$ANSIBLE_VAULT``, a ``sops`` key), so a repository of ordinary YAML costs
one read per file and no parser. The parser is PyYAML's *compose* API with the safe loader (libyaml's
when present): it always ships with ansible-core (so the engine needs nothing new on managed nodes),
builds nodes without constructing Python objects (unknown tags such as ``!vault`` or ``!Ref`` do not
fail, aliases are the same node objects, so a billion-laughs document is walked once per node), and
each node keeps its start line. ruamel.yaml would give the same lines but is not always installed.

Material is taken from:

* any string value holding PEM armour (block scalars, quoted strings with ``\\n``);
* Kubernetes ``Secret`` ``data`` (base64 of PEM or DER) and ``stringData``;
* Ansible inline vault values (``!vault |``), decrypted in memory with the vault password.

Each value becomes a ``Value``: its key path (``data.tls.key``, ``servers[2].tls.certificate``), the line
where it starts, and a ``Material`` whose lines are the document's (a block scalar's blocks keep their own
BEGIN lines; any other value's blocks all stand at the value's line). Values of one mapping pair by their
names (``Group``) as files pair by theirs; a ``kubernetes.io/tls`` Secret's ``tls.crt`` is leaf + chain.

``yaml`` and ``.vault`` are imported only when a document is parsed.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .inputs import InputError, read_head

if TYPE_CHECKING:
    from .material import Material, ReadCache

DOCUMENT_EXTENSIONS = (".yml", ".yaml", ".json")
# What makes a document worth parsing; anything else is not material (one regex search over the bytes).
_WORTH = re.compile(
    rb"-----BEGIN |\$ANSIBLE_VAULT;|^[ \t{\-]*[\"']?kind[\"']?[ \t]*:[ \t]*[\"']?Secret\b|^[ \t{,]*[\"']?sops[\"']?[ \t]*:",
    re.MULTILINE,
)
_SOPS_VALUE = re.compile(r"\AENC\[[A-Za-z0-9_]+,")
# A PEM block's body as written in a document: from its BEGIN armour to its END armour (or the end of the text).
_PEM_BODY = re.compile(rb"-----BEGIN [^\n]*?-----(.*?)(?:-----END |\Z)", re.DOTALL)
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=]+")
# What stands in a placeholder's body and never in PEM: an ellipsis, an <angle-bracket> note, a template.
_PLACEHOLDER_MARKS = (b"...", "\u2026".encode(), b"<", b">", b"{{", b"{%", b"${")
# The fewest base64 characters of any real certificate or key body: an Ed25519 PKCS#8 key is 48 bytes, 64 characters.
_MIN_BODY_CHARS = 48
# How many bytes of a document the walk's selection reads (a larger document with material past it is still
# checked when named explicitly or selected by its extension: the check reads it whole).
SCAN_BYTES = 1 << 20


def is_document_name(path: str) -> bool:
    return path.lower().endswith(DOCUMENT_EXTENSIONS)


def worth_parsing(data: bytes) -> bool:
    return _WORTH.search(data) is not None


def is_document_candidate(path: str) -> bool:
    """A YAML/JSON file whose bytes give a reason to parse it (the folder walk and the hooks ask)."""
    head = read_head(path, SCAN_BYTES)
    return head is not None and worth_parsing(head)


@dataclass
class Value:
    """One string value of a document that holds TLS material."""

    key_path: str
    name: str  # the last key (``tls.crt``, ``certificate``)
    line: int  # 1-based line where the value starts
    last_line: int
    material: Material
    role: str = "other"  # certificate | bundle | chain | key | client_ca | other
    vaulted: bool = False


@dataclass
class Group:
    """Values of one mapping that belong together (as a certificate file with its chain, key and client CA)."""

    certificate: Value | None = None
    chain: Value | None = None
    keys: list[Value] = field(default_factory=list)
    client_ca: Value | None = None


@dataclass
class Document:
    path: str
    values: list[Value] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    skips: list[str] = field(default_factory=list)  # why parts were not checked (no vault password, SOPS)
    locked: list[str] = field(default_factory=list)  # the skips a vault password would open
    input_error: str | None = None  # a vault password that does not open a vault value
    problem: tuple[int, str] | None = None  # (line, why): YAML holding PEM armour that does not parse
    parsed: bool = False  # False: not worth parsing (no material)


class _Context:
    def __init__(self, doc: Document, password: bytes | str | None, cache: ReadCache | None, flat: bool) -> None:
        self.doc = doc
        self.password = password
        self.cache = cache
        self.flat = flat  # a whole-file vault: the plaintext's lines are not the file's, every value is at line 1
        self.seen: set[int] = set()
        self.vault_skips = 0


def read_document(
    path: str, data: bytes, vault_password: bytes | str | None, cache: ReadCache | None = None
) -> Document:
    """The material in the YAML or JSON document ``data``; never raises."""
    doc = Document(path)
    if not worth_parsing(data):
        return doc
    doc.parsed = True
    flat = False
    if data.lstrip().startswith(b"$ANSIBLE_VAULT;"):
        plain = _open_vault(doc, data, vault_password, "Ansible Vault file")
        if plain is None:
            return doc
        data, flat = plain, True
        if not worth_parsing(data):
            return doc
    try:
        _parse(doc, data, _Context(doc, vault_password, cache, flat))
    except Exception as exc:  # the reader's contract is to never raise: a document we cannot walk is not material
        doc.values, doc.groups = [], []
        if b"-----BEGIN " in data and not only_placeholders(data):
            doc.problem = (1, f"the document cannot be read for its certificates and keys ({type(exc).__name__})")
    return doc


def only_placeholders(content: bytes) -> bool:
    """True when every PEM block in ``content`` is a placeholder, as Helm values and READMEs hold them
    (``-----BEGIN CERTIFICATE-----`` then ``...``, ``<your key>``, ``{{ cert }}``, ``MIIC...``): a body with an
    ellipsis, an angle-bracket note or a template in it, or with too few base64 characters to be any certificate
    or key. Such a value is documentation, not material (reporting it would block every such commit)."""
    bodies = [match.group(1) for match in _PEM_BODY.finditer(content)]
    return bool(bodies) and all(
        any(mark in body for mark in _PLACEHOLDER_MARKS) or len(_NOT_BASE64.sub(b"", body)) < _MIN_BODY_CHARS
        for body in bodies
    )


def _open_vault(doc: Document, data: bytes, password: bytes | str | None, what: str) -> bytes | None:
    from .vault import VaultError, VaultPasswordError, decrypt_vault

    if password is None:
        doc.skips.append(f"{what}: no vault password given")
        doc.locked.append(doc.skips[-1])
        return None
    try:
        return decrypt_vault(data, password)
    except VaultPasswordError:
        doc.input_error = (
            f"the vault password does not open the {what} (wrong password, or it was encrypted with another vault "
            "id's password); fix --vault-password-file or $ANSIBLE_VAULT_PASSWORD_FILE"
        )
    except VaultError as exc:
        doc.skips.append(f"{what}: {exc}")
    return None


def _parse(doc: Document, data: bytes, ctx: _Context) -> None:
    try:
        import yaml
    except ImportError:  # a managed node without PyYAML: say so rather than pass the document silently
        doc.skips.append("YAML document: PyYAML is not installed here (pip install PyYAML) to check it")
        return
    loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    try:
        nodes = list(yaml.compose_all(data, Loader=loader))  # compose builds no Python objects
    except yaml.YAMLError as exc:
        if b"-----BEGIN " not in data or only_placeholders(data):
            return  # not YAML and no armour (or only placeholders, as a Helm template may hold): not material
        mark = getattr(exc, "problem_mark", None)
        line = 1 if ctx.flat or mark is None else mark.line + 1
        problem = getattr(exc, "problem", None) or "a syntax error"
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        where = f", {context} at line {start.line + 1}" if context and start is not None and not ctx.flat else ""
        doc.problem = (
            line,
            f"the YAML does not parse ({problem} at line {line}{where}), so the certificates and keys in it "
            "cannot be checked",
        )
        return
    for index, root in enumerate(nodes):
        if root is None:
            continue
        if _sops(root):
            doc.skips.append("SOPS-encrypted: decrypt to check (sops -d)")
            continue
        prefix = f"[{index}]" if len(nodes) > 1 else ""
        _walk(root, prefix, ctx)


def _mapping_items(node: Any) -> list[tuple[str, Any]]:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return []
    return [(key.value if isinstance(key, yaml.ScalarNode) else "?", value) for key, value in node.value]


def _scalar(node: Any) -> str | None:
    import yaml

    return node.value if isinstance(node, yaml.ScalarNode) else None


def _is_secret(root: Any) -> bool:
    items = dict(_mapping_items(root))
    kind = items.get("kind")
    return kind is not None and _scalar(kind) == "Secret"


def _sops(root: Any) -> bool:
    """A SOPS-encrypted document: a ``sops`` mapping at the top and ``ENC[...]`` values."""
    items = _mapping_items(root)
    if not any(name == "sops" and _mapping_items(value) for name, value in items):
        return False
    import yaml

    stack = [value for name, value in items if name != "sops"]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if isinstance(node.value, str) and _SOPS_VALUE.match(node.value):
                return True
        elif isinstance(node, yaml.MappingNode):
            stack.extend(value for _key, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return False


def _walk(node: Any, key_path: str, ctx: _Context) -> None:
    import yaml

    if id(node) in ctx.seen:  # an alias: walked once, where it first stands
        return
    ctx.seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        secret = _is_secret(node)  # a Secret at the top, or in a List's items
        found: list[Value] = []
        for name, child in _mapping_items(node):
            path = f"{key_path}.{name}" if key_path else name
            if isinstance(child, yaml.ScalarNode):
                if id(child) in ctx.seen:
                    continue
                ctx.seen.add(id(child))
                value = _value(child, path, name, ctx, encoding=None)
                if value is not None:
                    found.append(value)
            elif secret and name in ("data", "stringData") and isinstance(child, yaml.MappingNode):
                ctx.seen.add(id(child))
                values = []
                for entry, scalar in _mapping_items(child):
                    if not isinstance(scalar, yaml.ScalarNode) or id(scalar) in ctx.seen:
                        continue
                    ctx.seen.add(id(scalar))
                    value = _value(scalar, f"{path}.{entry}", entry, ctx, "base64" if name == "data" else None)
                    if value is not None:
                        value.role = _secret_role(entry, value.role)
                        values.append(value)
                _group(ctx.doc, values, secret=True)
            else:
                _walk(child, path, ctx)
        _group(ctx.doc, found, secret=False)
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            path = f"{key_path}[{index}]"
            if isinstance(child, yaml.ScalarNode):
                if id(child) in ctx.seen:
                    continue
                ctx.seen.add(id(child))
                value = _value(child, path, "", ctx, encoding=None)
                if value is not None:
                    _group(ctx.doc, [value], secret=False)
            else:
                _walk(child, path, ctx)
    elif isinstance(node, yaml.ScalarNode):
        value = _value(node, key_path or "(document)", "", ctx, encoding=None)
        if value is not None:
            _group(ctx.doc, [value], secret=False)


def _value(node: Any, key_path: str, name: str, ctx: _Context, encoding: str | None) -> Value | None:
    """The material of a scalar value, or None when it holds none."""
    from .material import NO_VALID_BLOCK, STRAY_TEXT, read_bytes

    text = node.value
    if not isinstance(text, str) or not text:
        return None
    line = 1 if ctx.flat else node.start_mark.line + 1
    last = 1 if ctx.flat else max(line, node.end_mark.line + (0 if node.end_mark.column == 0 else 1))
    vaulted = ctx.flat
    offset: int | None = None  # document line = offset + content line (block scalars only)
    if node.tag == "!vault":
        stripped = text.strip()
        if not stripped.startswith("$ANSIBLE_VAULT;"):
            return None
        plain = _open_vault(
            ctx.doc, stripped.encode("ascii", "replace"), ctx.password, f"inline vault value {key_path}"
        )
        if plain is None:
            return None
        content, vaulted = plain, True
    elif encoding == "base64":
        try:
            content = binascii.a2b_base64("".join(text.split()).encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            return None
        if b"-----BEGIN " not in content and not content.startswith(b"\x30"):
            return None  # not PEM, not DER: a password or a config file
    else:
        if "-----BEGIN " not in text:
            return None
        content = text.encode("utf-8", "replace")
        if node.style in ("|", ">") and not ctx.flat:
            offset = node.start_mark.line + 1
    if b"-----BEGIN " not in content and encoding != "base64":
        return None
    if not content.strip() or only_placeholders(content):
        return None
    material = read_bytes(content, ctx.doc.path, ctx.cache)
    if not material.blocks and material.form != "pem":
        return None  # a decrypted vault value or base64 that is not TLS material
    if material.form == "pem" and not _meant_as_pem(name, content):
        # PEM quoted inside other text (a CI step's script, a description): its blocks are material, the text
        # around them is not a finding.
        material.problems[:] = [
            p for p in material.problems if not p.detail.startswith(STRAY_TEXT) and p.detail != NO_VALID_BLOCK
        ]
        if not material.blocks and not material.problems:
            return None
    _relocate(material, line, offset)
    value = Value(key_path, name, line, last, material, _content_role(material), vaulted)
    value.role = _name_role(name, material) or value.role
    return value


def _meant_as_pem(name: str, content: bytes) -> bool:
    """A value that is to be PEM (text around its blocks is a finding, as in a file): it opens with the armour, or
    its key names TLS material (``caBundle``, ``ssl_certificate``, ``tls.key``)."""
    if content.lstrip().startswith(b"-----BEGIN "):
        return True
    tokens = _tokens(name)
    if not tokens:
        return False
    joined = "_".join(tokens)
    return (
        tokens[-1] in _CERT_TOKENS | _KEY_TOKENS | _CHAIN_NAMES | _CA_NAMES | {"fullchain"}
        or joined in _CHAIN_NAMES | _CA_NAMES
        or joined.endswith("ca_bundle")
    )


def _relocate(material: Material, line: int, offset: int | None) -> None:
    """Give the material's blocks and problems the document's lines (and the reader's words for a file, the
    value's)."""
    from .material import EncodingProblem

    def where(inner: int) -> int:
        return offset + inner if offset is not None and inner else line

    for block in material.blocks:
        block.start_line, block.end_line = where(block.start_line), where(block.end_line)
    material.problems[:] = [
        EncodingProblem(where(p.line), p.detail.replace("the file", "the value")) for p in material.problems
    ]


def _content_role(material: Material) -> str:
    kinds = {block.kind for block in material.blocks}
    if "certificate" in kinds:
        return "certificate"
    return "key" if "private_key" in kinds else "other"


_CHAIN_NAMES = frozenset({"chain", "ca_bundle", "cabundle", "bundle", "intermediate", "intermediates", "ca_chain"})
_CA_NAMES = frozenset({"ca", "ca_cert", "ca_crt", "ca_certificate", "cacert", "ca_pem", "ca_file"})
_CERT_TOKENS = frozenset({"certificate", "cert", "crt", "pem"})
_KEY_TOKENS = frozenset({"key", "privkey"})


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[._\-\s]+", name.lower()) if t]


def _name_role(name: str, material: Material) -> str | None:
    """What the key's name says the value is, when the content agrees (the content decides otherwise)."""
    tokens = _tokens(name)
    if not tokens:
        return None
    joined = "_".join(tokens)
    certs = any(b.kind == "certificate" for b in material.blocks)
    keys = material.has_private_key
    if ("client" in tokens and ("ca" in tokens or "cacert" in tokens)) and certs:
        return "client_ca"
    if ("fullchain" in tokens or "full_chain" in joined) and certs:
        return "bundle"
    if ("chain" in tokens or joined in _CHAIN_NAMES or joined.endswith("ca_bundle") or joined in _CA_NAMES) and certs:
        return "chain"
    if tokens[-1] in _KEY_TOKENS and keys:
        return "key"
    if tokens[-1] in _CERT_TOKENS and certs:
        return "certificate"
    return None


def _secret_role(entry: str, role: str) -> str:
    """Kubernetes' names: tls.crt is the leaf followed by its chain, tls.key its key, ca.crt the CA."""
    return {"tls.crt": "bundle", "tls.key": "key", "ca.crt": "chain"}.get(entry, role) if role != "other" else role


def _stem(name: str, role: str) -> str:
    tokens = _tokens(name)
    drop = {
        "certificate": _CERT_TOKENS,
        "bundle": _CERT_TOKENS | {"fullchain", "full", "chain"},
        "key": _KEY_TOKENS | {"private"},
        "chain": {"chain", "bundle", "ca", "intermediate", "intermediates", "crt", "cert", "pem", "certificate"},
        "client_ca": {"client", "ca", "cert", "crt", "pem", "certificate", "cacert"},
    }.get(role, set())
    while tokens and tokens[-1] in drop:
        tokens.pop()
    if role == "key" and tokens and tokens[-1] == "private":
        tokens.pop()
    return "_".join(tokens)


def _group(doc: Document, values: list[Value], secret: bool) -> None:
    """Record the values of one mapping and pair them by name: same stem first (``server_cert`` with
    ``server_key``); a mapping with one certificate takes every key, chain and client CA left over."""
    if not values:
        return
    doc.values.extend(values)
    certs = [v for v in values if v.role in ("certificate", "bundle")]
    groups = [Group(certificate=v) for v in certs]
    by_stem = {_stem(g.certificate.name, g.certificate.role): g for g in groups if g.certificate is not None}
    leftovers: list[Value] = []
    for value in values:
        if value.role in ("certificate", "bundle", "other"):
            continue
        target = by_stem.get(_stem(value.name, value.role))
        if target is None and len(groups) == 1:
            target = groups[0]
        if secret and value.role == "chain":
            target = None  # ca.crt is the CA, not tls.crt's chain (tls.crt holds it): judged on its own
        if target is None:
            leftovers.append(value)
        elif value.role == "key":
            target.keys.append(value)
        elif value.role == "chain" and target.chain is None:
            target.chain = value
        elif value.role == "client_ca" and target.client_ca is None:
            target.client_ca = value
        else:
            leftovers.append(value)
    doc.groups.extend(groups)
    for value in leftovers:
        if value.role == "key":
            doc.groups.append(Group(keys=[value]))
        elif value.role == "chain":
            doc.groups.append(Group(chain=value))
        elif value.role == "client_ca":
            doc.groups.append(Group(client_ca=value))


def read_document_file(
    path: str, max_bytes: int, vault_password: bytes | str | None, cache: ReadCache | None = None
) -> Document | InputError:
    """``read_document`` of the file ``path`` (bounded read); the ``InputError`` when it cannot be read."""
    from .inputs import read_regular

    try:
        data = read_regular(path, max_bytes)
    except InputError as exc:
        return exc
    return read_document(path, data, vault_password, cache)


__all__ = [
    "DOCUMENT_EXTENSIONS",
    "Document",
    "Group",
    "Value",
    "is_document_candidate",
    "is_document_name",
    "only_placeholders",
    "read_document",
    "read_document_file",
    "worth_parsing",
]
