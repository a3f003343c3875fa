"""`certhygiene split` and `certhygiene complete`: files written, messages, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from certhygiene.cli.main import main
from support.aia import aia_server
from support.pki import ThreeLevel, issue, key, pem, three_level

CERTHYGIENE = str(Path(sys.executable).parent / "certhygiene")


@pytest.fixture(scope="module")
def pki() -> ThreeLevel:
    return three_level()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_split_writes_leaf_chain_root_and_is_idempotent(pki: ThreeLevel, tmp_path: Path, capsys) -> None:
    bundle = tmp_path / "bundle.crt"
    bundle.write_bytes(b"-- purchased --\n" + pem(pki.root, pki.leaf, pki.intermediate, pki.leaf))
    outs = [str(tmp_path / n) for n in ("cert.pem", "chain.pem", "root.pem")]
    code, out, err = run(
        capsys, "split", str(bundle), "--cert-out", outs[0], "--chain-out", outs[1], "--root-out", outs[2]
    )
    assert code == 0, err
    assert Path(outs[0]).read_bytes() == pem(pki.leaf)
    assert Path(outs[1]).read_bytes() == pem(pki.intermediate)
    assert Path(outs[2]).read_bytes() == pem(pki.root)
    assert out.count("written") == 3 and "CN=mqtt.example.com" in out
    mtimes = [os.stat(p).st_mtime_ns for p in outs]
    code, out, _unused = run(
        capsys, "split", str(bundle), "--cert-out", outs[0], "--chain-out", outs[1], "--root-out", outs[2]
    )
    assert code == 0 and out.count("unchanged") == 3
    assert [os.stat(p).st_mtime_ns for p in outs] == mtimes


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        ("two_leaves", 1, "two leaves in"),
        ("leaf_only", 1, "holds no issuer of certificate 'CN=mqtt.example.com"),
        ("no_cert", 1, "no leaf found"),
        ("no_root", 1, "holds no root (self-signed) certificate"),
        ("missing_file", 2, "cannot read"),
    ],
)
def test_split_errors(pki: ThreeLevel, tmp_path: Path, capsys, content: str, code: int, message: str) -> None:
    other = issue(
        "other.example.com", issuer=pki.intermediate, private_key=key("ec", 256, 5), dns=("other.example.com",)
    )
    data = {
        "two_leaves": pem(pki.leaf, other, pki.intermediate),
        "leaf_only": pem(pki.leaf),
        "no_cert": b"hello\n",
        "no_root": pem(pki.leaf, pki.intermediate),
    }.get(content)
    bundle = tmp_path / "bundle.pem"
    if data is not None:
        bundle.write_bytes(data)
    got, _out, err = run(
        capsys,
        "split",
        str(bundle),
        "--cert-out",
        str(tmp_path / "c"),
        "--chain-out",
        str(tmp_path / "ch"),
        "--root-out",
        str(tmp_path / "r"),
    )
    assert got == code and message in err
    assert not (tmp_path / "c").exists()


def test_split_usage_error_exit_2(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["split", str(tmp_path / "b.pem")])
    assert exc.value.code == 2
    assert "--cert-out" in capsys.readouterr().err


def test_complete_from_folders(pki: ThreeLevel, tmp_path: Path, capsys) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_bytes(pem(pki.leaf))
    inter_dir = tmp_path / "intermediates"
    inter_dir.mkdir()
    (inter_dir / "int.crt").write_bytes(pem(pki.intermediate))
    (inter_dir / "README").write_text("not a certificate\n")
    (tmp_path / "root.pem").write_bytes(pem(pki.root))
    chain = tmp_path / "chain.pem"
    code, _out, err = run(
        capsys,
        "complete",
        str(cert),
        "--chain-out",
        str(chain),
        "--intermediates",
        str(inter_dir),
        "--roots",
        str(tmp_path / "root.pem"),
        "--no-aia",
    )
    assert code == 0, err
    assert chain.read_bytes() == pem(pki.intermediate)
    code, _out, err = run(
        capsys,
        "complete",
        str(cert),
        "--chain-out",
        str(chain),
        "--intermediates",
        str(inter_dir),
        "--roots",
        str(tmp_path / "root.pem"),
        "--no-aia",
        "--include-root",
    )
    assert chain.read_bytes() == pem(pki.intermediate, pki.root)


def test_complete_incomplete_names_the_missing_issuer_and_where(pki: ThreeLevel, tmp_path: Path, capsys) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_bytes(pem(pki.leaf))
    (tmp_path / "roots").mkdir()
    (tmp_path / "roots" / "root.pem").write_bytes(pem(pki.root))
    code, _out, err = run(
        capsys,
        "complete",
        str(cert),
        "--chain-out",
        str(tmp_path / "chain.pem"),
        "--roots",
        str(tmp_path / "roots"),
    )
    assert code == 1
    assert "chain incomplete: the issuer 'CN=Test Intermediate CA,O=certhygiene tests'" in err
    assert str(tmp_path / "roots") in err and "names no caIssuers URL" in err
    assert not (tmp_path / "chain.pem").exists()
    code, _out, err = run(capsys, "complete", str(cert), "--chain-out", "x", "--roots", str(tmp_path / "nope"))
    assert code == 2 and "no such file or folder" in err


def test_complete_over_aia_with_the_real_command(tmp_path: Path) -> None:
    with aia_server() as server:
        root = issue("CLI AIA Root", private_key=key("ec", 256, 90), ca=True)
        inter = issue(
            "CLI AIA Int",
            issuer=root,
            private_key=key("ec", 256, 91),
            ca=True,
            aia_ca_issuers=server.put_pem("/root.pem", root.cert),
        )
        leaf = issue(
            "cli-aia.example.com",
            issuer=inter,
            private_key=key("ec", 256, 92),
            dns=("cli-aia.example.com",),
            aia_ca_issuers=server.put_der("/int.cer", inter.cert),
        )
        (tmp_path / "cert.pem").write_bytes(pem(leaf))
        proc = subprocess.run(
            [CERTHYGIENE, "complete", "cert.pem", "--chain-out", "chain.pem"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "chain.pem").read_bytes() == pem(inter)
        proc = subprocess.run(
            [CERTHYGIENE, "complete", "cert.pem", "--chain-out", "chain2.pem", "--no-aia"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 1 and "chain incomplete" in proc.stderr and "allow AIA downloads" in proc.stderr


# ---------------------------------------------------------------------------------------------------- fixer hook


def test_fixer_hook_cases(pki: ThreeLevel, tmp_path: Path, capsys) -> None:
    from certhygiene.hooks.split_certificate_bundles import main as fixer

    bundle = pem(pki.root, pki.leaf, pki.intermediate, pki.leaf)
    cert = tmp_path / "server.pem"
    cert.write_bytes(bundle)
    assert fixer([str(cert)]) == 1
    assert cert.read_bytes() == pem(pki.leaf)
    assert (tmp_path / "server.chain.pem").read_bytes() == pem(pki.intermediate)
    out = capsys.readouterr().out
    assert "moved 1 intermediate(s)" in out and "dropped duplicates" in out and "Review" in out
    assert fixer([str(cert), str(tmp_path / "server.chain.pem")]) == 0  # nothing left to do
    assert capsys.readouterr().out == ""

    # A file that also holds the key, a chain file that disagrees, an unrelated certificate: left alone, exit 1.
    other = issue("Other Root", private_key=key("ec", 256, 7), ca=True)
    cases = {
        "withkey.crt": pki.leaf.key_pem + bundle,
        "conflict.crt": bundle,
        "unrelated.crt": pem(pki.leaf, pki.intermediate, other),
    }
    (tmp_path / "conflict.chain.pem").write_bytes(pem(other))
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert fixer([str(tmp_path / name)]) == 1, name
        assert (tmp_path / name).read_bytes() == data, name
    out = capsys.readouterr().out
    assert "holds a private key" in out and "exists and holds other certificates" in out
    assert "not on the path of" in out and "PRIVATE KEY-----" not in out

    # Chain and full-chain files hold several certificates by design; a lone certificate needs nothing.
    for name, data in {
        "fullchain.pem": pem(pki.leaf, pki.intermediate),
        "ca-bundle.crt": bundle,
        "lone.crt": pem(pki.leaf),
    }.items():
        (tmp_path / name).write_bytes(data)
        assert fixer([str(tmp_path / name)]) == 0
        assert (tmp_path / name).read_bytes() == data
