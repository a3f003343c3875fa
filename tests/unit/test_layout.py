"""Which files belong together (layout.py), and findings only about the files given.

Pairing goes explicit (``bundles:``) -> names -> proof (a CA whose key verifiably signed the certificate);
a name never pairs a chain that the signature contradicts. Every test here runs the real engine on real
files; the door tests run the real CLI and hook entry points.
"""

from __future__ import annotations

import importlib
import json
import marshal
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from certhygiene.check import check_paths
from certhygiene.cli.main import main as cli
from certhygiene.policy import PolicyError, load_policy
from support.pki import issue, key, key_pem, name, pem, three_level

SEED = load_policy("seed", discover=False)


def write(folder: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder


def findings(report: Any, folder: Path) -> list[tuple[str, str]]:
    return sorted((os.path.relpath(f.path, folder), f.rule_id) for f in report.findings)


def check(folder: Path, *paths: str, policy: Any = SEED, **kwargs: Any) -> Any:
    return check_paths([str(folder / p) for p in (paths or (".",))], policy, root=str(folder), **kwargs)


@pytest.fixture(scope="module")
def cas() -> dict[str, Any]:
    three = three_level()
    other_root = issue("Other Root CA", private_key=key("rsa", 2048, 50), ca=True)
    other_inter = issue("Other Intermediate CA", issuer=other_root, private_key=key("rsa", 2048, 51), ca=True)
    return {"three": three, "other_root": other_root, "other_inter": other_inter}


def unrelated_repo(folder: Path, cas: dict[str, Any]) -> Path:
    """Several unrelated certificates and one generic chain.pem that certifies only a.crt."""
    three, other = cas["three"], cas["other_inter"]
    a = issue("a.example.com", issuer=three.intermediate, private_key=key("rsa", 2048, 52), dns=("a.example.com",))
    b = issue("b.example.com", private_key=key("rsa", 2048, 53), dns=("b.example.com",))  # self-signed
    third = issue("Third CA", private_key=key("rsa", 2048, 56), ca=True)  # not in the repository
    d = issue("d.example.com", issuer=third, private_key=key("rsa", 2048, 54), dns=("d.example.com",))
    e = issue("e.example.com", issuer=other, private_key=key("rsa", 2048, 55), dns=("e.example.com",))
    return write(
        folder,
        {
            "certs/a.crt": a.cert_pem,
            "certs/a.key": key_pem(a.key),
            "certs/b.crt": b.cert_pem,
            "certs/d.crt": d.cert_pem,  # no chain certifies it
            "certs/e.crt": e.cert_pem,
            "certs/e.chain.pem": pem(other, cas["other_root"]),
            "certs/chain.pem": pem(three.intermediate, three.root),
        },
    )


# ------------------------------------------------------------------ proof and names


def test_generic_chain_serves_only_what_it_issued(tmp_path: Path, cas: dict[str, Any]) -> None:
    repo = unrelated_repo(tmp_path, cas)
    assert check(repo, "certs/chain.pem").findings == []  # committing only chain.pem passes
    report = check(repo, "certs/d.crt")
    assert findings(report, repo) == [("certs/d.crt", "chain.required")]  # fails on that certificate, once
    assert "no CA certificate or chain file beside it whose key signed it" in report.findings[0].message
    assert findings(check(repo, "certs"), repo) == [("certs/d.crt", "chain.required")]
    assert report.files_checked == [str(repo / "certs/d.crt")]  # the summary counts what was given


def test_a_chain_named_after_a_certificate_it_did_not_issue(tmp_path: Path, cas: dict[str, Any]) -> None:
    three = cas["three"]
    repo = write(tmp_path, {"x.crt": three.leaf.cert_pem, "x.chain.pem": pem(cas["other_inter"])})
    cert_side = check(repo, "x.crt")
    assert findings(cert_side, repo) == [("x.crt", "chain.required")]
    assert (
        "x.chain.pem is named after it, but its first CA certificate did not issue it" in cert_side.findings[0].message
    )
    chain_side = check(repo, "x.chain.pem")
    assert findings(chain_side, repo) == [("x.chain.pem", "chain.order")]
    assert "does not certify" in chain_side.findings[0].message
    both = check(repo)
    assert findings(both, repo) == [("x.chain.pem", "chain.order"), ("x.crt", "chain.required")]


def test_the_issuer_not_first_in_a_chain_file_is_named(tmp_path: Path, cas: dict[str, Any]) -> None:
    three = cas["three"]
    repo = write(tmp_path, {"x.crt": three.leaf.cert_pem, "chain.pem": pem(three.root, three.intermediate)})
    report = check(repo, "x.crt")
    assert findings(report, repo) == [("x.crt", "chain.required")]
    assert "chain.pem holds its issuer, but not first" in report.findings[0].message


def test_a_ca_file_beside_the_certificate_is_its_chain_by_proof(tmp_path: Path) -> None:
    ca = issue("CA", private_key=key("rsa", 2048, 40), ca=True, subject=name("CA", "EMQ X Cloud"))
    server = issue("XX", issuer=ca, private_key=key("rsa", 2048, 41), dns=("mqtt.example.com",))
    repo = write(tmp_path, {"issuing-authority.pem": ca.cert_pem, "mqtt.crt": server.cert_pem})
    assert check(repo, "mqtt.crt").findings == []


def test_client_certificates_are_not_held_to_the_server_rules(tmp_path: Path) -> None:
    client_ca = issue("Client CA", private_key=key("rsa", 2048, 60), ca=True)
    plain = {"extensions": False}  # no EKU, no SAN, like the seed's client recipe
    repo = write(
        tmp_path,
        {
            "client-ca.crt": client_ca.cert_pem,
            "client-01.pem": issue("device 1", issuer=client_ca, private_key=key("rsa", 2048, 61), **plain).cert_pem,
            "gateway.crt": issue("gateway", issuer=client_ca, private_key=key("rsa", 2048, 62), **plain).cert_pem,
            "api.crt": issue("api", private_key=key("rsa", 2048, 63)).cert_pem,  # a server without identity
        },
    )
    # client-01.pem by its name, gateway.crt by proof (client-ca.crt issued it); api.crt is a server certificate
    assert findings(check(repo), repo) == [("api.crt", "cert.identity")]


def test_a_key_named_after_the_certificate_is_checked_on_the_file_given(tmp_path: Path, cas: dict[str, Any]) -> None:
    three = cas["three"]
    repo = write(
        tmp_path,
        {"s.crt": three.leaf.cert_pem, "s.chain.pem": pem(three.intermediate), "s.key": key_pem(key("rsa", 2048, 5))},
    )
    assert findings(check(repo, "s.crt"), repo) == [("s.crt", "pair.mismatch")]
    assert findings(check(repo, "s.key"), repo) == [("s.key", "pair.mismatch")]
    assert findings(check(repo, "s.chain.pem"), repo) == []


def test_findings_are_the_same_however_the_files_are_batched(tmp_path: Path, cas: dict[str, Any]) -> None:
    """pre-commit splits files into batches run in parallel: the findings of all batches together are those of
    one run, each reported once."""
    repo = unrelated_repo(tmp_path, cas)
    three = cas["three"]
    write(
        repo,
        {
            "certs/s.crt": three.leaf.cert_pem,
            "certs/s.key": key_pem(key("rsa", 2048, 5)),
            "certs/x.crt": issue("x.example.com", issuer=cas["other_inter"], dns=("x.example.com",)).cert_pem,
            "certs/x-chain.pem": pem(three.leaf, three.intermediate),
            "seed/cloud-ca.crt": three.intermediate.cert_pem,
            "seed/cloud.crt": three.leaf.cert_pem,
        },
    )
    whole = check(repo)
    files = sorted(os.path.relpath(p, repo) for p in whole.files_checked)
    one_by_one: Counter[tuple[str, str, str]] = Counter()
    for path in files:
        one_by_one.update((f.path, f.rule_id, f.message) for f in check(repo, path).findings)
    assert one_by_one == Counter((f.path, f.rule_id, f.message) for f in whole.findings)
    assert set(one_by_one.values()) == {1}
    halves = [files[::2], files[1::2]]
    batched = Counter(f.path for half in halves for f in check(repo, *half).findings)
    assert batched == Counter(f.path for f in whole.findings)
    assert len(whole.findings) >= 5


# ------------------------------------------------------------------ explicit bundles


def test_explicit_bundles_are_followed_and_nothing_is_guessed(tmp_path: Path, cas: dict[str, Any]) -> None:
    three = cas["three"]
    not_a_ca = issue("not a CA", private_key=key("rsa", 2048, 64), dns=("client.example.com",))
    repo = write(
        tmp_path,
        {
            "deploy/leaf.pem": three.leaf.cert_pem,
            "deploy/issuers.pem": pem(three.intermediate),
            "deploy/secret.pem": key_pem(key("rsa", 2048, 5)),  # not the leaf's key
            "deploy/clients-ca.pem": not_a_ca.cert_pem,
            "other/leaf.crt": three.leaf.cert_pem,
            "other/leaf-ca.crt": three.intermediate.cert_pem,  # by proof its chain, but the bundle says none
        },
    )
    # Without bundles: the CA file is the chain by proof; nothing pairs the key named secret.pem.
    assert findings(check(repo, "deploy"), repo) == []
    (repo / ".certhygiene.yaml").write_text(
        "bundles:\n"
        "  - certificate: deploy/leaf.pem\n    chain: deploy/issuers.pem\n    private_key: deploy/secret.pem\n"
        "    client_ca: deploy/clients-ca.pem\n"
        "  - certificate: other/leaf.crt\n"
    )
    policy = load_policy(root=str(repo))
    assert findings(check(repo, policy=policy), repo) == [
        ("deploy/clients-ca.pem", "client_ca.invalid"),
        ("deploy/leaf.pem", "pair.mismatch"),
        ("deploy/secret.pem", "pair.mismatch"),
        ("other/leaf.crt", "chain.required"),
    ]
    report = check(repo, "other/leaf.crt", policy=policy)
    assert "its bundle in the policy file names no chain" in report.findings[0].message
    # the key alone, the client CA alone: their bundle's findings located in them
    assert findings(check(repo, "deploy/secret.pem", policy=policy), repo) == [("deploy/secret.pem", "pair.mismatch")]
    assert findings(check(repo, "deploy/clients-ca.pem", policy=policy), repo) == [
        ("deploy/clients-ca.pem", "client_ca.invalid")
    ]


def test_a_bundle_naming_a_missing_file_is_an_input_error(tmp_path: Path, cas: dict[str, Any]) -> None:
    repo = write(tmp_path, {"deploy/leaf.pem": cas["three"].leaf.cert_pem})
    (repo / ".certhygiene.yaml").write_text("bundles:\n  - certificate: deploy/leaf.pem\n    chain: deploy/gone.pem\n")
    report = check(repo, policy=load_policy(root=str(repo)))
    [(where, message)] = report.input_errors
    assert where.endswith(".certhygiene.yaml")
    assert "bundles[0].chain: deploy/gone.pem does not exist" in message and "fix the path" in message


@pytest.mark.parametrize(
    "text, says",
    [
        ("bundles: deploy/server.pem\n", "bundles must be a list"),
        ("bundles:\n  - chain: a.pem\n", "bundles[0] needs 'certificate'"),
        ("bundles:\n  - certificate: a.pem\n    key: a.key\n", "unknown key(s) key"),
        ("bundles:\n  - certificate: a.pem\n    chain: 3\n", "bundles[0].chain must be a file path"),
        ("bundles:\n  - certificate: a.pem\n  - certificate: ./a.pem\n", "both name"),
        ("bundles:\n  - certificate: a.pem\n    chain: a.pem\n", "names the same file twice"),
    ],
)
def test_bad_bundles_are_policy_errors(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / ".certhygiene.yaml").write_text(text)
    with pytest.raises(PolicyError) as error:
        load_policy(root=str(tmp_path))
    assert str(tmp_path / ".certhygiene.yaml") in str(error.value) and says in str(error.value)


# ------------------------------------------------------------------ doors: vault and skipped files


@pytest.fixture
def vault_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    vault = pytest.importorskip("ansible.parsing.vault")
    secret = vault.VaultSecret(b"right password")
    lib = vault.VaultLib([("default", secret)])
    three = three_level()
    write(
        tmp_path,
        {
            "tls/server.crt": three.leaf.cert_pem,
            "tls/server.chain.pem": pem(three.intermediate),
            "tls/server.key": bytes(lib.encrypt(key_pem(three.leaf.key), secret)),
        },
    )
    (tmp_path / ".git").mkdir()
    (tmp_path / "wrong.txt").write_text("wrong password\n")
    (tmp_path / "right.txt").write_text("right password\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)
    return tmp_path


def test_cli_wrong_vault_password_exits_2_naming_the_file(vault_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["check", "tls", "--vault-password-file", "right.txt"]) == 0
    capsys.readouterr()
    assert cli(["check", "tls", "--vault-password-file", "wrong.txt"]) == 2
    out = capsys.readouterr().out
    assert "tls/server.key: error: the vault password does not open this Ansible Vault file" in out
    assert "HMAC" not in out and "right password" not in out
    assert cli(["check", "tls", "--vault-password-file", "wrong.txt", "--format", "json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["input_errors"] == 1 and data["input_errors"][0]["path"] == "tls/server.key"
    assert cli(["check", "tls", "--vault-password-file", "wrong.txt", "--format", "sarif"]) == 2
    captured = capsys.readouterr()
    invocation = json.loads(captured.out)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert any(n["level"] == "error" for n in invocation["toolExecutionNotifications"])
    assert "does not open" in captured.err


def test_cli_fail_on_skipped(vault_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["check", "tls"]) == 0
    assert "skipped: Ansible Vault file: no vault password given" in capsys.readouterr().out
    assert cli(["check", "tls", "--fail-on-skipped"]) == 1
    assert "--fail-on-skipped" in capsys.readouterr().err
    assert cli(["check", "tls", "--fail-on-skipped", "--vault-password-file", "right.txt"]) == 0


@pytest.mark.parametrize("hook", ["certhygiene_policy", "check_cert_key_pair", "forbid_plaintext_private_keys"])
def test_hooks_wrong_vault_password_and_fail_on_skipped(
    vault_repo: Path, hook: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main = importlib.import_module(f"certhygiene.hooks.{hook}").main
    files = ["tls/server.crt", "tls/server.key", "tls/server.chain.pem"]
    assert main(["--vault-password-file", "wrong.txt", *files]) == 2
    assert "tls/server.key: error: the vault password does not open" in capsys.readouterr().out
    assert main(files) == 0
    assert main(["--fail-on-skipped", *files]) == 1
    assert "tls/server.key: skipped" in capsys.readouterr().out
    assert main(["--fail-on-skipped", "--vault-password-file", "right.txt", *files]) == 0


def test_hooks_tell_how_to_give_the_vault_password_for_locked_files_only(
    vault_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tip follows the report's structured ``locked`` entries, not words in the reason: vault files checked
    without a password get it; a vault file the password cannot read (skipped for another reason) does not."""
    (vault_repo / "tls" / "broken.key").write_text("$ANSIBLE_VAULT;1.1;AES256\nnot hex\n")
    report = check_paths(["tls"], load_policy(root=str(vault_repo)), root=str(vault_repo))
    assert sorted(path for path, _reason in report.locked) == ["tls/broken.key", "tls/server.key"]
    main = importlib.import_module("certhygiene.hooks.certhygiene_policy").main
    files = ["tls/server.crt", "tls/server.key", "tls/server.chain.pem", "tls/broken.key"]
    tip = "(pass --vault-password-file or set ANSIBLE_VAULT_PASSWORD_FILE to check it)"
    assert main(files) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sorted(line for line in lines if tip in line) == [
        f"tls/broken.key: skipped: Ansible Vault file: no vault password given {tip}",
        f"tls/server.key: skipped: Ansible Vault file: no vault password given {tip}",
    ]
    assert main(["--vault-password-file", "right.txt", *files]) == 0
    lines = capsys.readouterr().out.splitlines()
    skipped = [line for line in lines if "skipped" in line]
    assert len(skipped) == 1 and skipped[0].startswith("tls/broken.key: skipped: Ansible Vault file: ")
    assert tip not in skipped[0]


# --- the walk: expand_paths' order, and the folders a process pool hands out


def _reference_walk(paths: list[str]) -> list[str]:
    """What the walk must give, written plainly: each folder argument's candidate files sorted as whole paths
    (hidden and skipped folders left out), files as named; the first mention of a file wins."""
    from certhygiene.layout import SKIP_DIRS, is_candidate

    out: list[str] = []
    seen: set[str] = set()
    for path in paths:
        if os.path.isdir(path):
            found = []
            for folder, dirs, files in os.walk(path):
                dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS]
                found += [os.path.join(folder, f) for f in files if is_candidate(os.path.join(folder, f))]
            named = [(os.path.normpath(p), p) for p in sorted(found)]
        else:
            named = [(os.path.normpath(path), path)]
        for shown, _walked in named:
            if os.path.abspath(shown) not in seen:
                seen.add(os.path.abspath(shown))
                out.append(shown)
    return out


WALK_TREE = {
    "x/a.crt": b"pem",
    "x/m.key": b"pem",
    "x/m/b.crt": b"pem",  # between x/m.key and x/mm.chain as whole paths: the walk must not keep folders apart
    "x/mm.chain": b"pem",
    "x/z.crt": b"pem",
    "x/.hidden/h.crt": b"pem",
    "x/node_modules/n.crt": b"pem",
    "y/noext": b"-----BEGIN CERTIFICATE-----\n",
    "y/readme.txt": b"prose",
    "y/z/c.pem": b"pem",
    "a-b/k.key": b"pem",
}


@pytest.mark.parametrize(
    "arguments",
    [["."], ["x"], ["x", "x/m"], ["x/m", "x"], ["x/a.crt", "x"], ["x", "x/a.crt"], ["y", "."], ["a-b", "x", "y/z"]],
)
def test_the_walk_sorts_whole_paths_and_groups_each_file_by_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str]
) -> None:
    from certhygiene.layout import expand_by_folder, expand_paths

    write(tmp_path, WALK_TREE)
    monkeypatch.chdir(tmp_path)
    assert expand_paths(arguments) == _reference_walk(arguments)
    unique, folders = expand_by_folder(arguments)
    assert list(unique) == _reference_walk(arguments)
    grouped = [pair for pairs in folders.values() for pair in pairs]
    assert sorted(grouped) == sorted(unique.items())  # each file once, in the folder it stands in
    for folder, pairs in folders.items():
        assert all(os.path.dirname(absolute) == folder for _shown, absolute in pairs)
        assert [shown for shown, _absolute in pairs] == [p for p in unique if unique[p] in dict(pairs).values()]


# --- the walk in a fork while the command imports cryptography (layout.BackgroundWalk)


def _gone(pid: int) -> bool:
    """The process ``pid`` was reaped (not even a zombie is left)."""
    return not Path(f"/proc/{pid}").exists()


@pytest.mark.parametrize("arguments", [["."], ["x", "x/m"], ["x/a.crt", "x"], ["a-b", "x", "y/z"]])
def test_a_background_walk_is_the_walk_and_its_fork_is_reaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str]
) -> None:
    from certhygiene.layout import BackgroundWalk, expand_by_folder

    write(tmp_path, WALK_TREE)
    monkeypatch.chdir(tmp_path)
    walk = BackgroundWalk(arguments)
    pid = walk._pid
    assert pid > 0
    assert walk.result() == expand_by_folder(arguments)
    assert _gone(pid)
    assert walk.result() is None  # given once; then the caller walks


def test_a_background_walk_that_fails_leaves_the_walk_to_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fork dies in its walk: the command walks itself, and its report is the one it gives without the fork."""
    from certhygiene import layout

    pki = three_level("walk.example.com")
    write(
        tmp_path,
        {"a/site.crt": pem(pki.leaf), "a/site.key": key_pem(pki.leaf.key), "a/site.chain.pem": pem(pki.intermediate)},
    )
    monkeypatch.chdir(tmp_path)
    assert cli(["check", ".", "--format", "json"]) == 0
    expected = json.loads(capsys.readouterr().out)

    def broken(_walk: Any) -> bytes:
        raise OSError("the disk went away")

    monkeypatch.setattr(marshal, "dumps", broken)  # what the fork sends the walk with; the command only loads
    walk = layout.BackgroundWalk(["."])
    assert walk.result() is None
    for jobs in ("1", "2"):
        assert cli(["check", ".", "--format", "json", "--jobs", jobs]) == 0
        assert json.loads(capsys.readouterr().out) == expected
    assert expected["files_checked"] == ["a/site.chain.pem", "a/site.crt", "a/site.key"]


def test_a_background_walk_nobody_waits_for_is_stopped_and_reaped(tmp_path: Path) -> None:
    from certhygiene.layout import BackgroundWalk

    for index in range(200):
        (tmp_path / f"d{index:03d}").mkdir()
        for name_index in range(20):
            (tmp_path / f"d{index:03d}" / f"n{name_index}.txt").write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    walk = BackgroundWalk([str(tmp_path)])
    pid = walk._pid
    walk.close()  # the command ended before it wanted the walk (a bad policy file, an interrupt)
    assert _gone(pid)
    assert walk.result() is None
