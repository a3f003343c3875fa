"""`certhygiene check --format sarif` on a failing repository: valid SARIF 2.1.0 that code scanning takes.

- valid against the SARIF 2.1.0 JSON schema (tests/data/sarif-schema-2.1.0.json, with formats checked);
- Microsoft's SARIF validator (npm @microsoft/sarif-multitool, `sarif-multitool validate` with the SARIF
  and the GitHub code scanning rule sets) reports no error and no warning on it;
- what GitHub code scanning needs: every rule with help text and a security severity, results with
  repository-relative locations and lines >= 1, and partial fingerprints that are unique and stable
  (same across checkouts, same when the PEM block moves down the file);
- the exact command of docs/github-actions.yml writes the same SARIF.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from support.pki import NOW, issue, key, key_pem, pem, three_level

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SCHEMA = REPO_ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"
MULTITOOL = Path(
    os.environ.get(
        "SARIF_MULTITOOL",
        REPO_ROOT / "build" / "npm" / "node_modules" / "@microsoft" / "sarif-multitool-linux" / "Sarif.Multitool",
    )
)
TOOLS_HINT = "run `bash scripts/gitops-tools.sh` (make test does) to install it"
PASSWORD = b"correct horse"


def write_failing_repo(root: Path) -> None:
    """One file per kind of problem, and two problems in one file."""
    pki = three_level("sarif.example.com")
    expired = issue(
        "expired.example.com",
        issuer=pki.intermediate,
        dns=("expired.example.com",),
        not_before=NOW - datetime.timedelta(days=400),
        not_after=NOW - datetime.timedelta(days=3),
        private_key=key("rsa", 2048, 40),
    )
    (root / "certs").mkdir(parents=True)
    (root / "keys").mkdir()
    (root / "certs" / "expired.crt").write_bytes(pem(expired))
    (root / "certs" / "expired.chain.pem").write_bytes(pem(pki.intermediate))
    # a passphrase-protected key (key.encrypted)
    (root / "keys" / "locked.key").write_bytes(key_pem(key("rsa", 2048, 41), password=PASSWORD))
    # an EC key and certificate: outside the seed's RSA 1024/2048 (key.algorithm)
    ec = issue("ec.example.com", issuer=pki.intermediate, private_key=key("ec", 256, 42), dns=("ec.example.com",))
    (root / "certs" / "ec.crt").write_bytes(pem(ec))
    (root / "certs" / "ec.chain.pem").write_bytes(pem(pki.intermediate))
    # a chain that holds its own leaf (chain.leaf) and a bundle in the certificate file (bundle.multiple)
    (root / "certs" / "server.crt").write_bytes(pem(pki.leaf))
    (root / "certs" / "server-chain.pem").write_bytes(pem(pki.leaf, pki.intermediate))
    (root / "certs" / "purchased.crt").write_bytes(pem(pki.leaf, pki.intermediate, pki.root))
    # DER, not PEM (pem.encoding)
    (root / "certs" / "binary.crt").write_bytes(pki.leaf.cert.public_bytes(serialization.Encoding.DER))
    # two expired certificates in one file: two findings of one rule in one file
    (root / "certs" / "two-expired.pem").write_bytes(
        pem(
            issue(
                "old1.example.com",
                not_before=NOW - datetime.timedelta(days=90),
                not_after=NOW - datetime.timedelta(days=1),
                dns=("old1.example.com",),
            ),
            issue(
                "old2.example.com",
                not_before=NOW - datetime.timedelta(days=90),
                not_after=NOW - datetime.timedelta(days=2),
                dns=("old2.example.com",),
            ),
        )
    )


def check_sarif(root: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    result = subprocess.run(
        [str(BIN / "certhygiene"), "check", "--format", "sarif", ".", *extra],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout), result.stdout


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    root = tmp_path_factory.mktemp("failing-repo")
    write_failing_repo(root)
    code, log, raw = check_sarif(root)
    assert code == 1, "findings make `certhygiene check` exit 1"
    return root, log, raw


def results(log: dict[str, Any]) -> list[dict[str, Any]]:
    return list(log["runs"][0]["results"])


def test_the_failing_run_finds_each_problem(failing: tuple[Path, dict[str, Any], str]) -> None:
    _unused, log, _unused = failing
    fired = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]) for r in results(log)}
    for expected in [
        ("cert.validity", "certs/expired.crt"),
        ("key.encrypted", "keys/locked.key"),
        ("key.algorithm", "certs/ec.crt"),
        ("chain.leaf", "certs/server-chain.pem"),
        ("bundle.multiple", "certs/purchased.crt"),
        ("pem.encoding", "certs/binary.crt"),
        ("cert.validity", "certs/two-expired.pem"),
    ]:
        assert expected in fired, f"{expected} not in {sorted(fired)}"


def test_sarif_is_valid_against_the_sarif_2_1_0_schema(failing: tuple[Path, dict[str, Any], str]) -> None:
    _unused, log, _unused = failing
    schema = json.loads(SCHEMA.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(log), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:20])
    assert log["version"] == "2.1.0"


def test_schema_check_catches_broken_sarif() -> None:
    """The schema test above can fail: a log without a driver name is invalid."""
    schema = json.loads(SCHEMA.read_text())
    broken = {"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": [{"message": {}}]}]}
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert list(validator.iter_errors(broken))


def run_multitool(sarif: Path, out: Path) -> list[dict[str, Any]]:
    """`sarif-multitool validate` with the SARIF and GitHub (GHAS) rules; the results of its own SARIF log."""
    assert MULTITOOL.is_file(), f"sarif-multitool is not installed at {MULTITOOL}: {TOOLS_HINT}"
    command = [
        str(MULTITOOL),
        "validate",
        str(sarif),
        "--output",
        str(out),
        "--log",
        "ForceOverwrite",
        "--level",
        "Error;Warning;Note",
        "--rule-kind",
        "Sarif;Ghas",
    ]
    # Rule SARIF2006 tries an HTTP GET on every URI in the log; there is no network here but loopback,
    # so run the validator in a network namespace of its own where that is possible (root).
    if (
        shutil.which("unshare")
        and subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0
    ):
        command = ["unshare", "-n", *command]
    env = {**os.environ, "DOTNET_CLI_TELEMETRY_OPTOUT": "1", "DOTNET_NOLOGO": "1"}
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Analysis completed successfully" in result.stdout, result.stdout
    validation = json.loads(out.read_text(encoding="utf-8-sig"))
    run = validation["runs"][0]
    assert run["invocations"][0]["executionSuccessful"] is True
    return list(run.get("results", []))


def describe(findings: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{r.get('level')} {r['ruleId']}: {r['message'].get('text') or r['message'].get('arguments')}" for r in findings
    )


def test_microsoft_sarif_validator_reports_no_error(failing: tuple[Path, dict[str, Any], str], tmp_path: Path) -> None:
    _unused, _unused, raw = failing
    sarif = tmp_path / "certhygiene.sarif"
    sarif.write_text(raw)
    found = run_multitool(sarif, tmp_path / "validation.sarif")
    serious = [r for r in found if r.get("level", "warning") in ("error", "warning")]
    assert not serious, describe(serious)
    # the notes left are advice (message arguments, snippets, version control provenance ...)
    print(describe(found))


def test_microsoft_sarif_validator_catches_broken_sarif(tmp_path: Path) -> None:
    """The validator test above can fail: a log without a driver name is an error."""
    broken = tmp_path / "broken.sarif"
    broken.write_text(json.dumps({"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": []}]}))
    found = run_multitool(broken, tmp_path / "validation.sarif")
    assert any(r.get("level") == "error" for r in found), describe(found)


def test_rules_carry_what_code_scanning_shows(failing: tuple[Path, dict[str, Any], str]) -> None:
    _unused, log, _unused = failing
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "certhygiene" and driver["version"]
    rules = driver["rules"]
    catalog = subprocess.run(
        [str(BIN / "certhygiene"), "rules", "--format", "json"], capture_output=True, text=True, check=True
    )
    assert [rule["id"] for rule in rules] == [rule["id"] for rule in json.loads(catalog.stdout)["rules"]]
    for rule in rules:
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", rule["name"]), rule["name"]
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning")
        severity = float(rule["properties"]["security-severity"])
        assert 0.0 < severity <= 10.0, rule["id"]
        assert "security" in rule["properties"]["tags"]


def test_results_point_at_the_file_and_line(failing: tuple[Path, dict[str, Any], str]) -> None:
    root, log, _unused = failing
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == root.as_uri() + "/"
    for result in results(log):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning")
        assert result["message"]["text"].endswith(".")
        location = result["locations"][0]["physicalLocation"]
        uri = location["artifactLocation"]["uri"]
        assert location["artifactLocation"]["uriBaseId"] == "SRCROOT"
        assert not uri.startswith(("/", "file:")) and (root / uri).is_file(), uri
        assert location["region"]["startLine"] >= 1
    # the second certificate of a file is reported at its own BEGIN line
    lines = sorted(
        r["locations"][0]["physicalLocation"]["region"]["startLine"]
        for r in results(log)
        if r["ruleId"] == "cert.validity"
        and r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "certs/two-expired.pem"
    )
    assert len(lines) == 2 and lines[0] == 1 and lines[1] > 1


def fingerprints(log: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    """(rule, file, certificate or message) -> fingerprint."""
    out = {}
    for result in results(log):
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        what = (result.get("properties") or {}).get("serial") or result["message"]["text"]
        out[(result["ruleId"], uri, what)] = result["partialFingerprints"]["certhygiene/v1"]
    return out


def test_fingerprints_are_unique_and_stable(failing: tuple[Path, dict[str, Any], str], tmp_path: Path) -> None:
    root, log, _unused = failing
    first = fingerprints(log)
    assert len(first) == len(results(log))
    assert len(set(first.values())) == len(first), "two results share a fingerprint"
    # another checkout of the same files (another absolute path): the same fingerprints
    clone = tmp_path / "clone"
    shutil.copytree(root, clone)
    assert fingerprints(check_sarif(clone)[1]) == first
    # PEM blocks move down their files (blank lines above them): same fingerprints, new lines
    for name in ("certs/expired.crt", "keys/locked.key"):
        moved = clone / name
        moved.write_bytes(b"\n\n\n" + moved.read_bytes())
    _unused, log2, _unused = check_sarif(clone)
    for rule_id, uri in (("cert.validity", "certs/expired.crt"), ("key.encrypted", "keys/locked.key")):
        before = [r for r in results(log) if (r["ruleId"], location_uri(r)) == (rule_id, uri)]
        after = [r for r in results(log2) if (r["ruleId"], location_uri(r)) == (rule_id, uri)]
        assert len(before) == len(after) == 1
        assert after[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 4
        assert after[0]["partialFingerprints"] == before[0]["partialFingerprints"], f"{rule_id} on {uri}"
    unmoved = {k: v for k, v in first.items() if k[1] not in ("certs/expired.crt", "keys/locked.key")}
    assert {k: v for k, v in fingerprints(log2).items() if k in unmoved} == unmoved


def location_uri(result: dict[str, Any]) -> str:
    return str(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])


def test_no_key_material_in_the_sarif(failing: tuple[Path, dict[str, Any], str]) -> None:
    root, _unused, raw = failing
    for line in (root / "keys" / "locked.key").read_text().splitlines()[1:-1]:
        assert line not in raw  # no base64 of the key
    assert PASSWORD.decode() not in raw


def test_the_github_template_command_writes_this_sarif(
    failing: tuple[Path, dict[str, Any], str], tmp_path: Path
) -> None:
    """Run the check step of docs/github-actions.yml as the runner would (bash, in the checkout)."""
    root, log, _unused = failing
    workflow = yaml.safe_load((REPO_ROOT / "docs" / "github-actions.yml").read_text())
    step = next(
        step for job in workflow["jobs"].values() for step in job["steps"] if "certhygiene check" in step.get("run", "")
    )
    clone = tmp_path / "checkout"
    shutil.copytree(root, clone)
    result = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=clone,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert result.returncode == 1  # findings; the workflow uploads anyway (continue-on-error)
    upload = next(
        step
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if str(step.get("uses", "")).startswith("github/codeql-action/upload-sarif")
    )
    written = json.loads((clone / upload["with"]["sarif_file"]).read_text())
    assert fingerprints(written) == fingerprints(log)
