"""Bounded reads, sizes, escaping and the hostile-input corners of the engine (issue 9)."""

from __future__ import annotations

import os
import random
import string
from pathlib import Path

import pytest
from certhygiene import chain as ch
from certhygiene.check import check_paths
from certhygiene.findings import safe_text
from certhygiene.inputs import (
    DEFAULT_MAX_BYTES,
    NotRegularFile,
    TooLarge,
    format_size,
    parse_size,
    read_regular,
)
from certhygiene.material import _decode_base64, _decode_clean_body, read_bytes, read_file
from certhygiene.policy import PolicyError, load_policy
from certhygiene.report import render_json, render_sarif, render_text
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from support.aia import dribbling_server
from support.pki import NOW, issue, key, pem, three_level

# ------------------------------------------------------------------ sizes


@pytest.mark.parametrize(
    ("text", "size"),
    [("16M", 16 << 20), ("512k", 512 << 10), ("512K", 512 << 10), ("1G", 1 << 30), ("4096", 4096), ("2MiB", 2 << 20)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-1", "0", "1.5M", "16 T", "M"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(text)


def test_format_size() -> None:
    assert format_size(DEFAULT_MAX_BYTES) == "16 MiB"
    assert format_size(1024) == "1 KiB"
    assert format_size(1000) == "1000 bytes"


def test_policy_max_file_size(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("max_file_size: 64k\n")
    assert load_policy(path=str(tmp_path / "p.yaml")).max_file_size == 64 << 10
    assert load_policy(discover=False).max_file_size == DEFAULT_MAX_BYTES
    assert load_policy(discover=False, overrides={"max_file_size": "1M"}).max_file_size == 1 << 20
    (tmp_path / "bad.yaml").write_text("max_file_size: huge\n")
    with pytest.raises(PolicyError, match=r"bad\.yaml: max_file_size: not a size: 'huge'"):
        load_policy(path=str(tmp_path / "bad.yaml"))


def test_policy_file_limits(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * 200_000)
    with pytest.raises(PolicyError, match=r"big\.yaml: the policy file is larger than 1 MiB"):
        load_policy(path=str(big))
    os.mkfifo(tmp_path / "fifo.yaml")
    with pytest.raises(PolicyError, match=r"fifo.yaml: cannot read the policy file \(not a regular file \(a FIFO\)"):
        load_policy(path=str(tmp_path / "fifo.yaml"))


# ------------------------------------------------------------------ the reader


def test_read_regular_refuses_fifo_device_and_oversize(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(NotRegularFile, match="a FIFO"):
        read_regular(str(tmp_path / "fifo"))
    (tmp_path / "zero.crt").symlink_to("/dev/zero")
    with pytest.raises(NotRegularFile, match="a character device"):
        read_regular(str(tmp_path / "zero.crt"))
    (tmp_path / "big").write_bytes(b"x" * 2048)
    with pytest.raises(TooLarge, match=r"2048 bytes > 1 KiB"):
        read_regular(str(tmp_path / "big"), 1024)
    assert read_regular(str(tmp_path / "big"), 2048) == b"x" * 2048


def test_check_honours_the_policy_limit(tmp_path: Path) -> None:
    (tmp_path / "a.crt").write_bytes(pem(three_level().leaf))
    (tmp_path / "p.yaml").write_text("max_file_size: 100\n")
    report = check_paths([str(tmp_path / "a.crt")], load_policy(path=str(tmp_path / "p.yaml")), root=str(tmp_path))
    assert [(f.rule_id, f.path) for f in report.findings] == [("pem.encoding", str(tmp_path / "a.crt"))]
    assert "larger than the size limit" in report.findings[0].message and "> 100 bytes" in report.findings[0].message


def test_finding_lines_come_from_an_index() -> None:
    """A file of many blocks that decode but do not parse: each finding gets its block's line range."""
    block = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    material = read_bytes(block * 3000, "many.crt")
    assert len(material.blocks) == 3000
    assert material.end_line_of(1) == 3 and material.end_line_of(8998) == 9000 and material.end_line_of(2) == 2
    assert material.end_line_of(0) == 0


def test_end_lines_in_findings(tmp_path: Path) -> None:
    block = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    (tmp_path / "many.crt").write_bytes(block * 500)
    report = check_paths([str(tmp_path / "many.crt")], root=str(tmp_path))
    assert len(report.findings) == 500
    assert {(f.line, f.end_line) for f in report.findings} == {(3 * i + 1, 3 * i + 3) for i in range(500)}


@pytest.mark.parametrize(
    ("prefix", "encode", "name"),
    [
        (b"\xef\xbb\xbf", "ascii", "UTF-8"),
        (b"\xff\xfe", "utf-16-le", "UTF-16"),
        (b"\xfe\xff", "utf-16-be", "UTF-16"),
    ],
)
def test_bom_is_one_problem_named_bom(prefix: bytes, encode: str, name: str) -> None:
    data = prefix + pem(three_level().leaf).decode("ascii").encode(encode)
    material = read_bytes(data, "bom.crt")
    assert len(material.certificates) == 1
    assert len(material.problems) == 1
    assert f"a {name} byte order mark (BOM)" in material.problems[0].detail


@pytest.mark.parametrize("text", ["-----BEGIN FOO\n", "-----BEGIN CERTIFICATE\nMIIB\n-----END CERTIFICATE\n"])
def test_armour_with_no_valid_block(text: str) -> None:
    material = read_bytes(text.encode(), "x.crt")
    details = [p.detail for p in material.problems]
    assert "the file looks like PEM but holds no valid PEM block" in details
    assert any("a broken armour line" in d for d in details)


def test_a_clean_block_decodes_as_the_strict_reader_decodes_it() -> None:
    # The one-pass reader (_decode_clean_body) decodes a block's body without joining its lines and finds its last,
    # partial group from the length decoded: on every body its pattern takes (base64 alphabet, padding, line
    # breaks) it must agree with the strict, canonical decoder of the joined lines, accepting and refusing alike.
    alphabet = string.ascii_letters + string.digits + "+/"
    chance = random.Random(13)  # fixed: the same bodies every run
    bodies = ["", "\n", "=", "==\n", "QQ==", "QR==", "QUI=", "QUJ=", "QUJD", "QUJDRA==\r\n", "Q", "QUJDR"]
    for _unused in range(20000):
        if chance.random() < 0.5:  # anything the pattern takes
            body = "".join(
                chance.choice(alphabet if chance.random() < 0.8 else "=\r\n") for _char in range(chance.randint(0, 14))
            )
        else:  # data, padding, a line end
            body = "".join(chance.choice(alphabet) for _char in range(chance.randint(0, 9)))
            body += "=" * chance.randint(0, 3) + chance.choice(["", "\n", "\r\n"])
        bodies.append(body)
    for body in bodies:
        joined = body.replace("\r", "").replace("\n", "")
        assert _decode_clean_body(body) == _decode_base64(joined), repr(body)


def test_read_file_skips_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.crt")
    material = read_file(str(tmp_path / "pipe.crt"))
    assert material.form == "skipped" and "a FIFO" in (material.skip_reason or "")


# ------------------------------------------------------------------ escaping


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("new\nline", "new\\nline"),
        ("cr\rtab\t", "cr\\rtab\\t"),
        ("esc\x1b[31mred", "esc\\x1b[31mred"),
        ("bad\udcffname", "bad\\xffname"),  # an undecodable byte of a file name (surrogateescape)
        ("rtl\u202eevil", "rtl\\u202eevil"),
        ("sep\u2028x", "sep\\u2028x"),
        ("c1\x9bx", "c1\\x9bx"),
        ("plain-ü.crt", "plain-ü.crt"),
    ],
)
def test_safe_text(raw: str, shown: str) -> None:
    assert safe_text(raw) == shown


def test_renderers_escape_names(tmp_path: Path) -> None:
    folder = os.fsencode(tmp_path)
    for name in (b"new\nline.crt", b"bad\xff.crt"):
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(b"-----BEGIN FOO\n")
    report = check_paths([str(tmp_path)], root=str(tmp_path))
    text = render_text(report)
    assert text.count("\n") == len(report.findings) + 1
    assert "new\\nline.crt:1:" in text and "bad\\xff.crt:1:" in text
    text.encode("utf-8")  # no lone surrogate left
    render_json(report).encode("utf-8")
    sarif = render_sarif(report, str(tmp_path))
    assert "new%0Aline.crt" in sarif and "bad%FF.crt" in sarif
    sarif.encode("utf-8")


# ------------------------------------------------------------------ chains


def test_certificates_from_bytes_names_what_it_leaves_out() -> None:
    problems: list[str] = []
    enveloped = Path(__import__("cryptography_vectors").__file__).parent / "pkcs7" / "enveloped.pem"
    assert ch.certificates_from_bytes(enveloped.read_bytes(), "enveloped.pem", problems) == []
    assert problems and "is not a PKCS#7 certificate bundle" in problems[0]
    with pytest.raises(ch.ChainError, match=r"enveloped\.pem: the PKCS7 block at line 1 is not a PKCS#7"):
        ch.split_bundle(enveloped.read_bytes(), "enveloped.pem")


def _leaf_with_urls(urls: list[str]) -> x509.Certificate:
    root = three_level().root
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "budget.example.com")]))
        .issuer_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "Somewhere Else CA")]))
        .public_key(key().public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW)
        .not_valid_after(NOW.replace(year=NOW.year + 1))
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.oid.AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(url)
                    )
                    for url in urls
                ]
            ),
            critical=False,
        )
    )
    return builder.sign(root.key, hashes.SHA256())


