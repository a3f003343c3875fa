"""``certhygiene check`` and ``certhygiene rules``: exit codes, the three formats, usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from certhygiene.cli.main import main
from support.pki import issue, key, key_pem, pem, three_level

BIN = Path(sys.executable).parent


def clean_set(folder: Path) -> None:
    pki = three_level()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cloud.crt").write_bytes(pki.leaf.cert_pem)
    (folder / "cloud-chain.pem").write_bytes(pem(pki.intermediate))
    (folder / "cloud.key").write_bytes(key_pem(pki.leaf.key, "pkcs1"))


def bad_set(folder: Path) -> None:
    """The three problems the hooks block: an encrypted key, an RSA 4096 key, a chain holding the leaf."""
    pki = three_level()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cloud.crt").write_bytes(pki.leaf.cert_pem)
    (folder / "cloud-chain.pem").write_bytes(b"\n" + pem(pki.leaf, pki.intermediate))
    (folder / "locked.key").write_bytes(key_pem(key("rsa", 2048, 12), "pkcs8", password=b"passphrase"))
    (folder / "big.key").write_bytes(key_pem(key("rsa", 4096), "pkcs1"))


def weak_only_set(folder: Path) -> None:
    """Allowed but weak (RSA 1024): a warning, no error."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "weak.key").write_bytes(key_pem(key("rsa", 1024), "pkcs1"))


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository (only ``.git`` matters: it marks the root) with a clean and a bad folder."""
    (tmp_path / ".git").mkdir()
    clean_set(tmp_path / "certs" / "clean")
    bad_set(tmp_path / "certs" / "bad")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)
    return tmp_path


def test_clean_folder_exits_0(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _unused = check(capsys, "certs/clean")
    assert code == 0
    assert "3 files checked" in out and "no findings" in out


def test_findings_exit_1_with_one_line_each(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _unused = check(capsys, "certs/bad")
    assert code == 1
    for path, rule in [
        ("certs/bad/locked.key", "key.encrypted"),
        ("certs/bad/big.key", "key.algorithm"),
        ("certs/bad/cloud-chain.pem:2", "chain.leaf"),
    ]:
        assert any(line.startswith(path) and f"[{rule}]" in line and "Fix:" in line for line in out.splitlines()), (
            path,
            out,
        )
    assert "CN=mqtt.example.com" in out


def test_files_and_folders_together_and_default_folder(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _unused = check(capsys, "certs/clean/cloud.crt", "certs/bad")
    assert code == 1 and "[chain.leaf]" in out
    code, out, _unused = check(capsys)  # default: the current folder, walked
    assert code == 1 and "7 files checked" in out


def test_json_format(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _unused = check(capsys, "certs", "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["summary"]["errors"] == len([f for f in report["findings"] if f["severity"] == "error"]) >= 3
    assert {f["rule_id"] for f in report["findings"]} >= {"key.encrypted", "key.algorithm", "chain.leaf"}
    assert all(not f["path"].startswith("/") for f in report["findings"])


def test_sarif_paths_are_relative_to_the_git_root(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from certhygiene.rules import RULES

    monkeypatch.chdir(repo / "certs")  # run from a subfolder: paths stay relative to the repository root
    code, out, _unused = check(capsys, "bad", "--format", "sarif")
    assert code == 1
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == list(RULES)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert "certs/bad/cloud-chain.pem" in uris and "certs/bad/locked.key" in uris
    chain_leaf = next(r for r in run["results"] if r["ruleId"] == "chain.leaf")
    assert chain_leaf["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == repo.as_uri() + "/"


def test_fail_on_warning(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weak_only_set(repo / "weak")
    code, out, _unused = check(capsys, "weak")
    assert code == 0 and "[key.weak]" in out
    code, out, _unused = check(capsys, "weak", "--fail-on", "warning")
    assert code == 1


def test_output_file(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _unused = check(capsys, "certs/bad", "--format", "sarif", "--output", "report.sarif")
    assert code == 1
    assert json.loads((repo / "report.sarif").read_text())["version"] == "2.1.0"
    assert "errors" in out and "{" not in out  # the summary line only


def test_profile_and_policy_file(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "big").mkdir()
    (repo / "big" / "big.key").write_bytes(key_pem(key("rsa", 4096), "pkcs1"))
    assert check(capsys, "big")[0] == 1
    assert check(capsys, "big", "--profile", "strict")[0] == 0
    (repo / ".certhygiene.yaml").write_text("allowed_keys: [RSA_2048, RSA_4096]\n")
    assert check(capsys, "big")[0] == 0  # found at the repository root
    (repo / "seed.yaml").write_text("profile: seed\n")
    assert check(capsys, "big", "--policy", "seed.yaml")[0] == 1


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["nope/"], "no such file or folder: nope/"),
        (["certs", "--policy", "missing.yaml"], "missing.yaml"),
        (["certs", "--policy", "bad.yaml"], "bad.yaml: unknown setting"),
        (["certs", "--profile", "lenient"], "unknown profile 'lenient'"),
        (["certs", "--vault-password-file", "no-such-pass"], "no-such-pass"),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    argv: list[str], expected: str, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "bad.yaml").write_text("min_days: 3\n")
    code, out, err = check(capsys, *argv)
    assert code == 2
    assert expected in err and "Traceback" not in err + out


def test_bad_format_is_an_argparse_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", "--format", "xml"])
    assert exc.value.code == 2


def test_console_script_end_to_end(repo: Path) -> None:
    """The installed ``certhygiene`` command: exit codes as a shell sees them, and no traceback."""
    proc = subprocess.run([str(BIN / "certhygiene"), "check", "certs/bad"], capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "[key.encrypted]" in proc.stdout
    proc = subprocess.run(
        [str(BIN / "certhygiene"), "check", "certs/clean"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (repo / "broken.yaml").write_text("profile: [seed\n")
    proc = subprocess.run(
        [str(BIN / "certhygiene"), "check", "certs", "--policy", "broken.yaml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "broken.yaml" in proc.stderr and "Traceback" not in proc.stderr


def test_vault_files_are_skipped_without_a_password_and_checked_with_one(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ansible.parsing.vault import VaultLib, VaultSecret

    folder = repo / "vaulted"
    folder.mkdir()
    secret = key_pem(key("rsa", 2048, 12), "pkcs8", password=b"passphrase")
    (folder / "server.key").write_bytes(VaultLib([("default", VaultSecret(b"pw"))]).encrypt(secret))
    (repo / "pass.txt").write_text("pw\n")
    code, out, _unused = check(capsys, "vaulted")
    assert code == 0 and "vaulted/server.key: skipped" in out
    code, out, _unused = check(capsys, "vaulted", "--vault-password-file", "pass.txt")
    assert code == 1 and "[key.encrypted]" in out


def test_cn_only_v3_certificate_and_expired(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two more verdicts through the CLI: they come from the engine, the CLI only prints them."""
    folder = repo / "more"
    folder.mkdir()
    pki = three_level()
    import datetime

    from support.pki import NOW

    old = issue(
        "old.example.com",
        issuer=pki.intermediate,
        private_key=key("rsa", 2048, 12),
        dns=("old.example.com",),
        not_before=NOW - datetime.timedelta(days=800),
        not_after=NOW - datetime.timedelta(days=1),
    )
    (folder / "old.crt").write_bytes(old.cert_pem)
    (folder / "old-chain.pem").write_bytes(pem(pki.intermediate))
    code, out, _unused = check(capsys, "more")
    assert code == 1 and "more/old.crt:1: error [cert.validity]" in out


