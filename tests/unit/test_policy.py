"""Policies: profiles, the policy file, overrides, and the errors a user sees for a bad file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from certhygiene.check import check_paths
from certhygiene.findings import ERROR, WARNING
from certhygiene.policy import PROFILES, PolicyError, load_policy, path_matches
from support.pki import issue, key, key_pem, pem, three_level


def test_profiles() -> None:
    seed = load_policy(discover=False)
    assert seed.profile == "seed"
    assert seed.allowed_keys == ("RSA_1024", "RSA_2048")
    assert seed.min_days_left == 180 and seed.warn_days == 0 and seed.identity_from_cn
    emqx = load_policy("emqx-cloud", discover=False)
    assert set(emqx.allowed_keys) == {"RSA_1024", "RSA_2048", "EC_prime256v1", "EC_secp384r1"}
    assert emqx.key_formats == ("pkcs1", "pkcs8")
    strict = load_policy("strict", discover=False)
    assert "RSA_1024" not in strict.allowed_keys and "RSA_2048" in strict.allowed_keys
    assert strict.warn_days > strict.min_days_left and not strict.identity_from_cn
    assert set(PROFILES) == {"seed", "emqx-cloud", "strict"}


def write_policy(folder: Path, text: str, name: str = ".certhygiene.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_policy_file_found_at_the_root(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        """
profile: emqx-cloud
allowed_keys: [RSA_2048, EC_prime256v1]
min_days_left: 30
warn_days: 60
identity_from_cn: false
chain_files: ["*.ca"]
severity: {key.weak: error, cert.validity: warning}
rules: {chain.required: false}
ignore:
  - rule: cert.validity
    paths: ["tests/fixtures/**"]
  - rule: "*"
    paths: "vendor/**"
