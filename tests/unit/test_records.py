"""The engine's value classes (Record subclasses, dataclasses until issue 13): what the engine and the doors rely on.

Equality and hashing by the fields a dataclass compared, ``replace`` as ``dataclasses.replace``, a fresh list or
dict for each instance, ``Finding.as_dict`` (the JSON report's finding), ``repr``, and the pickling a check's
pool workers send their reports back with."""

from __future__ import annotations

import datetime
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from certhygiene.check import Report, check_paths
from certhygiene.facts import KeyInfo
from certhygiene.findings import Finding
from certhygiene.layout import Chain, _Bundle
from certhygiene.material import Block, EncodingProblem, Material
from certhygiene.policy import PROFILES, Bundle, Ignore, Policy, load_policy
from certhygiene.rules import RULES, CertRef, FileContext, Hit, Rule, SetContext
from support.pki import issue, key, pem

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
BLOCK = Block(0, "CERTIFICATE", "certificate", 1, 20, b"\x30\x00")
MATERIAL = Material("a.crt", "pem", [BLOCK])


def _rule(**changes: Any) -> Rule:
    return RULES["key.algorithm"].replace(**changes)


# (name, make(changes) -> instance, a field that equality looks at with another value, hashable,
#  fields equality and hashing leave out with another value)
CASES: list[tuple[str, Callable[..., Any], dict[str, Any], bool, dict[str, Any]]] = [
    (
        "Finding",
        lambda **c: Finding(**{"rule_id": "r", "severity": "error", "path": "p", "message": "m", "hint": "h", **c}),
        {"line": 3},
        True,
        {},
    ),
    ("Hit", lambda **c: Hit(**{"message": "m", "path": "p", **c}), {"hint": "other"}, True, {}),
    ("EncodingProblem", lambda **c: EncodingProblem(**{"line": 1, "detail": "d", **c}), {"detail": "e"}, True, {}),
    ("Ignore", lambda **c: Ignore(**{"rule": "*", "paths": ("a",), **c}), {"paths": ("b",)}, True, {}),
    ("Bundle", lambda **c: Bundle(**{"certificate": "a.crt", **c}), {"chain": "c.crt"}, True, {}),
    ("KeyInfo", lambda **c: KeyInfo(**{"algorithm": "RSA", "size": 2048, **c}), {"size": 4096}, True, {}),
    ("Rule", _rule, {"severity": "warning"}, True, {"check": lambda ctx: iter(())}),
    (
        "_Bundle",
        lambda **c: _Bundle(
            **{
                "certificate": "a",
                "chain": None,
                "private_key": None,
                "client_ca": None,
                "index": 0,
                "written": {"certificate": "./a"},
                **c,
            }
        ),
        {"index": 1},
        True,
        {"written": {}},
    ),
    # Not hashable: they change after they are made, as the dataclasses (not frozen) they were.
    ("Block", BLOCK.replace, {"der": b"\x30\x01"}, False, {}),
    ("Material", MATERIAL.replace, {"form": "der"}, False, {"content": b"bytes"}),
    ("CertRef", lambda **c: CertRef(**{"material": MATERIAL, "block": BLOCK, "position": "leaf", **c}), {}, False, {}),
    (
        "FileContext",
        lambda **c: FileContext(
            **{"material": MATERIAL, "role": "certificate", "certs": [], "policy": None, "now": NOW, **c}
        ),
        {"vaulted": True},
        False,
        {},
    ),
    ("SetContext", lambda **c: SetContext(**{"policy": None, "now": NOW, **c}), {"server": False}, False, {}),
    ("Chain", lambda **c: Chain(**{"path": "c.crt", **c}), {"note": " (why)"}, False, {}),
    ("Report", Report, {"profile": "strict"}, False, {}),
    ("Policy", Policy, {"min_days_left": 30}, False, {}),  # its severity is a dict
]


# What ``repr`` leaves out (a function; bytes read; a check-wide dict and a cache).
HIDDEN = {"Rule": ("check",), "Material": ("content", "_ends"), "SetContext": ("signatures", "_leaf_copies")}