def test_http_fetch_has_a_total_deadline() -> None:
    with dribbling_server(0.2) as base:
        with pytest.raises(ch.FetchError, match="timed out: no complete answer within 1 s"):
            ch.http_fetch(f"{base}/slow.der", 1.0, 1 << 20)


def test_aia_downloads_share_a_run_budget() -> None:
    """Four slow URLs, one second each: the first three use the run's budget (3 x 1 s), the fourth is not tried."""
    with dribbling_server(0.2) as base:
        urls = [f"{base}/{n}.der" for n in range(4)]
        result = ch.arrange([_leaf_with_urls(urls)], fetch=ch.http_fetch, timeout=1.0)
    assert not result.complete
    failed = [n for n in result.notes if "timed out" in n]
    skipped = [n for n in result.notes if "not tried" in n]
    assert len(failed) == 3 and len(skipped) == 1 and urls[3] in skipped[0], result.notes
    assert "used up their 3 s (3 x --timeout)" in skipped[0]


def test_any_transport_is_bounded() -> None:
    """The modules' transport, Ansible's ``open_url``, has only a per-read timeout: a server that sends a byte
    every 0.2 s would hold it for ever. The builder gives it up after the timeout all the same."""
    from ansible.module_utils.urls import open_url

    def fetch(url: str, timeout: float, max_bytes: int) -> bytes:
        response = open_url(url, timeout=timeout, http_agent="certhygiene")
        try:
            return bytes(response.read(max_bytes + 1))
        finally:
            response.close()

    with dribbling_server(0.2) as base:
        leaf = issue("slow.example.com", issuer=three_level().intermediate, aia_ca_issuers=f"{base}/int.der")
        result = ch.arrange([leaf.cert], fetch=fetch, timeout=1.0)
    assert not result.complete and any("timed out: no complete answer within 1 s" in n for n in result.notes)


