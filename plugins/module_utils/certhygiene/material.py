# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read any file's bytes and say what is in it.

``read_bytes`` never raises: whatever it cannot understand is recorded as an
``EncodingProblem`` on the returned ``Material``, which the ``pem.encoding``
rule turns into a finding. Each block is decoded and parsed once, here.
Private keys are loaded without RSA consistency checks (which cost ~28 ms a
key); rules only need the public numbers.
"""

from __future__ import annotations

import binascii
import codecs
import hashlib
import re
from typing import Any

from ._crypto import (
    PasswordRequired,
    UnsupportedAlgorithm,
    load_der_private_key,
    load_ssh_private_key,
    serialization,
    x509,
)
from ._record import Record
from .inputs import DEFAULT_MAX_BYTES, InputError, NotRegularFile, read_regular

# Labels as RFC 7468 and OpenSSL write them.
CERTIFICATE_LABELS = frozenset({"CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"})
CSR_LABELS = frozenset({"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"})
PRIVATE_KEY_FORMATS = {
    "RSA PRIVATE KEY": "pkcs1",
    "EC PRIVATE KEY": "sec1",
    "DSA PRIVATE KEY": "dsa",
    "PRIVATE KEY": "pkcs8",
    "ENCRYPTED PRIVATE KEY": "pkcs8",
    "OPENSSH PRIVATE KEY": "openssh",
}
PUBLIC_KEY_LABELS = frozenset({"PUBLIC KEY", "RSA PUBLIC KEY"})

VAULT_HEADER = b"$ANSIBLE_VAULT;"

# Two of the reader's problems that a document value quoting PEM inside other text (a script, a description) does
# not have: documents.py drops them for such values.
STRAY_TEXT = "text outside the BEGIN/END lines"  # how the problem starts; one problem for each stretch of text
NO_VALID_BLOCK = "the file looks like PEM but holds no valid PEM block"
_BEGIN = re.compile(r"^-----BEGIN ([A-Z0-9 ]+)-----\s*$")
_END = re.compile(r"^-----END ([A-Z0-9 ]+)-----\s*$")
_HEADER = re.compile(r"^([A-Za-z0-9-]+):\s*(.*)$")
_BASE64_LINE = re.compile(r"^[A-Za-z0-9+/=]+$")
# A block with no headers (base64 alphabet only between the armour lines); greedy, so no backtracking.
_CLEAN_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*)-----END ([A-Z0-9 ]+)-----[ \t]*(?:\r?\n|\Z)"
)
_OPENSSH_MAGIC = b"openssh-key-v1\x00"
# DER of the PKCS#7 "data" content type, which starts every PKCS#12 AuthenticatedSafe.
_PKCS7_DATA_OID = bytes.fromhex("06092a864886f70d010701")


class EncodingProblem(Record):
    """Something that keeps a file from being clean PEM (rule ``pem.encoding``). Treat as immutable."""

    __slots__ = _fields = ("line", "detail")

    line: int
    detail: str

    def __init__(self, line: int, detail: str) -> None:
        self.line = line
        self.detail = detail


class Block(Record):
    """One object found in a file: a PEM block, or the whole file when it is DER."""

    _fields = (
        "index",
        "label",
        "kind",
        "start_line",
        "end_line",
        "der",
        "encrypted",
        "key_format",
        "certificate",
        "csr",
        "private_key",
        "public_key",
        "parse_error",
    )
    __hash__ = None  # type: ignore[assignment]  # it changes (check._vet): unhashable, as a dataclass not frozen

    index: int
    label: str
    kind: str  # certificate | csr | private_key | public_key | other
    start_line: int
    end_line: int
    der: bytes
    encrypted: bool
    key_format: str | None  # pkcs1 | pkcs8 | sec1 | dsa | openssh | der
    certificate: Any  # x509.Certificate
    csr: Any  # x509.CertificateSigningRequest
    private_key: Any  # PrivateKeyTypes, only when unencrypted and parseable
    public_key: Any  # the key's public half, or the certificate's public key
    parse_error: str | None

    def __init__(
        self,
        index: int,
        label: str,
        kind: str,
        start_line: int,
        end_line: int,
        der: bytes,
        encrypted: bool = False,
        key_format: str | None = None,
        certificate: Any = None,
        csr: Any = None,
        private_key: Any = None,
        public_key: Any = None,
        parse_error: str | None = None,
    ) -> None:
        self.index = index
        self.label = label
        self.kind = kind
        self.start_line = start_line
        self.end_line = end_line
        self.der = der
        self.encrypted = encrypted
        self.key_format = key_format
        self.certificate = certificate
        self.csr = csr
        self.private_key = private_key
        self.public_key = public_key
        self.parse_error = parse_error

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()

    def copy(self) -> Block:
        """A shallow copy (the parsed objects are immutable and shared); a third of ``copy.copy``'s cost."""
        clone = Block.__new__(Block)
        clone.__dict__.update(self.__dict__)
        return clone


