"""``certhygiene.tls.certificate_check`` through real ``ansible-playbook`` on localhost.

One playbook holds the passing and the (ignored) failing cases with ``assert`` tasks, and runs twice:
normally and in check mode (same verdicts, nothing changed). A third run fails for real, at -vvvv, to
show the message a user reads and that no key bytes reach the output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.ansible import run_playbook
from support.pki import issue, key, key_pem, pem, three_level

pytestmark = pytest.mark.integration

MODULE = "certhygiene.tls.certificate_check"


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("material")
    pki = three_level()
    client_ca = issue("Client CA", private_key=key("rsa", 2048, 20), ca=True)
    files = {
        "cloud.crt": pki.leaf.cert_pem,
        "cloud-chain.pem": pem(pki.intermediate),
        "cloud.key": key_pem(pki.leaf.key, "pkcs1"),
        "client-ca.crt": pem(client_ca),
        "chain-with-leaf.pem": pem(pki.leaf, pki.intermediate),
        "other.key": key_pem(key("rsa", 2048, 13), "pkcs1"),
        "bad-policy.yaml": b"min_days: 3\n",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    secrets = []
    for name in ("cloud.key", "other.key"):
        secrets += [line for line in files[name].decode().splitlines() if not line.startswith("-----")]
    return {"dir": folder, "secrets": secrets, "leaf_subject": pki.leaf.cert.subject.rfc4514_string()}


def checks(d: Path) -> list[dict[str, Any]]:
    """Tasks: a clean set (paths), a clean two-way set (content), and failing sets registered with ignore_errors."""
    return [
        {
            "name": "Clean one-way set, by path",
            MODULE: {
                "certificate_path": f"{d}/cloud.crt",
                "chain_path": f"{d}/cloud-chain.pem",
                "private_key_path": f"{d}/cloud.key",
            },
            "register": "clean",
        },
        {
            "name": "Facts and findings of the clean set",
            "ansible.builtin.assert": {
                "that": [
                    "clean is not changed",
                    "clean.findings == []",
                    "clean.error_count == 0 and clean.warning_count == 0",
                    "clean.policy == 'seed'",
                    "'CN=mqtt.example.com' in clean.certificate.subject",
                    "clean.certificate.subject_alt_names == ['DNS:mqtt.example.com']",
                    "'CN=Test Intermediate CA' in clean.certificate.issuer",
                    "clean.certificate.key_type == 'RSA' and clean.certificate.key_size == 2048",
                    "clean.certificate.key_name == 'RSA_2048'",
                    "clean.certificate.not_after is string",
                    "clean.certificate.fingerprint_sha256 | length == 95",
                    "clean.chain | length == 1 and clean.chain[0].is_ca",
                ]
            },
        },
        {
            "name": "Clean two-way set, by content (the key is no_log)",
            MODULE: {
                "certificate": f"{{{{ lookup('ansible.builtin.file', '{d}/cloud.crt') }}}}",
                "chain": f"{{{{ lookup('ansible.builtin.file', '{d}/cloud-chain.pem') }}}}",
                "private_key": f"{{{{ lookup('ansible.builtin.file', '{d}/cloud.key') }}}}",
                "client_ca_certificate": f"{{{{ lookup('ansible.builtin.file', '{d}/client-ca.crt') }}}}",
                "auth_type": "two-way",
                "profile": "emqx-cloud",
            },
            "register": "two_way",
        },
        {
            "name": "The two-way set passes",
            "ansible.builtin.assert": {"that": ["two_way.error_count == 0", "two_way.policy == 'emqx-cloud'"]},
        },
        {
            "name": "Bad set: the chain holds the leaf, the key is another's",
            MODULE: {
                "certificate_path": f"{d}/cloud.crt",
                "chain_path": f"{d}/chain-with-leaf.pem",
                "private_key_path": f"{d}/other.key",
            },
            "register": "bad",
            "ignore_errors": True,
        },
        {
            "name": "It failed with a readable message and the findings",
            "ansible.builtin.assert": {
                "that": [
                    "bad is failed and bad is not changed",
                    "'chain.leaf' in bad.msg and 'pair.mismatch' in bad.msg",
                    f"'{d}/chain-with-leaf.pem' in bad.msg",
                    "'Fix:' in bad.msg",
                    "bad.error_count >= 2",
                    "bad.findings | map(attribute='rule_id') | list | intersect(['chain.leaf', 'pair.mismatch']) "
                    "| length == 2",
                    "'CN=mqtt.example.com' in bad.certificate.subject",
                ]
            },
        },
        {
            # A user's own failed_when decides: the result must carry no `skipped` key, which makes
            # Ansible ignore failed_when and show the task as skipped.
            "name": "The same bad set, gated by the user's failed_when",
            MODULE: {
                "certificate_path": f"{d}/cloud.crt",
                "chain_path": f"{d}/chain-with-leaf.pem",
                "private_key_path": f"{d}/other.key",
            },
            "register": "gated",
            "failed_when": "gated.error_count > 99",
        },
        {
            "name": "failed_when was honoured and the findings are there",
            "ansible.builtin.assert": {
                "that": [
                    "gated is not failed and gated is not skipped",
                    "gated.error_count >= 2",
                    "gated.skipped_files == []",
                ]
            },
        },
        {
            "name": "Two-way without a client CA",
            MODULE: {
                "certificate_path": f"{d}/cloud.crt",
                "chain_path": f"{d}/cloud-chain.pem",
                "private_key_path": f"{d}/cloud.key",
                "auth_type": "two-way",
            },
            "register": "no_ca",
            "ignore_errors": True,
        },
        {
            "name": "client_ca.invalid",
            "ansible.builtin.assert": {"that": ["no_ca is failed", "'client_ca.invalid' in no_ca.msg"]},
        },
        {
            "name": "policy_overrides loosen a rule; fail_on=warning tightens",
            MODULE: {
                "certificate_path": f"{d}/cloud.crt",
                "chain_path": f"{d}/chain-with-leaf.pem",
                "private_key_path": f"{d}/cloud.key",
                "policy_overrides": {"rules": {"chain.leaf": False}},
            },
            "register": "overridden",
        },
        {"ansible.builtin.assert": {"that": ["overridden.error_count == 0"]}, "name": "chain.leaf switched off"},
        {
            "name": "A policy file that cannot be used",
            MODULE: {"certificate_path": f"{d}/cloud.crt", "policy": f"{d}/bad-policy.yaml"},
            "register": "bad_policy",
            "ignore_errors": True,
        },
        {
            "name": "Message names the policy file",
            "ansible.builtin.assert": {
                "that": [
                    "bad_policy is failed",
                    f"'{d}/bad-policy.yaml' in bad_policy.msg",
                    "'unknown setting' in bad_policy.msg",
                ]
            },
        },
        {
            "name": "A missing certificate file",
            MODULE: {"certificate_path": f"{d}/nope.crt"},
            "register": "missing",
            "ignore_errors": True,
        },
        {
            "name": "Message names the option and the file",
            "ansible.builtin.assert": {
                "that": ["missing is failed", "'certificate_path' in missing.msg and 'nope.crt' in missing.msg"]
            },
        },
    ]


def play(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": "certificate_check", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]


@pytest.mark.parametrize("check_mode", [False, True], ids=["normal", "check-mode"])
def test_verdicts_and_facts(material: dict[str, Any], tmp_path: Path, check_mode: bool) -> None:
    run = run_playbook(tmp_path, play(checks(material["dir"])), check=check_mode)
    assert run.returncode == 0, run.output
    assert run.failed == 0 and run.changed == 0, run.output
    assert "ignored=4" in run.stdout, run.output
    for secret in material["secrets"]:
        assert secret not in run.output


def test_failure_message_and_no_key_bytes_at_vvvv(material: dict[str, Any], tmp_path: Path) -> None:
    d = material["dir"]
    tasks = [
        {
            "name": "Bad set with the key given inline",
            MODULE: {
                "certificate_path": f"{d}/cloud.crt",
                "chain_path": f"{d}/chain-with-leaf.pem",
                "private_key": f"{{{{ lookup('ansible.builtin.file', '{d}/other.key') }}}}",
            },
        }
    ]
    run = run_playbook(tmp_path, play(tasks), verbosity=4)
    assert run.returncode == 2 and run.failed == 1, run.output
    out = run.output
    assert "finding(s) at or above severity error" in out
    assert "[chain.leaf]" in out and "[pair.mismatch]" in out
    assert material["leaf_subject"] in out
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in out  # the invocation shows the key masked
    for secret in material["secrets"]:
        assert secret not in out
