"""`certhygiene report`: every certificate in a tree by days left, as a table and as JSON."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from certhygiene.cli.main import main
from cryptography.hazmat.primitives import serialization
from support.pki import NOW, issue, key, key_pem, pem, three_level

VENV_BIN = Path(sys.executable).parent


def days(n: int) -> datetime.datetime:
    return NOW + datetime.timedelta(days=n)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository of certificates: expired, expiring, fine; a bundle, DER, a key, text, tool folders."""
    root = tmp_path_factory.mktemp("repo")
    pki = three_level("bundle.example.com")
    (root / "certs").mkdir()
    (root / "certs" / "expired.crt").write_bytes(
        pem(issue("expired.example.com", not_before=days(-400), not_after=days(-5), dns=("expired.example.com",)))
    )
    (root / "certs" / "soon.pem").write_bytes(
        pem(issue("soon.example.com", not_after=days(30) + datetime.timedelta(hours=1), dns=("soon.example.com",)))
    )
    (root / "certs" / "fine.crt").write_bytes(
        pem(issue("fine.example.com", not_after=days(400) + datetime.timedelta(hours=1), dns=("fine.example.com",)))
    )
    (root / "certs" / "fine.key").write_bytes(key_pem(key("rsa", 2048, 3)))
    (root / "deep" / "er").mkdir(parents=True)
    # leaf, intermediate, root in one file: three rows, each at its own line
    (root / "deep" / "er" / "bundle.pem").write_bytes(pem(pki.leaf, pki.intermediate, pki.root))
    (root / "deep" / "der.cer").write_bytes(
        issue("der.example.com", not_after=days(200) + datetime.timedelta(hours=1)).cert.public_bytes(
            serialization.Encoding.DER
        )
    )
    (root / "README.md").write_text("# certificates\n")
    # tool folders are not part of the repository's certificates
    (root / ".git").mkdir()
    (root / ".git" / "stale.crt").write_bytes(
        pem(issue("git-internal.example.com", not_before=days(-9), not_after=days(-1)))
    )
    (root / "node_modules").mkdir()
    (root / "node_modules" / "dep.pem").write_bytes(
        pem(issue("npm.example.com", not_before=days(-9), not_after=days(-1)))
    )
    return root


def run_report(capsys: pytest.CaptureFixture[str], cwd: Path, *argv: str) -> tuple[int, str, str]:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        code = main(["report", *argv])
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    return code, out, err


