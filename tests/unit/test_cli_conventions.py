"""Conventions a user meets first: `certhygiene --version`, `python -m certhygiene`, empty sanity ignores."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib
import yaml

REPO = Path(__file__).resolve().parents[2]
VERSION = str(yaml.safe_load((REPO / "galaxy.yml").read_text())["version"])


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def test_version_is_the_one_the_collection_and_the_distribution_declare() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == VERSION
    command = Path(sys.executable).parent / "certhygiene"
    result = run(str(command), "--version")
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, f"certhygiene {VERSION}", "")


def test_python_dash_m_certhygiene_is_the_command() -> None:
    result = run(sys.executable, "-m", "certhygiene", "--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"certhygiene {VERSION}")
    result = run(sys.executable, "-m", "certhygiene", "rules", "--format", "json")
    assert result.returncode == 0 and '"pem.encoding"' in result.stdout
    result = run(sys.executable, "-m", "certhygiene", "no-such-command")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_importing_the_engine_package_runs_nothing() -> None:
    # Ansible imports module_utils packages; the __main__ must not start the CLI when merely imported.
    result = run(sys.executable, "-c", "import certhygiene.__main__; print('imported')")
    assert (result.returncode, result.stdout.strip()) == (0, "imported")


def test_sanity_ignore_files_are_empty() -> None:
    ignores = sorted((REPO / "tests" / "sanity").glob("ignore-*.txt"))
    assert ignores, "tests/sanity/ignore-*.txt are missing"
    assert {path.name: path.read_text().strip() for path in ignores} == {path.name: "" for path in ignores}


def test_the_action_group_holds_every_module_that_talks_to_the_deployment_api() -> None:
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert runtime["action_groups"]["deployment"] == ["tls_config", "tls_config_info"]


def test_readme_pre_commit_snippet_names_hooks_that_exist_and_explains_url_and_rev() -> None:
    readme = (REPO / "README.md").read_text()
    block = readme.split("# .pre-commit-config.yaml\n", 1)[1].split("```", 1)[0]
    config = yaml.safe_load(block)
    (repo,) = config["repos"]
    hooks = {hook["id"] for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert {hook["id"] for hook in repo["hooks"]} <= hooks
    assert repo["rev"] == f"v{VERSION}"  # the tag the release of this version makes
    assert "stands for wherever this repository is hosted" in readme and "full commit sha" in readme
    assert f"ansible-galaxy collection install git+{repo['repo']}.git,v{VERSION}" in readme


def test_docs_rules_md_is_the_catalog_and_every_help_uri_lands_on_it() -> None:
    from certhygiene.rules import DOCS_URL, RULES

    generated = run(sys.executable, "-m", "certhygiene", "rules", "--format", "markdown")
    assert generated.returncode == 0
    page = (REPO / "docs" / "rules.md").read_text()
    assert page == generated.stdout, "docs/rules.md is stale: certhygiene rules --format markdown > docs/rules.md"
    assert DOCS_URL.endswith("/docs/rules.md")
    for rule in RULES.values():
        base, anchor = rule.help_uri.split("#")
        assert base == DOCS_URL and f'<a id="{anchor}"></a>' in page and f"## `{rule.id}`:" in page
