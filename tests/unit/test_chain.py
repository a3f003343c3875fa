"""The chain engine: leaf, order, split, and path building with backtracking (certhygiene.chain)."""

from __future__ import annotations

import datetime
import itertools
import shutil
import subprocess
from pathlib import Path

import pytest
from certhygiene import chain as ch
from certhygiene.chain import Candidate, ChainError, arrange, build_chain, split_bundle
from cryptography.hazmat.primitives import serialization
from support.aia import aia_server
from support.pki import NOW, ThreeLevel, issue, issue_pss, key, pem, pkcs7_der, pkcs7_pem, three_level, verify_issued

try:
    from certhygiene.check import check_material
except ImportError:  # the rule engine lands in parallel
    check_material = None


def fp(c: object) -> str:
    cert = getattr(c, "cert", c)
    return cert.public_bytes(serialization.Encoding.DER).hex()


def fps(certs: list) -> list[str]:
    return [fp(c) for c in certs]


def assert_check_clean(cert_pem: bytes, chain_pem: bytes) -> None:
    """The engine's own verdict on what we wrote: no chain.leaf, chain.order, chain.required."""
    if check_material is None:
        pytest.skip("certhygiene.check not available yet")
    report = check_material(certificate=cert_pem, chain=chain_pem)
    bad = [
        f for f in report.findings if f.rule_id in ("chain.leaf", "chain.order", "chain.required", "bundle.multiple")
    ]
    assert bad == [], [f.message for f in bad]


@pytest.fixture(scope="module")
def pki() -> ThreeLevel:
    return three_level()


@pytest.fixture(scope="module")
def four(pki: ThreeLevel):
    """root -> int1 -> int2 -> leaf (EC keys: cheap)."""
    root = issue("Four Root", private_key=key("ec", 256, 1), ca=True)
    int1 = issue("Four Int 1", issuer=root, private_key=key("ec", 256, 2), ca=True)
    int2 = issue("Four Int 2", issuer=int1, private_key=key("ec", 256, 3), ca=True)
    leaf = issue("four.example.com", issuer=int2, private_key=key("ec", 256, 4), dns=("four.example.com",))
    return root, int1, int2, leaf


# ---------------------------------------------------------------------------------------------------- split


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_split_three_level_bundle_in_any_order(pki: ThreeLevel, order: tuple[int, ...]) -> None:
    parts = [pki.leaf, pki.intermediate, pki.root]
    bundle = b"Purchased certificate, see below\n" + b"\n".join(pem(parts[i]) for i in order) + pem(parts[order[0]])
    result = split_bundle(bundle)
    assert fp(result.leaf) == fp(pki.leaf)
    assert fps(result.intermediates) == [fp(pki.intermediate)]
    assert fp(result.root) == fp(pki.root)
    assert result.complete and result.unused == []
    assert fp(pki.leaf) not in fps(result.chain(include_root=True))
    assert_check_clean(ch.to_pem_chain([result.leaf]), ch.to_pem_chain(result.intermediates))


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_split_four_level_orders_intermediates_in_issuing_order(four, order: tuple[int, ...]) -> None:
    root, int1, int2, leaf = four
    bundle = b"".join(pem([root, int1, int2, leaf][i]) for i in order)
    result = split_bundle(bundle)
    assert fp(result.leaf) == fp(leaf)
    assert fps(result.intermediates) == fps([int2, int1])
    assert fps(result.chain(include_root=True)) == fps([int2, int1, root])


def test_split_without_root_and_with_a_private_key_in_the_bundle(pki: ThreeLevel) -> None:
    bundle = pki.leaf.key_pem + pem(pki.intermediate, pki.leaf)
    result = split_bundle(bundle)
    assert fp(result.leaf) == fp(pki.leaf)
    assert fps(result.intermediates) == [fp(pki.intermediate)]
    assert result.root is None and not result.complete
    assert result.missing_issuer == pki.root.cert.subject.rfc4514_string()


