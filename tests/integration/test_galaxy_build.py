"""The collection as Galaxy sees it: ansible-doc for every plugin, the changelog, the tarball, galaxy-importer.

- `ansible-doc` renders every module in plugins/modules (and every role with an argument spec);
- the changelog is managed with antsibull-changelog: fragments lint clean, changelogs/changelog.yaml
  is valid, CHANGELOG.md is what `antsibull-changelog generate` renders from it, and every module
  and role of the collection is in it;
- `ansible-galaxy collection build` makes a tarball with the collection and nothing else (no venv,
  build output, tests, Python packaging or tool caches), and galaxy-importer (its own venv under
  build/, made by scripts/gitops-tools.sh) accepts it, with ansible-doc and ansible-lint run by the
  importer and without a single warning.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from support.ansible import REPO_ROOT, ansible_env

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
MODULES = sorted(p.stem for p in (REPO_ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
ROLES = sorted(p.parent.parent.name for p in (REPO_ROOT / "roles").glob("*/meta/argument_specs.yml"))
GALAXY = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())
VERSION = str(GALAXY["version"])
IMPORTER_VENV = Path(os.environ.get("GALAXY_IMPORTER_VENV", REPO_ROOT / "build" / "galaxy-importer-venv"))
TOOLS_HINT = "run `bash scripts/gitops-tools.sh` (make test does) to install it"

# What the tarball must never hold: the Python side of the repo, tests and tool output.
CRUFT = re.compile(
    r"^(\.venv|venv|build|dist|cli|hooks|sandbox|scripts|tests/(unit|integration|bench|support|data|output)|"
    r"tests/conftest\.py|\.git|\.github|\.ci|\.cache|\.ansible|\.mypy_cache|\.pytest_cache|\.ruff_cache|"
    r"\.hypothesis|demo/build)(/|$)"
    r"|(^|/)(__pycache__|[^/]*\.egg-info|[^/]*\.pyc|\.gitignore|pyproject\.toml|Makefile|requirements-dev\.txt|"
    r"\.pre-commit-hooks\.yaml|\.pre-commit-config\.yaml|\.plugin-cache\.yaml|[^/]*\.tar\.gz)$"
)


# ------------------------------------------------------------------ ansible-doc


def ansible_doc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "ansible-doc"), *args], env=ansible_env(), capture_output=True, text=True, check=False, timeout=120
    )


def test_every_module_is_documented() -> None:
    assert MODULES, "plugins/modules holds the collection's modules"


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders_module(module: str) -> None:
    fqcn = f"certhygiene.tls.{module}"
    result = ansible_doc("-t", "module", fqcn)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"> MODULE {fqcn}"), result.stdout[:300]
    for section in ("OPTIONS", "ATTRIBUTES", "AUTHOR", "EXAMPLES", "RETURN VALUES"):
        assert section in result.stdout, f"{fqcn}: no {section} in ansible-doc output"
    assert "[WARNING]" not in result.stderr, result.stderr
    doc = json.loads(ansible_doc("-t", "module", "--json", fqcn).stdout)[fqcn]["doc"]
    assert doc["version_added"] == "0.1.0" and doc["version_added_collection"] == "certhygiene.tls"
    assert doc["short_description"] and not doc["short_description"].endswith(".")
    assert {"check_mode", "diff_mode"} <= set(doc.get("attributes", {}))


@pytest.mark.parametrize("role", ROLES)
def test_ansible_doc_renders_role(role: str) -> None:
    fqcn = f"certhygiene.tls.{role}"
    result = ansible_doc("-t", "role", fqcn)
    assert result.returncode == 0, result.stderr
    assert fqcn in result.stdout and "ENTRY POINT" in result.stdout, result.stdout[:300]


def test_ansible_doc_lists_every_module() -> None:
    result = ansible_doc("-t", "module", "-l", "certhygiene.tls")
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    assert listed == {f"certhygiene.tls.{m}" for m in MODULES}


# ------------------------------------------------------------------ changelog


def antsibull_changelog(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "antsibull-changelog"), *args],
        cwd=cwd,
        env=ansible_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_changelog_fragments_lint_clean() -> None:
    result = antsibull_changelog("lint")
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_changelog_yaml_is_valid() -> None:
    result = antsibull_changelog("lint-changelog-yaml", "changelogs/changelog.yaml")
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_changelog_lists_every_module_and_role() -> None:
    releases = yaml.safe_load((REPO_ROOT / "changelogs" / "changelog.yaml").read_text())["releases"]
    assert VERSION in releases, f"no release {VERSION} in changelogs/changelog.yaml: run `make changelog`"
    release = releases[VERSION]
    assert release["changes"]["release_summary"]
    modules = {entry["name"] for entry in release.get("modules", [])}
    roles = {entry["name"] for entry in release.get("objects", {}).get("role", [])}
    missing = sorted(set(MODULES) - modules) + sorted(set(ROLES) - roles)
    assert not missing, f"not in the {VERSION} changelog: {missing}: run `make changelog`"


def test_changelog_md_is_rendered_from_changelog_yaml(tmp_path: Path) -> None:
    """CHANGELOG.md is antsibull-changelog's rendering of changelogs/changelog.yaml, not a hand edit."""
    work = tmp_path / "collection"
    work.mkdir()
    shutil.copy(REPO_ROOT / "galaxy.yml", work)
    shutil.copytree(REPO_ROOT / "changelogs", work / "changelogs", ignore=shutil.ignore_patterns(".plugin-cache.yaml"))
    plugin_cache = REPO_ROOT / "changelogs" / ".plugin-cache.yaml"
    if plugin_cache.exists():  # no need to run ansible-doc again for generate
        shutil.copy(plugin_cache, work / "changelogs")
    else:
        shutil.copytree(REPO_ROOT / "plugins", work / "plugins")
        shutil.copytree(REPO_ROOT / "roles", work / "roles")
    result = antsibull_changelog("generate", cwd=work)
    assert result.returncode == 0, result.stderr
    rendered = (work / "CHANGELOG.md").read_text()
    assert (REPO_ROOT / "CHANGELOG.md").read_text() == rendered, "CHANGELOG.md is stale: run `make changelog`"
    assert f"## v{VERSION.replace('.', chr(92) + '.')}" in rendered
    for module in MODULES:
        assert f"certhygiene\\.tls\\.{module.replace('_', chr(92) + '_')}" in rendered