def test_issue_never_reads_a_fifo_at_a_key_path(tmp_path: Path) -> None:
    from certhygiene import issue as iss

    os.mkfifo(tmp_path / "server.key")
    with pytest.raises(iss.IssueError, match=r"server\.key: not a regular file \(a FIFO\)"):
        iss._read(str(tmp_path / "server.key"))
    assert iss._read(str(tmp_path / "missing.key")) is None


STRAY_ONE = "text outside the BEGIN/END lines (only PEM blocks may stand in the file)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # one line of text: the problem as it always read
        ("# a\n{c}", [("# a", STRAY_ONE)]),
        # a stretch (blank lines inside it too) is one problem at its first line, however long
        (
            "# Issuer: CN=Root\n# Subject: CN=Root\n\n# Serial: 1\n{c}\n# Label: Next\n{c}after\n",
            [
                (
                    "# Issuer: CN=Root",
                    "text outside the BEGIN/END lines, 4 lines from here (only PEM blocks may stand in the file)",
                ),
                ("# Label: Next", STRAY_ONE),
                ("after", STRAY_ONE),
            ],
        ),
        # armour lines end a stretch: each is a problem of its own
        (
            "x\ny\n-----END CERTIFICATE-----\nz\n{c}",
            [
                ("x", "text outside the BEGIN/END lines, 2 lines from here (only PEM blocks may stand in the file)"),
                ("-----END CERTIFICATE-----", "an END line without its BEGIN line"),
                ("z", STRAY_ONE),
            ],
        ),
    ],
)
def test_text_between_blocks_is_one_problem_per_stretch(text: str, expected: list[tuple[str, str]]) -> None:
    """certifi's and curl's bundles put a comment before each certificate: one problem per stretch of text."""
    data = text.format(c=pem(three_level().leaf).decode("ascii"))
    lines = data.splitlines()
    material = read_bytes(data.encode(), "bundle.crt")
    assert len(material.certificates) == text.count("{c}")
    assert [(p.line, p.detail) for p in material.problems] == [(lines.index(at) + 1, detail) for at, detail in expected]