def test_json_lists_every_certificate_by_days_left(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    code, out, _unused = run_report(capsys, tree, "--format", "json")
    assert code == 0
    data = json.loads(out)
    rows = data["certificates"]
    assert [(row["path"], row["line"]) for row in rows] == [
        ("certs/expired.crt", 1),
        ("certs/soon.pem", 1),
        ("deep/der.cer", 1),
        ("certs/fine.crt", 1),
        ("deep/er/bundle.pem", 1),  # leaf
        ("deep/er/bundle.pem", rows[5]["line"]),  # intermediate
        ("deep/er/bundle.pem", rows[6]["line"]),  # root
    ]
    assert 1 < rows[5]["line"] < rows[6]["line"]
    assert [row["days_left"] for row in rows] == sorted(row["days_left"] for row in rows)
    by_subject = {row["subject"].split(",")[0]: row for row in rows}
    assert by_subject["CN=expired.example.com"]["status"] == "expired"
    assert by_subject["CN=expired.example.com"]["days_left"] < 0
    assert by_subject["CN=soon.example.com"]["days_left"] == 30
    assert by_subject["CN=soon.example.com"]["status"] == "expiring"  # seed: fewer than 180 days left
    assert by_subject["CN=der.example.com"]["status"] == "ok"
    assert by_subject["CN=fine.example.com"]["days_left"] == 400
    assert by_subject["CN=Test Root CA"]["is_ca"] is True
    assert by_subject["CN=bundle.example.com"]["is_ca"] is False
    for row in rows:
        assert row["serial"].startswith("0x")
        datetime.datetime.fromisoformat(row["not_after"])
        assert row["vault"] is False
    assert data["warn_days"] == 180
    assert data["summary"] == {"certificates": 7, "expired": 1, "expiring": 1, "ok": 5, "skipped": 0}
    assert data["skipped"] == []
    # tool folders are not walked
    assert "git-internal" not in out and "npm.example.com" not in out


def test_table_shows_the_same_rows_for_people(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    code, out, _unused = run_report(capsys, tree)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["DAYS", "STATUS", "NOT", "AFTER", "PATH", "SUBJECT", "SERIAL"]
    assert "expired" in lines[1] and "certs/expired.crt:1" in lines[1] and "CN=expired.example.com" in lines[1]
    assert "expiring" in lines[2] and "certs/soon.pem:1" in lines[2]
    assert lines[-1] == "7 certificate(s): 1 expired, 1 expiring (< 180 days), 5 ok; 0 file(s) skipped"
    # never key material
    assert "PRIVATE KEY" not in out and "BEGIN" not in out


@pytest.mark.parametrize(
    ("argv", "policy", "expected"),
    [
        # (extra arguments, .certhygiene.yaml, expected status of soon (30 days) / der (200 days) / fine (400 days))
        ((), None, ("expiring", "ok", "ok")),
        (("--warn-days", "10"), None, ("ok", "ok", "ok")),
        (("--warn-days", "365"), None, ("expiring", "expiring", "ok")),
        (("--warn-days", "0"), None, ("ok", "ok", "ok")),
        ((), "min_days_left: 250\n", ("expiring", "expiring", "ok")),
        (("--profile", "strict"), None, ("expiring", "ok", "ok")),
        (("--warn-days", "31"), "min_days_left: 250\n", ("expiring", "ok", "ok")),  # the option wins
    ],
)
def test_warn_days_sets_expiring(
    capsys: pytest.CaptureFixture[str],
    tree: Path,
    tmp_path: Path,
    argv: tuple[str, ...],
    policy: str | None,
    expected: tuple[str, str, str],
) -> None:
    if policy is not None:
        (tmp_path / ".certhygiene.yaml").write_text(policy)
    code, out, err = run_report(capsys, tmp_path, str(tree), "--format", "json", *argv)
    assert code == 0, err
    status = {Path(row["path"]).name: row["status"] for row in json.loads(out)["certificates"]}
    assert (status["soon.pem"], status["der.cer"], status["fine.crt"]) == expected
    assert status["expired.crt"] == "expired"


@pytest.mark.parametrize(
    ("fail_on", "paths", "code"),
    [
        (None, ("certs",), 0),
        ("expired", ("certs",), 1),
        ("expiring", ("certs",), 1),
        ("expired", ("certs/soon.pem", "certs/fine.crt"), 0),
        ("expiring", ("certs/soon.pem", "certs/fine.crt"), 1),
        ("expiring", ("certs/fine.crt",), 0),
    ],
)
def test_fail_on_gates_a_pipeline(
    capsys: pytest.CaptureFixture[str], tree: Path, fail_on: str | None, paths: tuple[str, ...], code: int
) -> None:
    argv = [*paths] + (["--fail-on", fail_on] if fail_on else [])
    assert run_report(capsys, tree, *argv)[0] == code


def test_files_named_are_read_and_listed_once(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    code, out, _unused = run_report(capsys, tree, "certs/fine.crt", "certs", "--format", "json")
    assert code == 0
    paths = [row["path"] for row in json.loads(out)["certificates"]]
    assert sorted(paths) == ["certs/expired.crt", "certs/fine.crt", "certs/soon.pem"]


def test_pkcs12_and_vault_files_are_listed_as_skipped(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import pkcs12

    leaf = issue("p12.example.com")
    (tmp_path / "bundle.p12").write_bytes(
        pkcs12.serialize_key_and_certificates(b"x", leaf.key, leaf.cert, None, serialization.NoEncryption())
    )
    # the vault header is enough for the reader; real ansible-vault files are in tests/integration/test_vault_gitops.py
    (tmp_path / "secret.key").write_bytes(b"$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    env_password = os.environ.pop("ANSIBLE_VAULT_PASSWORD_FILE", None)
    try:
        code, out, _unused = run_report(capsys, tmp_path, "--format", "json")
    finally:
        if env_password is not None:
            os.environ["ANSIBLE_VAULT_PASSWORD_FILE"] = env_password
    assert code == 0
    data = json.loads(out)
    assert data["certificates"] == []
    reasons = {entry["path"]: entry["reason"] for entry in data["skipped"]}
    assert reasons["bundle.p12"].startswith("PKCS#12 file")
    assert "no vault password" in reasons["secret.key"]
    assert "--vault-password-file" in reasons["secret.key"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("missing-folder",), "no such file or folder: missing-folder"),
        (("--warn-days", "-1"), "--warn-days must be 0 or more"),
        (("--profile", "nope"), "nope"),
        (("--vault-password-file", "no-such-password-file"), "no-such-password-file"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: tuple[str, ...], message: str
) -> None:
    code, _unused, err = run_report(capsys, tmp_path, *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_empty_tree(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _unused = run_report(capsys, tmp_path)
    assert code == 0
    assert out.splitlines() == [
        "no certificates found",
        "0 certificate(s): 0 expired, 0 expiring (< 180 days), 0 ok; 0 file(s) skipped",
    ]


def test_console_script(tree: Path) -> None:
    """The installed `certhygiene` command, as a person runs it."""
    result = subprocess.run(
        [str(VENV_BIN / "certhygiene"), "report", "certs", "--format", "json", "--fail-on", "expired"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["summary"]["expired"] == 1