def test_two_leaves_is_an_error(pki: ThreeLevel) -> None:
    other = issue(
        "other.example.com", issuer=pki.intermediate, private_key=key("ec", 256, 5), dns=("other.example.com",)
    )
    with pytest.raises(
        ChainError, match=r"two leaves in the bundle: .*mqtt\.example\.com.*other\.example\.com|two leaves.*other.*mqtt"
    ):
        split_bundle(pem(pki.leaf, other, pki.intermediate))


def test_no_certificate_is_an_error() -> None:
    with pytest.raises(ChainError, match="no leaf found: the bundle holds no certificate"):
        split_bundle(b"just text\n")


def test_only_ca_certificates_the_bottom_one_is_the_leaf(four) -> None:
    root, int1, int2, _leaf = four
    result = split_bundle(pem(root, int2, int1))
    assert fp(result.leaf) == fp(int2)
    assert fps(result.intermediates) == [fp(int1)]


def test_unrelated_certificate_is_reported_unused(pki: ThreeLevel, four) -> None:
    result = split_bundle(pem(four[0], pki.intermediate, pki.leaf))
    assert fps(result.unused) == [fp(four[0])]
    assert fps(result.intermediates) == [fp(pki.intermediate)]


def test_der_and_pkcs7_input(pki: ThreeLevel) -> None:
    der = pkcs7_der(pki.root.cert, pki.leaf.cert, pki.intermediate.cert)
    assert fp(split_bundle(der).leaf) == fp(pki.leaf)
    p7pem = pkcs7_pem(pki.root.cert, pki.leaf.cert, pki.intermediate.cert)
    assert fps(split_bundle(p7pem).intermediates) == [fp(pki.intermediate)]
    assert fp(split_bundle(pki.leaf.cert.public_bytes(serialization.Encoding.DER)).leaf) == fp(pki.leaf)


# ---------------------------------------------------------------------------------------------------- complete


def cands(*certs, trusted: bool = False) -> list[Candidate]:
    return [Candidate(getattr(c, "cert", c), f"c{i}", trusted) for i, c in enumerate(certs)]


def test_same_subject_other_key_fails_signature_and_is_skipped(pki: ThreeLevel) -> None:
    # Same subject as the real intermediate, another key, and no key identifiers to tell them apart.
    impostor = issue(
        "Test Intermediate CA", issuer=pki.root, private_key=key("rsa", 2048, 21), ca=True, extensions=False, days=9000
    )
    result = build_chain(pki.leaf.cert, cands(impostor, pki.intermediate, pki.root))
    assert fps([c.cert for c in result.path]) == fps([pki.leaf, pki.intermediate, pki.root])


def test_backtracks_from_a_dead_end_issuer_that_verifies() -> None:
    """Two intermediates with the same subject and key: the preferred one (newest) leads nowhere."""
    root = issue("BT Root", private_key=key("ec", 256, 30), ca=True)
    lost_root = issue("BT Lost Root", private_key=key("ec", 256, 31), ca=True)
    int_key = key("ec", 256, 32)
    dead_end = issue("BT Int", issuer=lost_root, private_key=int_key, ca=True, days=9000)
    good = issue("BT Int", issuer=root, private_key=int_key, ca=True, days=1000)
    leaf = issue("bt.example.com", issuer=good, private_key=key("ec", 256, 33), dns=("bt.example.com",))
    verify_issued(leaf.cert, dead_end.cert)  # the dead end does verify the leaf
    for order in itertools.permutations([dead_end, good, root]):
        result = build_chain(leaf.cert, cands(*order))
        assert fps([c.cert for c in result.path]) == fps([leaf, good, root]), order
        assert result.complete