# ------------------------------------------------------------------ the tarball


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(REPO_ROOT)],
        env=ansible_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    path = out / f"certhygiene-tls-{VERSION}.tar.gz"
    assert path.is_file(), result.stdout
    return path


def test_tarball_holds_the_collection_and_no_cruft(tarball: Path) -> None:
    with tarfile.open(tarball) as archive:
        names = [member.name.rstrip("/") for member in archive.getmembers()]
        manifest = json.load(archive.extractfile("MANIFEST.json"))  # type: ignore[arg-type]
    cruft = sorted(name for name in names if CRUFT.search(name))
    assert not cruft, f"galaxy.yml build_ignore should leave these out: {cruft}"
    for required in ("MANIFEST.json", "FILES.json", "README.md", "LICENSE", "meta/runtime.yml", "CHANGELOG.md",
                     "changelogs/changelog.yaml", "changelogs/config.yaml", "docs/github-actions.yml",
                     "docs/gitlab-ci.yml", "plugins/module_utils/certhygiene/check.py"):  # fmt: skip
        assert required in names, f"{required} missing from the tarball"
    for module in MODULES:
        assert f"plugins/modules/{module}.py" in names
    for role in ROLES:
        assert f"roles/{role}/meta/argument_specs.yml" in names
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == ("certhygiene", "tls", VERSION)


def test_galaxy_importer_accepts_the_tarball(tarball: Path, tmp_path: Path) -> None:
    python = IMPORTER_VENV / "bin" / "python"
    assert python.is_file(), f"galaxy-importer is not installed in {IMPORTER_VENV}: {TOOLS_HINT}"
    config = tmp_path / "galaxy-importer.cfg"
    # Everything that works offline and without containers: ansible-doc on every plugin,
    # ansible-lint (offline), the changelog check. ansible-test sanity runs in `make sanity`.
    config.write_text(
        "[galaxy-importer]\n"
        "run_ansible_doc = True\n"
        "run_ansible_lint = True\n"
        "offline_ansible_lint = True\n"
        "check_changelog = True\n"
        "run_ansible_test = False\n"
        "run_flake8 = False\n"
        "require_v1_or_greater = False\n"
        f"ansible_local_tmp = {tmp_path / 'ansible-tmp'}\n"
        f"tmp_root_dir = {tmp_path}\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "PYTHON", "VIRTUAL_ENV"))}
    # the importer runs ansible-doc and ansible-lint from PATH: its own venv's
    env.update(
        GALAXY_IMPORTER_CONFIG=str(config),
        PATH=f"{IMPORTER_VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        HOME=str(tmp_path),
    )
    result = subprocess.run(
        [str(python), "-m", "galaxy_importer.main", "--print-result", str(tarball)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Importer processing completed successfully" in output, output
    log = output.split("{", 1)[0]  # the log lines, before the printed JSON result
    assert "Getting doc strings via ansible-doc" in log
    assert "ansible-lint run complete" in log
    problems = [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert not problems, "\n".join(problems)
    imported = json.loads(output[output.index("{") :])
    contents = {(item["content_type"], item["name"]) for item in imported["contents"]}
    for module in MODULES:
        assert ("module", module) in contents
    docs = {item["content_name"]: item for item in imported["docs_blob"]["contents"]}
    for module in MODULES:
        assert docs[module]["doc_strings"], f"galaxy-importer found no documentation for {module}"
    assert imported["docs_blob"]["collection_readme"]["html"]