@pytest.mark.parametrize(("name", "make", "other", "hashable", "left_out"), CASES, ids=[c[0] for c in CASES])
def test_equality_hashing_replace_and_repr(
    name: str, make: Callable[..., Any], other: dict[str, Any], hashable: bool, left_out: dict[str, Any]
) -> None:
    one, same = make(), make()
    assert type(one).__name__ == name
    assert one == same and not (one != same)
    assert one != object() and one != tuple(getattr(one, field) for field in one._fields)  # nor another class
    if other:
        changed = one.replace(**other)
        assert changed != one and type(changed) is type(one)
        assert all(getattr(changed, field) == value for field, value in other.items())
        assert changed.replace(**{field: getattr(one, field) for field in other}) == one  # the original is unchanged
    if left_out:
        assert one.replace(**left_out) == one, f"{name}: {sorted(left_out)} take no part in equality"
    if hashable:
        assert hash(one) == hash(same)
        assert {one, same} == {one}
        if left_out:
            assert hash(one.replace(**left_out)) == hash(one)
    else:
        with pytest.raises(TypeError):
            hash(one)
    with pytest.raises(TypeError, match="no field"):
        one.replace(not_a_field=1)
    shown = repr(one)
    assert shown.startswith(f"{name}(")
    assert all(f"{field}=" not in shown for field in HIDDEN.get(name, ())), shown
    assert pickle.loads(pickle.dumps(one)) == one  # noqa: S301  # pool workers send reports back pickled


@pytest.mark.parametrize(
    ("make", "fields"),
    [
        (lambda: Material("a", "pem"), ("blocks", "problems")),
        (lambda: SetContext(None, NOW), ("chain", "keys", "signatures")),
        (lambda: Chain(None), ("contradicted",)),
        (Report, ("findings", "files_checked", "skipped", "locked", "input_errors", "facts")),
        (Policy, ("severity",)),
    ],
    ids=["Material", "SetContext", "Chain", "Report", "Policy"],
)
def test_a_container_left_out_is_new_for_each_instance(make: Callable[[], Any], fields: tuple[str, ...]) -> None:
    one, two = make(), make()
    for field in fields:
        value = getattr(one, field)
        assert value == value.__class__()  # empty
        assert getattr(one, field) is not getattr(two, field), f"{field} is shared between instances"


def test_finding_as_dict_is_the_json_reports_finding() -> None:
    finding = Finding("key.weak", "error", "a.key", "too small", "use 2048", 4, "CN=x", "01", 9)
    assert finding.as_dict() == {
        "rule_id": "key.weak",
        "severity": "error",
        "path": "a.key",
        "message": "too small",
        "hint": "use 2048",
        "line": 4,
        "subject": "CN=x",
        "serial": "01",
        "end_line": 9,
    }
    assert list(finding.as_dict()) == list(Finding._fields)  # the JSON keys keep their order


def test_policy_replace_is_what_a_policy_file_builds_on(tmp_path: Any) -> None:
    (tmp_path / "p.yaml").write_text("min_days_left: 30\nignore:\n  - rule: '*'\n    paths: [vendor/*]\n")
    policy = load_policy(path=str(tmp_path / "p.yaml"))
    expected = PROFILES["seed"].replace(
        min_days_left=30, ignore=(Ignore("*", ("vendor/*",)),), source=str(tmp_path / "p.yaml")
    )
    assert policy == expected
    assert PROFILES["seed"].min_days_left == 180 and PROFILES["seed"].source is None


def test_block_copy_and_key_info_name_still_work() -> None:
    copy = BLOCK.copy()
    assert copy == BLOCK and copy is not BLOCK
    copy.parse_error = "changed"  # check._vet changes a copy, never the cached original
    assert BLOCK.parse_error is None
    assert KeyInfo("EC", 256, "secp256r1").name == "EC_prime256v1" and KeyInfo("RSA", 2048).name == "RSA_2048"


def test_a_check_reports_the_same_findings_as_records(tmp_path: Any) -> None:
    """End to end: an EC key's finding (the seed profile allows RSA only) made by the engine from a Hit, and the
    JSON report's finding made back into one."""
    cert = issue("ec.example", private_key=key("ec", 256), days=400)
    (tmp_path / "weak.crt").write_bytes(pem(cert))
    report = check_paths([str(tmp_path / "weak.crt")], policy=load_policy(discover=False))
    found = [f for f in report.findings if f.rule_id == "key.algorithm"]
    assert len(found) == 1, report.findings
    assert (found[0].path, found[0].line, found[0].severity) == (str(tmp_path / "weak.crt"), 1, "error")
    assert Finding(**found[0].as_dict()) == found[0] and found[0].replace() == found[0]