def test_cross_signed_root_shortest_by_default_trusted_when_asked() -> None:
    old_root = issue("XS Old Root", private_key=key("ec", 256, 40), ca=True)
    new_root = issue("XS New Root", private_key=key("ec", 256, 41), ca=True)
    cross = issue("XS New Root", issuer=old_root, private_key=new_root.key, ca=True)
    inter = issue("XS Int", issuer=new_root, private_key=key("ec", 256, 42), ca=True)
    leaf = issue("xs.example.com", issuer=inter, private_key=key("ec", 256, 43), dns=("xs.example.com",))
    result = build_chain(leaf.cert, cands(cross, inter, old_root, new_root))
    assert fps([c.cert for c in result.path]) == fps([leaf, inter, new_root]) and not result.trusted
    trusted = build_chain(leaf.cert, cands(cross, inter, new_root) + cands(old_root, trusted=True))
    assert fps([c.cert for c in trusted.path]) == fps([leaf, inter, cross, old_root])
    assert trusted.trusted and fps(trusted.intermediates) == fps([inter, cross])


def test_expired_candidate_is_a_last_resort() -> None:
    root = issue("EX Root", private_key=key("ec", 256, 50), ca=True)
    int_key = key("ec", 256, 51)
    expired = issue(
        "EX Int",
        issuer=root,
        private_key=int_key,
        ca=True,
        not_before=NOW - datetime.timedelta(days=900),
        not_after=NOW - datetime.timedelta(days=1),
    )
    valid = issue("EX Int", issuer=root, private_key=int_key, ca=True, days=400)
    leaf = issue("ex.example.com", issuer=valid, private_key=key("ec", 256, 52), dns=("ex.example.com",))
    result = build_chain(leaf.cert, cands(expired, valid, root))
    assert fps(result.intermediates) == [fp(valid)] and result.expired == []
    only_expired = build_chain(leaf.cert, cands(expired, root))
    assert only_expired.complete and fps(only_expired.intermediates) == [fp(expired)]
    assert fps(only_expired.expired) == [fp(expired)]


def test_expired_trusted_root_loses_to_valid_self_signed_root() -> None:
    old_root = issue(
        "ER Old Root",
        private_key=key("ec", 256, 55),
        ca=True,
        not_before=NOW - datetime.timedelta(days=900),
        not_after=NOW - datetime.timedelta(days=1),
    )
    new_root = issue("ER New Root", private_key=key("ec", 256, 56), ca=True)
    cross = issue("ER New Root", issuer=old_root, private_key=new_root.key, ca=True)
    leaf = issue("er.example.com", issuer=new_root, private_key=key("ec", 256, 57), dns=("er.example.com",))
    result = build_chain(leaf.cert, cands(cross, new_root) + cands(old_root, trusted=True))
    assert fps([c.cert for c in result.path]) == fps([leaf, new_root])


def test_cycle_terminates_and_reports_the_missing_issuer() -> None:
    key_a, key_b = key("ec", 256, 60), key("ec", 256, 61)
    a_self = issue("Cycle A", private_key=key_a, ca=True)  # only to sign B
    b = issue("Cycle B", issuer=a_self, private_key=key_b, ca=True)  # A signs B
    a = issue("Cycle A", issuer=b, private_key=key_a, ca=True)  # B signs A
    leaf = issue("cycle.example.com", issuer=a, private_key=key("ec", 256, 62), dns=("cycle.example.com",))
    result = build_chain(leaf.cert, cands(a, b), looked_in=["certs/"])
    assert not result.complete
    assert fps([c.cert for c in result.path]) == fps([leaf, a, b])
    assert result.missing_issuer == a.cert.subject.rfc4514_string()
    message = result.incomplete_message()
    assert "chain incomplete: the issuer 'CN=Cycle A,O=certhygiene tests'" in message and "certs/" in message
    # With A's self-signed certificate the cycle resolves.
    assert build_chain(leaf.cert, cands(a, b, a_self)).complete


def test_pss_and_ecdsa_signatures_verify() -> None:
    root = issue("PSS Root", private_key=key("rsa", 2048, 10), ca=True)
    inter = issue_pss("PSS Int", issuer=root, private_key=key("ec", 384, 70), ca=True)
    leaf = issue("pss.example.com", issuer=inter, private_key=key("ec", 256, 71), dns=("pss.example.com",))
    result = build_chain(leaf.cert, cands(root, inter))
    assert fps([c.cert for c in result.path]) == fps([leaf, inter, root])
    leaf_pss = issue_pss("pss2.example.com", issuer=root, private_key=key("ec", 256, 72), dns=("pss2.example.com",))
    assert build_chain(leaf_pss.cert, cands(root)).complete