class Material(Record):
    """Everything read from one file."""

    _fields = ("path", "form", "blocks", "problems", "skip_reason", "content")
    _compared = _shown = _fields[:-1]
    __hash__ = None  # type: ignore[assignment]  # it changes: unhashable, as a dataclass that is not frozen

    path: str
    form: str  # pem | der | pkcs12 | vault | text | binary | empty | skipped
    blocks: list[Block]
    problems: list[EncodingProblem]
    skip_reason: str | None  # form "skipped": why it was not read (not a regular file)
    # The bytes it was read from, when the check's ReadCache keeps them (files up to 64 KiB): copies of one
    # content are one key for what the engine works out once per content (check._Run: file rules' hits).
    content: bytes | None
    _ends: dict[int, int]
    _indexed: int

    def __init__(
        self,
        path: str,
        form: str,
        blocks: list[Block] | None = None,  # None: a new empty list
        problems: list[EncodingProblem] | None = None,  # None: a new empty list
        skip_reason: str | None = None,
        content: bytes | None = None,
    ) -> None:
        self.path = path
        self.form = form
        self.blocks = [] if blocks is None else blocks
        self.problems = [] if problems is None else problems
        self.skip_reason = skip_reason
        self.content = content
        self._ends = {}
        self._indexed = -1

    def end_line_of(self, line: int) -> int:
        """The last line of the block that starts at ``line`` (``line`` itself when none does).

        An index built on first use: findings ask once per block, and a scan per question made a file of many
        broken blocks take quadratic time. Rebuilt when blocks were added since."""
        if self._indexed != len(self.blocks):
            ends: dict[int, int] = {}
            for block in self.blocks:
                ends.setdefault(block.start_line, block.end_line)
            self._ends, self._indexed = ends, len(self.blocks)
        return max(self._ends.get(line, line), line) if line else line

    @property
    def certificates(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "certificate" and b.certificate is not None]

    @property
    def private_keys(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "private_key"]

    @property
    def has_private_key(self) -> bool:
        for block in self.blocks:  # a loop, not any() over a generator: asked of every file
            if block.kind == "private_key":
                return True
        return False


class ReadCache:
    """What ``read_bytes`` may reuse within one check (make one per check, never share it between checks).

    A repository holds the same CA certificates, often the same chain file, in many places:
    ``certificates`` maps a DER already parsed to (certificate, public key, parse error), so each certificate is
    parsed once and its parsed object shared (cryptography's own caches, and the engine's caches keyed by DER,
    serve every copy); ``contents`` maps the bytes of a file already read (small files only) to what reading
    them found, so identical files are decoded once. Each read still returns its own Material and Blocks: the
    engine annotates them.
    """

    def __init__(self) -> None:
        self.certificates: dict[bytes, tuple[Any, Any, str | None]] = {}
        self.contents: dict[bytes, Material] = {}


_CACHED_CONTENT_SIZE = 1 << 16  # larger files are not remembered by content


