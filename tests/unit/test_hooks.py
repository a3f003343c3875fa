"""The pre-commit hooks, called as pre-commit calls them: ``main([files...])`` in the repository folder.

Each hook gets a failing and a passing case (table below): the exit code, the rule id, the file and the
certificate named in the message, a fix, and never a byte of key material in the output.
"""

from __future__ import annotations

import base64
import datetime
import importlib
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.pki import NOW, key, key_pem, pem, three_level

HOOKS_YAML = Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml"


def files_three_level() -> dict[str, bytes]:
    """A clean one-way set, as the seed asks: certificate, its chain (no leaf), an unencrypted RSA 2048 key."""
    pki = three_level()
    return {
        "cloud.crt": pki.leaf.cert_pem,
        "cloud-chain.pem": pem(pki.intermediate),
        "cloud.key": key_pem(pki.leaf.key, "pkcs1"),
    }


def encrypted_pkcs8() -> dict[str, bytes]:
    return {"cloud.key": key_pem(key("rsa", 2048, 12), "pkcs8", password=b"secret passphrase")}


def encrypted_legacy() -> dict[str, bytes]:
    return {"legacy.key": key_pem(key("rsa", 2048, 12), "pkcs1", password=b"secret passphrase")}


def encrypted_openssh() -> dict[str, bytes]:
    """ssh-keygen's own encrypted key (cryptography needs the bcrypt package to write one)."""
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen (openssh-client) is not installed")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "id_ed25519"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret passphrase", "-C", "", "-f", str(path)], check=True
        )
        return {"ssh.key": path.read_bytes()}


def rsa_4096_key() -> dict[str, bytes]:
    return {"big.key": key_pem(key("rsa", 4096), "pkcs1")}


def ec_certificate() -> dict[str, bytes]:
    pki = three_level(host="ec.example.com", kind="ec", size=256)
    return {"ec.crt": pki.leaf.cert_pem}


def leaf_in_chain() -> dict[str, bytes]:
    pki = three_level()
    return {"cloud.crt": pki.leaf.cert_pem, "cloud-chain.pem": pem(pki.leaf, pki.intermediate)}


def expiring() -> dict[str, bytes]:
    from support.pki import issue

    pki = three_level()
    leaf = issue(
        "soon.example.com",
        issuer=pki.intermediate,
        private_key=key("rsa", 2048, 12),
        dns=("soon.example.com",),
        days=30,
    )
    return {"soon.crt": leaf.cert_pem, "soon-chain.pem": pem(pki.intermediate)}


def expired() -> dict[str, bytes]:
    from support.pki import issue

    pki = three_level()
    leaf = issue(
        "old.example.com",
        issuer=pki.intermediate,
        private_key=key("rsa", 2048, 12),
        dns=("old.example.com",),
        not_before=NOW - datetime.timedelta(days=400),
        not_after=NOW - datetime.timedelta(days=2),
    )
    return {"old.crt": leaf.cert_pem, "old-chain.pem": pem(pki.intermediate)}


def wrong_key() -> dict[str, bytes]:
    pki = three_level()
    return {
        "cloud.crt": pki.leaf.cert_pem,
        "cloud-chain.pem": pem(pki.intermediate),
        "cloud.key": key_pem(key("rsa", 2048, 13), "pkcs1"),
    }


def der_certificate() -> dict[str, bytes]:
    pki = three_level()
    return {"cloud.crt": pki.leaf.cert.public_bytes(serialization.Encoding.DER)}


def stray_text() -> dict[str, bytes]:
    pki = three_level()
    return {"cloud.crt": b"subject=CN = mqtt.example.com\n" + pki.leaf.cert_pem}


@dataclass
class Case:
    hook: str  # module in certhygiene.hooks
    files: Callable[[], dict[str, bytes]]
    argv: tuple[str, ...]  # the files pre-commit passes (the staged ones)
    rule: str | None  # None: the hook passes
    path: str | None = None  # the file the message must name
    subject: str | None = None  # the certificate the message must name