def test_key_identifier_mismatch_is_not_an_issuer(pki: ThreeLevel) -> None:
    assert not ch._key_ids_compatible(pki.leaf.cert, pki.root.cert)
    assert ch._key_ids_compatible(pki.leaf.cert, pki.intermediate.cert)


def test_deterministic_whatever_the_candidate_order(pki: ThreeLevel) -> None:
    second = issue("Test Intermediate CA", issuer=pki.root, private_key=pki.intermediate.key, ca=True, days=500)
    results = {
        tuple(fps([c.cert for c in build_chain(pki.leaf.cert, cands(*order)).path]))
        for order in itertools.permutations([pki.intermediate, second, pki.root])
    }
    assert len(results) == 1


def test_roots_only_no_intermediate_says_what_is_missing(pki: ThreeLevel, tmp_path: Path) -> None:
    (tmp_path / "root.pem").write_bytes(pem(pki.root))
    candidates = ch.load_candidates([str(tmp_path)], trusted=True)
    result = build_chain(pki.leaf.cert, candidates, looked_in=[str(tmp_path)])
    assert not result.complete and result.missing_issuer == "CN=Test Intermediate CA,O=certhygiene tests"
    assert str(tmp_path) in result.incomplete_message()


def test_load_candidates_errors(tmp_path: Path) -> None:
    with pytest.raises(ChainError, match="no such file or folder"):
        ch.load_candidates([str(tmp_path / "missing")])
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(ChainError, match="no certificate found"):
        ch.load_candidates([str(tmp_path / "notes.txt")])
    assert ch.load_candidates([str(tmp_path)]) == []  # folders skip what is not a certificate


# ---------------------------------------------------------------------------------------------------- AIA


@pytest.fixture(scope="module")
def aia_pki():
    """leaf -(AIA: DER)-> intermediate -(AIA: PEM)-> root, served on loopback."""
    with aia_server() as server:
        root = issue("AIA Root", private_key=key("ec", 256, 80), ca=True)
        inter = issue(
            "AIA Int", issuer=root, private_key=key("ec", 256, 81), ca=True, aia_ca_issuers=server.url("/root.pem")
        )
        leaf = issue(
            "aia.example.com",
            issuer=inter,
            private_key=key("ec", 256, 82),
            dns=("aia.example.com",),
            aia_ca_issuers=server.url("/int.der"),
        )
        server.put_der("/int.der", inter.cert)
        server.put_pem("/root.pem", root.cert)
        yield server, root, inter, leaf


def test_aia_der_then_pem_completes_the_chain(aia_pki) -> None:
    server, root, inter, leaf = aia_pki
    result = arrange([leaf.cert], fetch=ch.http_fetch, timeout=5)
    assert fps([c.cert for c in result.path]) == fps([leaf, inter, root])
    assert [c.source for c in result.path[1:]] == [f"AIA {server.url('/int.der')}", f"AIA {server.url('/root.pem')}"]


def test_aia_pkcs7(aia_pki) -> None:
    server, root, inter, _leaf = aia_pki
    url = server.put_pkcs7("/bundle.p7c", inter.cert, root.cert)
    leaf = issue(
        "p7.example.com", issuer=inter, private_key=key("ec", 256, 83), dns=("p7.example.com",), aia_ca_issuers=url
    )
    result = arrange([leaf.cert], fetch=ch.http_fetch, timeout=5)
    assert fps(result.intermediates) == [fp(inter)] and result.complete


def test_aia_is_not_fetched_when_local_candidates_suffice(aia_pki) -> None:
    server, root, inter, leaf = aia_pki
    before = dict(server.hits)
    result = arrange([leaf.cert, inter.cert, root.cert], fetch=ch.http_fetch, timeout=5)
    assert result.complete and server.hits == before


