"""Material options (``X_content`` / ``X_path``) read through one helper: every module that reads material says a
bad path in the same words and refuses both forms in the same words (real ``ansible-playbook``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.ansible import run_playbook

pytestmark = pytest.mark.integration

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def cases(folder: Path) -> list[tuple[str, dict[str, Any], str, str]]:
    """(module, options without the material, content option, path option) for one material option each."""
    api = {
        "api_url": "http://127.0.0.1:9/api",
        "deployment_id": "d1",
        "api_key": "an-api-key-1",
        "api_secret": "an-api-secret-2",
        "private_key_path": str(folder / "unused.key"),
    }
    return [
        ("certificate_check", {}, "certificate_content", "certificate_path"),
        ("certificate_check", {"certificate_path": str(folder / "unused.crt")}, "chain_content", "chain_path"),
        ("tls_config", {**api, "certificate_path": str(folder / "unused.crt")}, "chain_content", "chain_path"),
        ("tls_probe", {"url": "mqtts://127.0.0.1:9"}, "ca_content", "ca_path"),
        (
            "certificate_sign",
            {"ca_certificate_content": PEM, "ca_key_content": PEM},
            "csr_content",
            "csr_path",
        ),
        (
            "certificate",
            {
                "path": str(folder / "leaf.crt"),
                "private_key_path": str(folder / "leaf.key"),
                "kind": "client",
                "subject": {"CN": "device"},
                "issuer_key_content": PEM,
            },
            "issuer_certificate_content",
            "issuer_certificate_path",
        ),
    ]


def test_bad_path_and_both_forms_fail_alike(tmp_path: Path) -> None:
    folder = tmp_path / "material"
    folder.mkdir()
    (folder / "a-folder").mkdir()
    # Readable files for the options read before the one under test (what they hold does not matter here).
    (folder / "unused.crt").write_text(PEM)
    (folder / "unused.key").write_text(PEM)
    tasks: list[dict[str, Any]] = []
    checks: list[tuple[str, str, str]] = []
    for index, (module, options, content, path) in enumerate(cases(folder)):
        for form, material in (
            ("path", {path: str(folder / "a-folder")}),
            ("both", {path: str(folder / "a-folder"), content: PEM}),
        ):
            name = f"r{index}_{form}"
            tasks.append(
                {
                    "name": f"{module} {form} {path}",
                    f"certhygiene.tls.{module}": {**options, **material},
                    "register": name,
                    "ignore_errors": True,
                }
            )
            checks.append((name, form, f"{path}|{content}"))
    asserts = []
    for name, form, pair in checks:
        path, content = pair.split("|")
        if form == "path":
            wanted = f"Fix the path in {path}, or give the content in "
            asserts.append(f"{name}.failed and '{path}: {folder / 'a-folder'}: ' in {name}.msg")
        else:
            wanted = "parameters are mutually exclusive: "
        asserts.append(f"{name}.failed and {wanted!r} in {name}.msg")
    tasks.append({"name": "same words", "ansible.builtin.assert": {"that": asserts, "quiet": True}})
    run = run_playbook(tmp_path / "run", [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}])
    assert run.returncode == 0, run.output
    assert "Traceback" not in run.output


def test_neither_form_names_the_pair(tmp_path: Path) -> None:
    """Where one of a pair is required and neither is given, the message names ``X_content, X_path``."""
    api = {"api_url": "http://127.0.0.1:9/api", "deployment_id": "d1", "api_key": "k-1", "api_secret": "s-2"}
    cases = [
        ("certificate_check", {}, "certificate_content, certificate_path"),
        ("tls_config", {**api, "private_key_path": "/nonexistent"}, "certificate_content, certificate_path"),
        ("tls_config", {**api, "certificate_path": "/nonexistent"}, "private_key_content, private_key_path"),
        (
            "tls_config",
            {**api, "auth_type": "two-way", "certificate_path": "/nonexistent", "private_key_path": "/nonexistent"},
            "client_ca_certificate_content, client_ca_certificate_path",
        ),
        ("certificate_sign", {"ca_certificate_content": PEM, "ca_key_content": PEM}, "csr_content, csr_path"),
    ]
    tasks: list[dict[str, Any]] = []
    asserts = []
    for index, (module, options, pair) in enumerate(cases):
        tasks.append({f"certhygiene.tls.{module}": options, "register": f"r{index}", "ignore_errors": True})
        asserts.append(f"r{index}.failed and {pair!r} in r{index}.msg")
    tasks.append({"name": "pair named", "ansible.builtin.assert": {"that": asserts, "quiet": True}})
    run = run_playbook(tmp_path / "run", [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}])
    assert run.returncode == 0, run.output
    assert "Traceback" not in run.output
