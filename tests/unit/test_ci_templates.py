"""docs/github-actions.yml and docs/gitlab-ci.yml: valid pipelines that run the hooks and upload SARIF.

Both are validated against the GitHub workflow and GitLab CI JSON schemas that
check-jsonschema ships (offline copies of SchemaStore's), then read for what they do.
The SARIF that their `certhygiene check` command writes is validated in
tests/integration/test_sarif_validation.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

DOCS = Path(__file__).resolve().parents[2] / "docs"
GITHUB = DOCS / "github-actions.yml"
GITLAB = DOCS / "gitlab-ci.yml"
SARIF_COMMAND = re.compile(r"certhygiene check --format sarif \. > (?P<file>\S+\.sarif)")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize(("path", "schema"), [(GITHUB, "vendor.github-workflows"), (GITLAB, "vendor.gitlab-ci")])
def test_template_is_valid_for_its_ci(path: Path, schema: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def github_steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [(name, job, step) for name, job in workflow["jobs"].items() for step in job["steps"]]


def test_github_workflow_runs_the_hooks() -> None:
    workflow = load(GITHUB)
    runs = [step.get("run", "") for _unused, _unused, step in github_steps(workflow)]
    assert any("pre-commit run --all-files" in run for run in runs)
    # on pull requests and on the default branch
    assert "pull_request" in workflow["on"] and "push" in workflow["on"]


def test_github_workflow_uploads_the_sarif_of_certhygiene_check() -> None:
    workflow = load(GITHUB)
    steps = github_steps(workflow)
    checks = [(job, step) for _unused, job, step in steps if SARIF_COMMAND.search(step.get("run", ""))]
    assert len(checks) == 1, "one step runs `certhygiene check --format sarif . > FILE.sarif`"
    job, check = checks[0]
    sarif_file = SARIF_COMMAND.search(check["run"]).group("file")  # type: ignore[union-attr]
    # findings (exit 1) must not stop the upload: the job fails after it
    assert check.get("continue-on-error") is True
    job_steps = job["steps"]
    uploads = [step for step in job_steps if str(step.get("uses", "")).startswith("github/codeql-action/upload-sarif@")]
    assert len(uploads) == 1
    upload = uploads[0]
    assert upload["with"]["sarif_file"] == sarif_file
    assert upload.get("if") == "always()"
    assert job_steps.index(upload) > job_steps.index(check)
    assert job["permissions"]["security-events"] == "write"
    last = job_steps[-1]
    assert last.get("if") == f"steps.{check['id']}.outcome == 'failure'" and "exit 1" in last["run"]


def test_gitlab_job_runs_the_hooks_and_keeps_the_sarif() -> None:
    pipeline = load(GITLAB)
    job = pipeline["certhygiene"]
    script = "\n".join(job["script"])
    assert "pre-commit run --all-files" in script
    match = SARIF_COMMAND.search(script)
    assert match, "the job runs `certhygiene check --format sarif . > FILE.sarif`"
    assert match.group("file") in job["artifacts"]["paths"]
    assert job["artifacts"]["when"] == "always"
    assert "pre-commit" in " ".join(job["before_script"]) and "$CERTHYGIENE_PIP" in " ".join(job["before_script"])
    # the SARIF is written before the hooks can fail the job, and the job still fails on findings
    assert script.index("certhygiene check") < script.index("pre-commit run")
    assert "|| status=$?" in script and job["script"][-1] == "exit $status"


@pytest.mark.parametrize("path", [GITHUB, GITLAB])
def test_templates_pass_the_vault_password_as_a_file(path: Path) -> None:
    text = path.read_text()
    assert "ANSIBLE_VAULT_PASSWORD_FILE" in text
    # the password goes to a file readable by the runner only, never into the command line
    assert "--vault-password" not in text


@pytest.mark.parametrize("path", [GITHUB, GITLAB])
def test_templates_keep_the_expiry_report(path: Path) -> None:
    text = path.read_text()
    assert "certhygiene report . --format json > certhygiene-report.json" in text


PUSH_TEMPLATES = [
    (DOCS / "github-actions-push.yml", "vendor.github-workflows"),
    (DOCS / "gitlab-ci-push.yml", "vendor.gitlab-ci"),
]


@pytest.mark.parametrize(("path", "schema"), PUSH_TEMPLATES)
def test_push_template_is_valid_and_keeps_credentials_out_of_argv(path: Path, schema: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = path.read_text()
    commands = re.findall(r"certhygiene push[^\n]*(?:\n\s+--[^\n]*)*", text.replace("\\\n", "\n"))
    assert any("--check" in c for c in commands) and any("--wait" in c for c in commands)
    for command in commands:
        assert "SECRET" not in command and "API_KEY" not in command, command
    # the credentials reach the command through the environment
    assert "CERTHYGIENE_API_SECRET" in text and "CERTHYGIENE_API_KEY" in text