def read_file(path: str, cache: ReadCache | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> Material:
    """Read ``path``; never an exception, never a hang.

    Not a regular file (FIFO, device, socket): form ``skipped`` with the reason, nothing read.
    Unreadable or larger than ``max_bytes``: a Material with a problem (a ``pem.encoding`` finding).
    """
    try:
        data = read_regular(path, max_bytes)
    except NotRegularFile as exc:
        return Material(path=path, form="skipped", skip_reason=exc.reason)
    except InputError as exc:
        return Material(path=path, form="binary", problems=[EncodingProblem(0, exc.reason)])
    return read_bytes(data, path, cache)


def read_bytes(data: bytes, path: str = "<content>", cache: ReadCache | None = None) -> Material:
    """Find every certificate, request and key in ``data`` (``cache``: reuse what this check read before)."""
    if cache is None or not isinstance(data, bytes) or len(data) > _CACHED_CONTENT_SIZE:
        return _read(data, path, cache)
    found = cache.contents.get(data)
    if found is None:
        found = cache.contents[data] = _read(data, path, cache)
    return Material(path, found.form, [block.copy() for block in found.blocks], list(found.problems), content=data)


_BOMS = (
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


_BOM_STARTS = frozenset(mark[:1] for mark, _codec, _name in _BOMS)


def _read(data: bytes, path: str, cache: ReadCache | None) -> Material:
    bom = next((entry for entry in _BOMS if data.startswith(entry[0])), None) if data[:1] in _BOM_STARTS else None
    if bom is None:
        return _read_plain(data, path, cache)
    # A byte order mark (Windows editors add one) is one problem, named as such, not a stray-text error per line.
    mark, codec, name = bom
    try:
        plain = data[len(mark) :] if codec == "utf-8" else data.decode(codec).encode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError):
        plain = data[len(mark) :]
    material = _read_plain(plain, path, cache)
    what = "a UTF-8 byte order mark (BOM)" if codec == "utf-8" else f"a {name} byte order mark (BOM): it is {name} text"
    material.problems.insert(
        0, EncodingProblem(1, f"the file starts with {what}; PEM is plain ASCII: save it without the BOM")
    )
    return material


def _read_plain(data: bytes, path: str, cache: ReadCache | None) -> Material:
    try:
        start = data.lstrip()
        if not start:
            return Material(path, "empty", problems=[EncodingProblem(1, "the file is empty")])
        if start.startswith(VAULT_HEADER):
            return Material(path, "vault")
        if b"-----BEGIN " in data:
            return _read_pem(data, path, cache)
        return _read_binary_or_text(data, path)
    except Exception as exc:  # the reader's contract is to never raise
        return Material(path, "binary", problems=[EncodingProblem(1, f"unreadable content ({type(exc).__name__})")])


def _read_pem(data: bytes, path: str, cache: ReadCache | None) -> Material:
    return _read_clean_pem(data, path, cache) or _read_pem_lines(data, path, cache)


def _read_clean_pem(data: bytes, path: str, cache: ReadCache | None) -> Material | None:
    """The common case in one pass: ASCII blocks with matching labels, no headers, only
    white space between them. Anything else returns None and goes to the line reader,
    which says exactly what is wrong and where."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    material = Material(path, "pem")
    position = 0
    line = 1
    for match in _CLEAN_BLOCK.finditer(text):
        start, end = match.span()
        label, body = match.group(1, 2)
        if (start > position and not text[position:start].isspace()) or label != match.group(3):
            return None
        der = _decode_clean_body(body)
        if der is None:
            return None
        start_line = line + text.count("\n", position, start)
        line = start_line + text.count("\n", start, end)  # the line after the END line
        end_line = line - 1 if text[end - 1] == "\n" else line
        _add_decoded_block(material, label, start_line, end_line, {}, der, cache)
        position = end
    if position == 0 or (position < len(text) and not text[position:].isspace()):
        return None
    return material


def _decode_clean_body(body: str) -> bytes | None:
    """``_decode_base64`` of a body ``_CLEAN_BLOCK`` matched (base64 alphabet, ``=`` and line breaks only), without
    joining its lines: ``a2b_base64`` skips line breaks, and as whole 4-character groups re-encode to themselves,
    only the last, partial group can be non-canonical (unused bits set), so only it is re-encoded."""
    padding = body.find("=")
    if padding >= 0 and body[padding:].strip("=\r\n"):
        return None  # data after the padding
    try:
        der = binascii.a2b_base64(body)
    except (binascii.Error, ValueError):
        return None
    if not der and padding < 0:
        return None  # no data at all
    # The base64 characters of the last, partial group, from the length decoded (no count over the body): n full
    # groups give 3n bytes, a group of 2 or 3 characters one or two more (a lone character does not decode).
    partial = (0, 2, 3)[len(der) % 3]
    if partial:
        last = ""
        for char in reversed(body):
            if char not in "=\r\n":
                last = char + last
                if len(last) == partial:
                    break
        if binascii.b2a_base64(der[len(der) // 3 * 3 :], newline=False).rstrip(b"=") != last.encode("ascii"):
            return None
    return der


def _decode_base64(joined: str) -> bytes | None:
    """Strict, canonical base64 (the armour of a clean PEM block), or None."""
    if not joined or not _BASE64_LINE.match(joined):
        return None
    try:
        raw = joined.encode("ascii")
        der = binascii.a2b_base64(raw)
        if binascii.b2a_base64(der, newline=False).rstrip(b"=") != raw.rstrip(b"="):
            return None
    except (binascii.Error, ValueError):
        return None
    return der


def _read_pem_lines(data: bytes, path: str, cache: ReadCache | None) -> Material:
    material = Material(path, "pem")
    text = data.decode("utf-8", errors="replace")
    if "\ufffd" in text:
        material.problems.append(EncodingProblem(1, "the file holds bytes that are not text"))
    label: str | None = None
    start = 0
    headers: dict[str, str] = {}
    body: list[str] = []
    in_headers = False
    # Text between two blocks is one problem at its first line, not one per line: a bundle with a comment
    # before each certificate (certifi's, curl's cacert.pem) made hundreds of findings.
    stray: list[int] = []  # the first and the last line of the stretch of text not yet reported

    def report_stray() -> None:
        if stray:
            # The extent as a count, not line numbers: a document value's lines are not its text's.
            extent = f", {stray[-1] - stray[0] + 1} lines from here" if stray[-1] > stray[0] else ""
            material.problems.append(
                EncodingProblem(stray[0], f"{STRAY_TEXT}{extent} (only PEM blocks may stand in the file)")
            )
            stray.clear()

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if label is None:
            if not line:
                continue
            begin = _BEGIN.match(line)
            end = None if begin else _END.match(line)
            if begin is None and end is None and not line.startswith(("-----BEGIN", "-----END")):
                stray[1:] = [number]  # the stretch's first line stays; its last is this one
                continue
            report_stray()
            if begin:
                label, start, headers, body, in_headers = begin.group(1), number, {}, [], True
            elif end:
                material.problems.append(EncodingProblem(number, "an END line without its BEGIN line"))
            elif line.startswith(("-----BEGIN", "-----END")):
                material.problems.append(
                    EncodingProblem(
                        number,
                        "a broken armour line (a PEM armour line is -----BEGIN LABEL----- or -----END LABEL-----, "
                        "with five dashes on each side and an upper-case label)",
                    )
                )
            continue
        end = _END.match(line)
        if end:
            if end.group(1) != label:
                material.problems.append(
                    EncodingProblem(number, f"BEGIN {label} (line {start}) is closed by END {end.group(1)}")
                )
            else:
                _add_block(material, label, start, number, headers, body, cache)
            label = None
            continue
        if _BEGIN.match(line):
            material.problems.append(EncodingProblem(start, f"BEGIN {label} has no END line before line {number}"))
            label, start, headers, body, in_headers = _BEGIN.match(line).group(1), number, {}, [], True  # type: ignore[union-attr]
            continue
        if in_headers:
            header = _HEADER.match(line)
            if header and not body:
                headers[header.group(1)] = header.group(2)
                continue
            in_headers = False
            if not line:
                continue
        if line:
            body.append(line)
    report_stray()
    if label is not None:
        material.problems.append(EncodingProblem(start, f"BEGIN {label} has no END line"))
    if not material.blocks:
        material.problems.append(EncodingProblem(1, NO_VALID_BLOCK))
    return material


def _add_block(
    material: Material,
    label: str,
    start: int,
    end: int,
    headers: dict[str, str],
    body: list[str],
    cache: ReadCache | None,
) -> None:
    der = _decode_base64("".join(body))
    if der is None:
        material.problems.append(EncodingProblem(start, f"the {label} block is not valid base64"))
        return
    _add_decoded_block(material, label, start, end, headers, der, cache)


def _add_decoded_block(
    material: Material,
    label: str,
    start: int,
    end: int,
    headers: dict[str, str],
    der: bytes,
    cache: ReadCache | None = None,
) -> None:
    block = Block(index=len(material.blocks), label=label, kind="other", start_line=start, end_line=end, der=der)
    material.blocks.append(block)
    if label in CERTIFICATE_LABELS:
        block.kind = "certificate"
        _parse_certificate(block, cache)
    elif label in CSR_LABELS:
        block.kind = "csr"
        try:
            block.csr = x509.load_der_x509_csr(der)
            block.public_key = block.csr.public_key()
        except (ValueError, UnsupportedAlgorithm) as exc:
            block.parse_error = _reason(exc)
    elif label in PRIVATE_KEY_FORMATS:
        block.kind = "private_key"
        block.key_format = PRIVATE_KEY_FORMATS[label]
        block.encrypted = (
            label == "ENCRYPTED PRIVATE KEY"
            or "ENCRYPTED" in headers.get("Proc-Type", "").upper()
            or (label == "OPENSSH PRIVATE KEY" and _openssh_encrypted(der))
        )
        if not block.encrypted:
            _parse_private_key(block, label)
    elif label in PUBLIC_KEY_LABELS:
        block.kind = "public_key"
        try:
            if label == "RSA PUBLIC KEY":
                block.public_key = serialization.load_pem_public_key(_pem(label, der))
            else:
                block.public_key = serialization.load_der_public_key(der)
        except (ValueError, UnsupportedAlgorithm) as exc:
            block.parse_error = _reason(exc)
    if block.parse_error:
        material.problems.append(EncodingProblem(start, f"the {label} block cannot be parsed: {block.parse_error}"))


def _parse_certificate(block: Block, cache: ReadCache | None = None) -> None:
    if cache is not None:
        parsed = cache.certificates.get(block.der)
        if parsed is not None:
            block.certificate, block.public_key, block.parse_error = parsed
            return
    try:
        block.certificate = x509.load_der_x509_certificate(block.der)
        block.public_key = block.certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        block.certificate = None
        block.parse_error = _reason(exc)
    if cache is not None:
        cache.certificates[block.der] = (block.certificate, block.public_key, block.parse_error)


def _parse_private_key(block: Block, label: str) -> None:
    key: Any
    try:
        if label == "OPENSSH PRIVATE KEY":
            key = load_ssh_private_key(_pem(label, block.der))
        else:
            key = load_der_private_key(block.der)
        block.private_key = key
        block.public_key = key.public_key()
    except PasswordRequired:
        # cryptography says a password is needed: the key is encrypted after all.
        block.encrypted = True
    except (ValueError, UnsupportedAlgorithm) as exc:
        block.parse_error = _reason(exc)


def _openssh_encrypted(der: bytes) -> bool:
    """An OpenSSH key names its cipher right after the magic; ``none`` means plain."""
    if not der.startswith(_OPENSSH_MAGIC):
        return False
    offset = len(_OPENSSH_MAGIC)
    length = int.from_bytes(der[offset : offset + 4], "big")
    return der[offset + 4 : offset + 4 + length] != b"none"


def _read_binary_or_text(data: bytes, path: str) -> Material:
    if _looks_like_text(data):
        return Material(path, "text", problems=[EncodingProblem(1, "no PEM block (-----BEGIN ...-----) in the file")])
    material = Material(path, "der")
    block = Block(index=0, label="DER", kind="other", start_line=1, end_line=1, der=data)
    try:
        block.certificate = x509.load_der_x509_certificate(data)
        block.public_key = block.certificate.public_key()
        block.kind = "certificate"
    except (ValueError, UnsupportedAlgorithm):
        try:
            key = load_der_private_key(data)
            block.kind, block.key_format, block.private_key = "private_key", "der", key
            block.public_key = key.public_key()
        except PasswordRequired:
            block.kind, block.key_format, block.encrypted = "private_key", "der", True
        except (ValueError, UnsupportedAlgorithm):
            if _looks_like_pkcs12(data):
                material.form = "pkcs12"
                return material
            material.form = "binary"
            return material
    material.blocks.append(block)
    return material


def _looks_like_text(data: bytes) -> bool:
    sample = data[:4096]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _looks_like_pkcs12(data: bytes) -> bool:
    # PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo (data) ... }
    head = data[:40]
    return head[:1] == b"\x30" and b"\x02\x01\x03" in head and _PKCS7_DATA_OID in head


def _pem(label: str, der: bytes) -> bytes:
    body = binascii.b2a_base64(der, newline=False).decode("ascii")
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n".encode("ascii")


def _reason(exc: BaseException) -> str:
    # cryptography's messages describe the structure, never the key bytes.
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return message[:200]


def to_pem(label: str, der: bytes) -> bytes:
    """Armour DER as PEM with 64-column lines."""
    return _pem(label, der)