""",
    )
    policy = load_policy(root=str(tmp_path))
    assert policy.profile == "emqx-cloud"
    assert policy.allowed_keys == ("RSA_2048", "EC_prime256v1")
    assert (policy.min_days_left, policy.warn_days, policy.identity_from_cn) == (30, 60, False)
    assert policy.chain_files == ("*.ca",)
    assert policy.severity_of("key.weak", WARNING) == ERROR
    assert policy.severity_of("cert.validity", ERROR) == WARNING
    assert not policy.enabled("chain.required") and policy.enabled("chain.leaf")
    assert policy.ignored("cert.validity", "tests/fixtures/old/server.crt")
    assert not policy.ignored("cert.validity", "certs/server.crt")
    assert policy.ignored("pem.encoding", "vendor/a/b.pem")
    assert policy.source == str(path)
    assert policy.as_dict()["rules"] == {"chain.required": False}


def test_cwd_discovery_and_explicit_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_policy(tmp_path, "profile: strict\n")
    monkeypatch.chdir(tmp_path)
    assert load_policy().profile == "strict"
    assert load_policy(discover=False).profile == "seed"
    other = write_policy(tmp_path, "profile: emqx-cloud\n", "team-policy.yml")
    assert load_policy(path=str(other)).profile == "emqx-cloud"


def test_profile_argument_wins_over_the_file_and_overrides_come_last(tmp_path: Path) -> None:
    path = write_policy(tmp_path, "profile: emqx-cloud\nmin_days_left: 10\n")
    policy = load_policy("strict", path=str(path), overrides={"min_days_left": 90, "warn_days": None})
    assert policy.profile == "strict"
    assert policy.min_days_left == 90  # overrides win over the file
    assert policy.warn_days == PROFILES["strict"].warn_days  # None means unset
    assert load_policy(overrides={"profile": "emqx-cloud"}, discover=False).profile == "emqx-cloud"


def test_empty_file_is_the_profile(tmp_path: Path) -> None:
    assert load_policy(path=str(write_policy(tmp_path, ""))) == PROFILES["seed"].replace(
        source=str(tmp_path / ".certhygiene.yaml")
    )


BAD: list[tuple[str, str]] = [
    ("profile: lenient\n", "unknown profile 'lenient'; use one of: seed, emqx-cloud, strict"),
    ("profle: seed\n", "unknown setting(s) profle"),
    ("allowed_keys: [RSA-2048]\n", "allowed_keys: unknown key name(s) RSA-2048; write RSA_<bits>"),
    ("allowed_keys: 2048\n", "allowed_keys must be a list of strings"),
    ("key_formats: [der]\n", "key_formats: unknown format(s) der"),
    ("min_days_left: -1\n", "min_days_left must be a whole number of days >= 0"),
    ("warn_days: yes\n", "warn_days must be a whole number of days >= 0"),
    ("identity_from_cn: maybe\n", "identity_from_cn must be true or false"),
    ("severity: {key.weak: fatal}\n", "severity of key.weak: 'fatal' is not error or warning"),
    ("severity: {key.tiny: error}\n", "severity: unknown rule 'key.tiny'"),
    ("severity: [key.weak]\n", "severity must be a mapping"),
    ("rules: {cert.validity: off-ish}\n", "rules: cert.validity must be true or false"),
    ("rules: {cert.expiry: false}\n", "rules: unknown rule 'cert.expiry'"),
    ("ignore: {rule: cert.validity}\n", "ignore must be a list"),
    ("ignore: [{rule: cert.validity, path: x}]\n", "each ignore entry needs 'rule' and 'paths'"),
    ("ignore: [{rule: nope, paths: [x]}]\n", "ignore: unknown rule 'nope'"),
    ("- profile: seed\n", "the policy file must be a mapping"),
    ("profile: [seed\n", "not valid YAML at line"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m.split(";")[0][:40] for _unused, m in BAD])
def test_bad_policy_file_names_the_file_and_the_fix(tmp_path: Path, text: str, message: str) -> None:
    path = write_policy(tmp_path, text)
    with pytest.raises(PolicyError) as error:
        load_policy(path=str(path))
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load_policy(path=str(tmp_path / "nope.yaml"))


def test_bad_overrides_name_the_overrides() -> None:
    with pytest.raises(PolicyError, match=r"^the policy overrides: min_days_left"):
        load_policy(overrides={"min_days_left": "soon"}, discover=False)
    with pytest.raises(PolicyError, match="unknown profile"):
        load_policy("paranoid", discover=False)


@pytest.mark.parametrize(
    ("path", "pattern", "matches"),
    [
        ("certs/server.crt", "*.crt", True),
        ("certs/server.crt", "certs/*.crt", True),
        ("certs/a/server.crt", "certs/*.crt", False),
        ("certs/a/server.crt", "certs/**", True),
        ("certs/a/server.crt", "**/server.crt", True),
        ("server.crt", "**/server.crt", True),
        ("./certs/server.crt", "certs/*", True),
        ("other/server.crt", "certs/**", False),
    ],
)
def test_path_globs(path: str, pattern: str, matches: bool) -> None:
    assert path_matches(path, pattern) is matches


# ------------------------------------------------------------------ the policy changes what check_paths reports


def _repo(folder: Path) -> None:
    three = three_level()
    (folder / "certs").mkdir()
    (folder / "fixtures").mkdir()
    (folder / "certs/server.crt").write_bytes(three.leaf.cert_pem)  # no chain: chain.required
    (folder / "certs/server.key").write_bytes(key_pem(three.leaf.key))
    weak = issue("weak.example.com", private_key=key("rsa", 1024), dns=("weak.example.com",))
    (folder / "fixtures/weak.crt").write_bytes(pem(weak))  # key.weak warning


def _ids(report: Any) -> set[tuple[str, str, str]]:
    return {(Path(f.path).name, f.rule_id, f.severity) for f in report.findings}


def test_policy_file_drives_check_paths(tmp_path: Path) -> None:
    _repo(tmp_path)
    default = check_paths([str(tmp_path)], load_policy(root=str(tmp_path)), root=str(tmp_path))
    assert _ids(default) == {("server.crt", "chain.required", ERROR), ("weak.crt", "key.weak", WARNING)}

    write_policy(tmp_path, "severity: {key.weak: error}\nrules: {chain.required: false}\n")
    changed = check_paths([str(tmp_path)], load_policy(root=str(tmp_path)), root=str(tmp_path))
    assert _ids(changed) == {("weak.crt", "key.weak", ERROR)}

    write_policy(
        tmp_path, "ignore: [{rule: key.weak, paths: ['fixtures/**']}, {rule: '*', paths: ['certs/server.*']}]\n"
    )
    ignored = check_paths([str(tmp_path)], root=str(tmp_path))  # finds .certhygiene.yaml at root itself
    assert ignored.findings == []
    assert ignored.profile == "seed"