CASES = [
    # forbid-encrypted-private-keys
    Case("forbid_encrypted_private_keys", encrypted_pkcs8, ("cloud.key",), "key.encrypted", "cloud.key"),
    Case("forbid_encrypted_private_keys", encrypted_legacy, ("legacy.key",), "key.encrypted", "legacy.key"),
    Case("forbid_encrypted_private_keys", encrypted_openssh, ("ssh.key",), "key.encrypted", "ssh.key"),
    Case("forbid_encrypted_private_keys", files_three_level, ("cloud.key", "cloud.crt"), None),
    # check-key-size
    Case("check_key_size", rsa_4096_key, ("big.key",), "key.algorithm", "big.key"),
    Case("check_key_size", ec_certificate, ("ec.crt",), "key.algorithm", "ec.crt", "CN=ec.example.com"),
    Case("check_key_size", files_three_level, ("cloud.key", "cloud.crt", "cloud-chain.pem"), None),
    # forbid-leaf-in-chain
    Case(
        "forbid_leaf_in_chain",
        leaf_in_chain,
        ("cloud-chain.pem",),
        "chain.leaf",
        "cloud-chain.pem",
        "CN=mqtt.example.com",
    ),
    Case("forbid_leaf_in_chain", files_three_level, ("cloud-chain.pem", "cloud.crt"), None),
    # check-cert-expiry
    Case("check_cert_expiry", expiring, ("soon.crt",), "cert.validity", "soon.crt", "CN=soon.example.com"),
    Case("check_cert_expiry", expired, ("old.crt",), "cert.validity", "old.crt", "CN=old.example.com"),
    Case("check_cert_expiry", files_three_level, ("cloud.crt",), None),
    # check-cert-key-pair: the key alone is staged, its certificate is read from beside it
    Case("check_cert_key_pair", wrong_key, ("cloud.key",), "pair.mismatch", "cloud", "CN=mqtt.example.com"),
    Case("check_cert_key_pair", wrong_key, ("cloud.crt",), "pair.mismatch", "cloud", "CN=mqtt.example.com"),
    Case("check_cert_key_pair", files_three_level, ("cloud.key", "cloud.crt"), None),
    # check-pem
    Case("check_pem", der_certificate, ("cloud.crt",), "pem.encoding", "cloud.crt"),
    Case("check_pem", stray_text, ("cloud.crt",), "pem.encoding", "cloud.crt"),
    Case("check_pem", files_three_level, ("cloud.crt", "cloud.key", "cloud-chain.pem"), None),
    # certhygiene: the whole policy
    Case("certhygiene_policy", leaf_in_chain, ("cloud.crt", "cloud-chain.pem"), "chain.leaf", "cloud-chain.pem"),
    Case("certhygiene_policy", rsa_4096_key, ("big.key",), "key.algorithm", "big.key"),
    Case("certhygiene_policy", encrypted_pkcs8, ("cloud.key",), "key.encrypted", "cloud.key"),
    Case("certhygiene_policy", files_three_level, ("cloud.crt", "cloud.key", "cloud-chain.pem"), None),
]


def case_id(case: Case) -> str:
    return f"{case.hook}-{case.files.__name__}-{'fail' if case.rule else 'pass'}"