def test_aia_failures_are_reported(aia_pki) -> None:
    server, _root, inter, _leaf = aia_pki
    leaf404 = issue(
        "404.example.com",
        issuer=inter,
        private_key=key("ec", 256, 84),
        dns=("404.example.com",),
        aia_ca_issuers=server.url("/missing.der"),
    )
    result = arrange([leaf404.cert], fetch=ch.http_fetch, timeout=5)
    assert not result.complete
    message = result.incomplete_message()
    assert "AIA " + server.url("/missing.der") + " (failed:" in message and "Not Found" in message
    server.files["/big.der"] = b"\x30" * 5000
    big = issue(
        "big.example.com",
        issuer=inter,
        private_key=key("ec", 256, 85),
        dns=("big.example.com",),
        aia_ca_issuers=server.url("/big.der"),
    )
    result = arrange([big.cert], fetch=ch.http_fetch, timeout=5, max_bytes=1000)
    assert "larger than 1000 bytes" in result.incomplete_message()
    https = issue(
        "https.example.com",
        issuer=inter,
        private_key=key("ec", 256, 86),
        dns=("https.example.com",),
        aia_ca_issuers="https://127.0.0.1:1/int.der",
    )
    assert "only http:// URLs" in arrange([https.cert], fetch=ch.http_fetch).incomplete_message()


def test_aia_timeout() -> None:
    import socket

    with socket.socket() as listener:  # accepts (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        root = issue("TO Root", private_key=key("ec", 256, 87), ca=True)
        leaf = issue(
            "to.example.com",
            issuer=root,
            private_key=key("ec", 256, 88),
            dns=("to.example.com",),
            aia_ca_issuers=f"http://127.0.0.1:{port}/root.der",
        )
        result = arrange([leaf.cert], fetch=ch.http_fetch, timeout=0.3)
    assert not result.complete and "timed out" in result.incomplete_message()


# ---------------------------------------------------------------------------------------------------- openssl


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_bundle_made_with_the_openssl_cli(tmp_path: Path) -> None:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "ca.ext").write_text(
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    (tmp_path / "leaf.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:ossl.example.com\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    for name in ("root", "int", "leaf"):
        run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key")
    run("req", "-x509", "-new", "-key", "root.key", "-subj", "/CN=OpenSSL Root", "-days", "3650", "-out", "root.pem")
    run("req", "-new", "-key", "int.key", "-subj", "/CN=OpenSSL Int", "-out", "int.csr")
    run(
        "x509",
        "-req",
        "-in",
        "int.csr",
        "-CA",
        "root.pem",
        "-CAkey",
        "root.key",
        "-CAcreateserial",
        "-days",
        "1825",
        "-extfile",
        "ca.ext",
        "-out",
        "int.pem",
    )
    run("req", "-new", "-key", "leaf.key", "-subj", "/CN=ossl.example.com", "-out", "leaf.csr")
    run(
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "int.pem",
        "-CAkey",
        "int.key",
        "-CAcreateserial",
        "-days",
        "397",
        "-extfile",
        "leaf.ext",
        "-out",
        "leaf.pem",
    )
    parts = {n: (tmp_path / f"{n}.pem").read_bytes() for n in ("root", "int", "leaf")}
    bundle = parts["leaf"] + parts["int"] + parts["root"]  # as purchased: user, intermediate, root
    result = split_bundle(bundle)
    assert ch.to_pem_chain([result.leaf]) == parts["leaf"]
    assert ch.to_pem_chain(result.intermediates) == parts["int"]
    assert ch.to_pem_chain([result.root]) == parts["root"]
    (tmp_path / "chain.pem").write_bytes(ch.to_pem_chain(result.intermediates))
    (tmp_path / "cert.pem").write_bytes(ch.to_pem_chain([result.leaf]))
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", "root.pem", "-untrusted", "chain.pem", "cert.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert_check_clean(ch.to_pem_chain([result.leaf]), ch.to_pem_chain(result.intermediates))