# ------------------------------------------------------------------ certhygiene rules


def test_rules_text_lists_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    from certhygiene.rules import RULES

    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    for rule in RULES.values():
        assert rule.id in out
    assert "seed:" in out and "fix:" in out and f"{len(RULES)} rules" in out


def test_rules_json(capsys: pytest.CaptureFixture[str]) -> None:
    from certhygiene.rules import RULES

    assert main(["rules", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in data["rules"]] == list(RULES)
    for entry in data["rules"]:
        assert entry["severity"] in ("error", "warning")
        assert entry["citation"] and entry["hint"]


INTERRUPTED_START = r"""
import os, sys
# Ctrl-C while the command imports cryptography (the longest part of its start), after it forked the walk.
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "certhygiene._crypto":
            raise KeyboardInterrupt
sys.meta_path.insert(0, Interrupt())
from certhygiene.cli.main import main
code = main(sys.argv[1:])
try:
    left = os.waitpid(-1, os.WNOHANG)
except ChildProcessError:
    left = "none"
print("exit code:", code, "forks left:", left)
"""


def test_ctrl_c_during_the_start_ends_the_command_quietly_and_stops_its_walk(tmp_path: Path) -> None:
    clean_set(tmp_path / "site")
    result = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_START, "check", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.stdout, result.stderr) == ("exit code: 130 forks left: none\n", "")