def write(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (folder / name).write_bytes(data)


def key_secrets(files: dict[str, bytes]) -> list[str]:
    """Fragments of key material that must never appear in output: base64 lines of every key block."""
    secrets = []
    for data in files.values():
        text = data.decode("ascii", errors="replace")
        for block in re.findall(r"-----BEGIN [A-Z ]*PRIVATE KEY-----\n(.*?)-----END", text, re.S):
            secrets += [line for line in block.splitlines() if len(line) >= 40 and ":" not in line]
    return secrets


def run(hook: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    module = importlib.import_module(f"certhygiene.hooks.{hook}")
    code = module.main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_hook(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)
    files = case.files()
    write(tmp_path, files)
    code, out = run(case.hook, list(case.argv), capsys)
    if case.rule is None:
        assert code == 0, out
        assert "error" not in out
        return
    assert code == 1, out
    lines = [line for line in out.splitlines() if f"[{case.rule}]" in line]
    assert lines, out
    line = lines[0]
    assert case.path is not None and case.path in line
    assert "error" in line and "Fix:" in line
    if case.subject:
        assert case.subject in line and "serial 0x" in line
    for secret in key_secrets(files):
        assert secret not in out


@pytest.mark.parametrize("hook", sorted({c.hook for c in CASES}))
def test_hook_without_files_passes(hook: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(hook, [], capsys) == (0, "")


def test_hooks_select_only_their_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An encrypted key is not check-pem's business, nor a leaf in a chain check-key-size's."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {**encrypted_pkcs8(), **leaf_in_chain()})
    assert run("check_key_size", ["cloud.key", "cloud-chain.pem"], capsys)[0] == 0
    assert run("check_pem", ["cloud.key"], capsys)[0] == 0
    code, out = run("certhygiene_policy", ["cloud.key", "cloud-chain.pem"], capsys)
    assert code == 1 and "[key.encrypted]" in out and "[chain.leaf]" in out


def test_profile_option_changes_the_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, rsa_4096_key())
    assert run("check_key_size", ["big.key"], capsys)[0] == 1
    assert run("check_key_size", ["--profile", "strict", "big.key"], capsys)[0] == 0


def test_policy_file_is_found_at_the_root_and_given_with_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, expiring())
    assert run("check_cert_expiry", ["soon.crt"], capsys)[0] == 1
    (tmp_path / "relaxed.yaml").write_text("min_days_left: 10\n")
    assert run("check_cert_expiry", ["--policy", "relaxed.yaml", "soon.crt"], capsys)[0] == 0
    (tmp_path / ".certhygiene.yaml").write_text("min_days_left: 10\n")
    assert run("check_cert_expiry", ["soon.crt"], capsys)[0] == 0


@pytest.mark.parametrize(
    "content, expected",
    [
        ("profile: nonsense\n", "unknown profile"),
        ("min_days: 3\n", "unknown setting"),
        ("profile: [seed\n", "not valid YAML"),
    ],
)
def test_bad_policy_file_is_a_usage_error(
    content: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, files_three_level())
    (tmp_path / "policy.yaml").write_text(content)
    code, out = run("certhygiene_policy", ["--policy", "policy.yaml", "cloud.crt"], capsys)
    assert code == 2
    assert "policy.yaml" in out and expected in out and "Traceback" not in out


# ------------------------------------------------------------------ Ansible Vault


def vault_encrypt(data: bytes, password: bytes) -> bytes:
    """Encrypt as ``ansible-vault encrypt`` does (Ansible's own VaultLib; the engine decrypts without Ansible)."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    return bytes(VaultLib([("default", VaultSecret(password))]).encrypt(data))


@pytest.fixture
def vaulted_encrypted_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """A passphrase-protected key inside an Ansible Vault file, and the vault password file."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)
    inner = encrypted_pkcs8()["cloud.key"]
    files = {"cloud.key": vault_encrypt(inner, b"vault pass")}
    write(tmp_path, files)
    (tmp_path / "vault-pass.txt").write_text("vault pass\n")
    return {"inner": inner}


def test_vault_file_without_password_passes_with_a_note(
    vaulted_encrypted_key: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run("forbid_encrypted_private_keys", ["cloud.key"], capsys)
    assert code == 0
    assert "cloud.key" in out and "skipped" in out and "--vault-password-file" in out


def test_vault_file_is_checked_with_the_password_file(
    vaulted_encrypted_key: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run("forbid_encrypted_private_keys", ["--vault-password-file", "vault-pass.txt", "cloud.key"], capsys)
    assert code == 1
    assert "cloud.key" in out and "[key.encrypted]" in out
    for secret in key_secrets(vaulted_encrypted_key):
        assert secret not in out


def test_vault_password_file_from_the_environment(
    vaulted_encrypted_key: dict[str, bytes], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", "vault-pass.txt")
    code, out = run("certhygiene_policy", ["cloud.key"], capsys)
    assert code == 1 and "[key.encrypted]" in out


def test_vault_password_script(
    vaulted_encrypted_key: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An executable password file is run and its output is the password, as Ansible does."""
    script = tmp_path / "vault-pass.sh"
    script.write_text("#!/bin/sh\necho 'vault pass'\n")
    script.chmod(0o700)
    code, out = run("forbid_encrypted_private_keys", ["--vault-password-file", str(script), "cloud.key"], capsys)
    assert code == 1 and "[key.encrypted]" in out


def test_missing_vault_password_file_is_a_usage_error(
    vaulted_encrypted_key: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run("forbid_encrypted_private_keys", ["--vault-password-file", "nope.txt", "cloud.key"], capsys)
    assert code == 2 and "nope.txt" in out and "Traceback" not in out


# ------------------------------------------------------------------ the manifest


def test_every_hook_in_the_manifest_has_a_console_script_and_a_main() -> None:
    import tomllib

    manifest = yaml.safe_load(HOOKS_YAML.read_text())
    scripts = tomllib.loads((HOOKS_YAML.parent / "pyproject.toml").read_text())["project"]["scripts"]
    ids = {hook["id"] for hook in manifest}
    assert {
        "forbid-encrypted-private-keys",
        "check-key-size",
        "forbid-leaf-in-chain",
        "check-cert-expiry",
        "check-cert-key-pair",
        "check-pem",
        "certhygiene",
    } <= ids
    for hook in manifest:
        assert hook["language"] == "python"
        target = scripts[hook["entry"].split()[0]]
        module_name, func = target.split(":")
        assert callable(getattr(importlib.import_module(module_name), func)), hook["id"]


PEM_KEY = b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"


@pytest.mark.parametrize(
    "name, content, reaches",
    [
        ("certs/cloud.crt", b"", True),
        ("certs/cloud.CER", b"", True),
        ("a/b/server.pem", b"", True),
        ("server.key", b"", True),
        ("ca.chain", b"", True),
        ("req.csr", b"", True),
        ("cert.der", b"\x30\x82", True),
        ("bundle.p12", b"", True),
        ("bundle.pfx", b"", True),
        ("big.cert", b"", True),
        ("my-chain.txt", b"", True),
        # by content: what the CLI's folder walk also finds
        ("id_big", b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----\n", True),
        ("server.key.bak", PEM_KEY, True),
        ("encrypted.key.txt", b"\n  " + PEM_KEY, True),
        ("export.out", b"Bag Attributes\n    localKeyID: 01\n" + PEM_KEY, True),
        ("README.md", b"# certificates\n", False),
        ("crt.py", b"print('-----BEGIN CERTIFICATE-----')\n", False),
        ("docs/howto.txt", b"Paste this:\n\n" + PEM_KEY, False),  # a document quoting PEM is not material
        ("empty", b"", False),
    ],
)
def test_certificate_files_reach_the_hooks(name: str, content: bytes, reaches: bool, tmp_path: Path) -> None:
    """Every checking hook takes every file (types: [file], no files: regex) and keeps those the CLI walk keeps."""
    from certhygiene.hooks._common import certificate_material
    from certhygiene.layout import expand_paths

    for hook in yaml.safe_load(HOOKS_YAML.read_text()):
        if hook["id"] == "split-certificate-bundles":
            continue  # the fixer rewrites certificate files only
        assert hook["types"] == ["file"] and "files" not in hook, hook["id"]
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    assert certificate_material(str(path)) is reaches
    assert (str(path) in expand_paths([str(tmp_path)])) is reaches


def test_rule_sets_of_the_hooks_exist_in_the_catalog() -> None:
    from certhygiene.rules import RULES

    for case in CASES:
        rules = importlib.import_module(f"certhygiene.hooks.{case.hook}").RULES
        assert rules is None or set(rules) <= set(RULES), case.hook


def test_no_key_material_for_a_broken_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A damaged key is reported by file and line, never echoed."""
    monkeypatch.chdir(tmp_path)
    good = key_pem(key("rsa", 2048, 12), "pkcs1").decode()
    lines = good.splitlines()
    body = "".join(lines[1:-1])
    damaged = base64.b64encode(base64.b64decode(body)[:-40]).decode()
    broken = "\n".join([lines[0], *[damaged[i : i + 64] for i in range(0, len(damaged), 64)], lines[-1]]) + "\n"
    files = {"broken.key": broken.encode()}
    write(tmp_path, files)
    code, out = run("certhygiene_policy", ["broken.key"], capsys)
    assert code == 1 and "broken.key" in out
    for secret in key_secrets(files):
        assert secret not in out


# ------------------------------------------------------------------ fuzz: random and mutated files


def _seeds() -> list[bytes]:
    pki = three_level()
    return [
        pki.leaf.cert_pem,
        pem(pki.leaf, pki.intermediate),
        key_pem(pki.leaf.key, "pkcs1"),
        pki.leaf.cert.public_bytes(serialization.Encoding.DER),
    ]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_SEEDS)))
    for _unused in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[pos : pos + draw(st.integers(1, 64))]
        else:
            data[pos:pos] = draw(st.binary(max_size=16))
    return bytes(data)


_SEEDS = _seeds()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    hook=st.sampled_from(sorted({c.hook for c in CASES})),
    names=st.sampled_from([("cloud.crt", "cloud.key"), ("cloud-chain.pem", "cloud.crt"), ("x.der", "x.p12")]),
    first=st.one_of(st.binary(max_size=300), mutated()),
    second=mutated(),
)
def test_hooks_never_raise_on_random_or_mutated_files(
    hook: str,
    names: tuple[str, str],
    first: bytes,
    second: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {names[0]: first, names[1]: second})
    code, out = run(hook, list(names), capsys)
    assert code in (0, 1), out
    if code == 1:
        assert "Fix:" in out


ARGV_TOKENS = st.sampled_from(
    [
        "a.crt",
        "dir/b.key",
        "",
        "-",
        "--",
        "-x",
        "--help",
        "--fail-on",
        "--fail-on=warning",
        "--fail-on=bogus",
        "error",
        "warning",
        "--fail-on-skipped",
        "--fail-on-skipped=1",
        "--fail",
        "--profile",
        "--profile=strict",
        "--policy",
        "--policy=p.yaml",
        "--vault-password-file",
        "--vault-password-file=pw",
        "--max-file-size=1k",
    ]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=st.lists(ARGV_TOKENS, max_size=6))
def test_hook_fast_argument_path_reads_as_argparse(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """The hooks read the usual arguments without argparse (startup cost); whatever they read must be what
    argparse reads, and whatever argparse would reject (or answer with --help) must go to argparse."""
    from certhygiene.hooks._common import build_parser, quick_args

    quick = quick_args(argv)
    try:
        parsed = vars(build_parser("hook", "").parse_args(argv))
    except SystemExit:
        capsys.readouterr()
        assert quick is None, f"{argv}: argparse rejects it, the fast path read {vars(quick)}"
        return
    if quick is not None:
        assert vars(quick) == parsed, argv


def test_hook_fast_argument_path_takes_what_pre_commit_passes() -> None:
    """The hook's ``args`` then the file names: read without argparse, as argparse reads them."""
    from certhygiene.hooks._common import build_parser, quick_args

    for argv in (
        ["a.crt", "b.key"],
        ["--fail-on", "warning", "--profile=strict", "--fail-on-skipped", "a.crt"],
        ["--policy", "ci/policy.yaml", "--vault-password-file=pw", "x/a.pem"],
    ):
        quick = quick_args(argv)
        assert quick is not None, argv
        assert vars(quick) == vars(build_parser("hook", "").parse_args(argv))
