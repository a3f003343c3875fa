"""`module_defaults: group/certhygiene.tls.deployment` holds the API connection once, for a real playbook."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.ansible import run_playbook
from support.sandbox import SandboxPKI, SandboxProcess, sandbox_fixture

pytestmark = pytest.mark.integration

sandbox = sandbox_fixture(scope="module")


def test_group_defaults_reach_tls_config_and_tls_config_info(tmp_path: Path, sandbox: SandboxProcess) -> None:
    pki = SandboxPKI(tmp_path / "pki")
    if sandbox.get_tls().status == 200:
        assert sandbox.delete().status == 204
    writes = sandbox.stats()["writes"]
    plays = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "module_defaults": {
                "group/certhygiene.tls.deployment": {
                    "api_url": sandbox.api_url,
                    "api_key": sandbox.api_key,
                    "api_secret": sandbox.api_secret,
                    "deployment_id": sandbox.deployment_id,
                    "retry_delay": 0.1,
                }
            },
            "tasks": [
                {
                    "name": "push with only the material given",
                    "certhygiene.tls.tls_config": {
                        "certificate_path": pki.path("server.pem"),
                        "certificate_chain_path": pki.path("ca.pem"),
                        "private_key_path": pki.path("server.key"),
                        "wait_timeout": 60,
                    },
                    "register": "pushed",
                },
                {"name": "read with nothing given", "certhygiene.tls.tls_config_info": {}, "register": "info"},
                {
                    "ansible.builtin.assert": {
                        "that": [
                            "pushed is changed",
                            "pushed.after.status == 'running'",
                            "info.present",
                            "info.config.cn == 'localhost'",
                            "info.config.tls_type == 'one-way'",
                        ]
                    }
                },
            ],
        }
    ]
    run = run_playbook(tmp_path, plays)
    assert run.returncode == 0, run.output
    assert (run.changed, run.failed) == (1, 0)
    assert sandbox.stats()["writes"] - writes == 1
    assert sandbox.api_secret not in run.output
