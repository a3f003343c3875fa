"""TLS material where it lives: inside YAML and JSON documents (issue 13).

One repository holds an Ansible project (group_vars with a block-scalar certificate of a 4096-bit key, an
inline-vault passphrase-protected key and an inline-vault good key made by the REAL `ansible-vault
encrypt_string`), Kubernetes Secret manifests (data and stringData: a correct one, one with the leaf in
ca.crt, one with a mismatched key in a multi-document file), a Helm values file (anchors, an unknown tag),
a SOPS-shaped file, malformed YAML with and without PEM armour, and ordinary YAML. `certhygiene check` and
the hooks under real pre-commit report the right findings at the right lines, naming the key path.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from support.pki import NOW, issue, key, key_pem, pem, three_level
from support.precommit import BIN, git, run_pre_commit

pytestmark = pytest.mark.integration

VAULT_PASSWORD = "yaml vault password"
VAULT_ENV = "ANSIBLE_VAULT_PASSWORD_FILE"
FINDING = re.compile(
    r"^(?P<path>[^:\n]+):(?P<line>\d+): (?:error|warning) \[(?P<rule>[a-z_.]+)\] (?P<message>.*)$", re.M
)


def indent(data: bytes, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in data.decode().splitlines())


def quoted(data: bytes) -> str:
    """PEM as a double-quoted YAML string with \\n escapes (as Helm values often hold it)."""
    return data.decode().replace("\n", "\\n")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def line_of(path: Path, text: str, after: int = 0) -> int:
    """The 1-based number of the first line containing ``text`` (after line ``after``)."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if number > after and text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def encrypt_string(name: str, secret: bytes, password_file: Path) -> str:
    """`ansible-vault encrypt_string --stdin-name NAME`: the real tool's `NAME: !vault |` block."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    result = subprocess.run(
        [
            str(BIN / "ansible-vault"),
            "encrypt_string",
            "--vault-password-file",
            str(password_file),
            "--stdin-name",
            name,
        ],
        input=secret,
        env=env,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert out.startswith(f"{name}: !vault |"), out
    return out if out.endswith("\n") else out + "\n"


@dataclass
class Project:
    root: Path
    password_file: Path
    wrong_password_file: Path
    expected: set[tuple[str, int, str, str]]  # (path, line, rule, key path) with the vault password
    secrets: list[bytes]  # what must never reach any output


def write_project(root: Path, password_file: Path) -> Project:
    pki = three_level("mqtt.example.com")
    secrets: list[bytes] = []
    expected: set[tuple[str, int, str, str]] = set()

    # Ansible: a block-scalar certificate of a 4096-bit key, with its chain
    big = issue("big.example.com", issuer=pki.intermediate, private_key=key("rsa", 4096, 40), dns=("big.example.com",))
    all_yml = root / "ansible" / "group_vars" / "all.yml"
    all_yml.parent.mkdir(parents=True)
    all_yml.write_text(
        "---\nmqtt_host: broker.example.com\n"
        f"mqtt_tls_certificate: |\n{indent(big.cert_pem, 2)}\n"
        f"mqtt_tls_chain: |\n{indent(pem(pki.intermediate), 2)}\n"
    )
    begin = line_of(all_yml, "mqtt_tls_certificate: |") + 1
    expected.add(("ansible/group_vars/all.yml", begin, "key.algorithm", "mqtt_tls_certificate"))

    # an inline-vault passphrase-protected key, next to an inline-vault password that is no TLS material
    locked = key_pem(key("rsa", 2048, 41), password=b"key passphrase")
    secrets.append(locked)
    brokers = root / "ansible" / "group_vars" / "brokers.yml"
    brokers.write_text(
        "---\ndb_user: app\n"
        + encrypt_string("db_password", b"hunter2-not-tls", password_file)
        + encrypt_string("broker_tls_key", locked, password_file)
    )
    expected.add(
        (
            "ansible/group_vars/brokers.yml",
            line_of(brokers, "broker_tls_key: !vault |"),
            "key.encrypted",
            "broker_tls_key",
        )
    )

    # a good set: certificate and chain in clear, its key vaulted inline (no finding)
    good_key = key_pem(pki.leaf.key)
    secrets.append(good_key)
    host = root / "ansible" / "host_vars" / "broker1.yml"
    host.parent.mkdir(parents=True)
    host.write_text(
        f"tls_certificate: |\n{indent(pki.leaf.cert_pem, 2)}\n"
        f"tls_chain: |\n{indent(pem(pki.intermediate), 2)}\n"
        + encrypt_string("tls_private_key", good_key, password_file)
    )

    # Kubernetes: a correct kubernetes.io/tls Secret (data), and the same as JSON
    k8s = root / "k8s"
    k8s.mkdir()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "good"},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": b64(pem(pki.leaf, pki.intermediate)),
            "tls.key": b64(good_key),
            "ca.crt": b64(pem(pki.root)),
        },
    }
    (k8s / "good.yaml").write_text(yaml.safe_dump(secret, sort_keys=False, width=1 << 20))
    (k8s / "good.json").write_text(json.dumps(secret, indent=2))

    # the leaf in ca.crt (stringData, block scalars): chain.leaf at the BEGIN line inside ca.crt
    leaf_in_ca = k8s / "leaf-in-ca.yaml"
    leaf_in_ca.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leaf-in-ca\ntype: kubernetes.io/tls\nstringData:\n"
        f"  tls.crt: |\n{indent(pem(pki.leaf, pki.intermediate), 4)}\n"
        f"  tls.key: |\n{indent(good_key, 4)}\n"
        f"  ca.crt: |\n{indent(pem(pki.leaf), 4)}\n"
    )
    expected.add(("k8s/leaf-in-ca.yaml", line_of(leaf_in_ca, "ca.crt: |") + 1, "chain.leaf", "stringData.ca.crt"))

    # a mismatched key, in the second document of a multi-document file
    other_key = key_pem(key("rsa", 2048, 42))
    secrets.append(other_key)
    mismatch = k8s / "mismatch.yaml"
    mismatch.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: strict\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: mismatch\ntype: kubernetes.io/tls\ndata:\n"
        f"  tls.crt: {b64(pem(pki.leaf, pki.intermediate))}\n  tls.key: {b64(other_key)}\n"
    )
    expected.add(("k8s/mismatch.yaml", line_of(mismatch, "tls.crt:"), "pair.mismatch", "[1].data.tls.crt"))

    # Helm values: quoted PEM strings with \n, anchors, an unknown tag; servers[2] has an expired certificate
    expired = issue(
        "old.example.com",
        issuer=pki.intermediate,
        private_key=key("rsa", 2048, 43),
        dns=("old.example.com",),
        not_before=NOW - datetime.timedelta(days=400),
        not_after=NOW - datetime.timedelta(days=10),
    )
    secrets.append(key_pem(expired.key))
    values = root / "helm" / "values.yaml"
    values.parent.mkdir()
    values.write_text(
        "defaults: &defaults\n  port: 8883\nbackend: !Ref backendService\nservers:\n"
        "  - name: a\n    <<: *defaults\n  - name: b\n  - name: c\n    tls:\n"
        f'      certificate: "{quoted(expired.cert_pem)}"\n'
        f'      chain: "{quoted(pem(pki.intermediate))}"\n'
        f'      key: "{quoted(key_pem(expired.key))}"\n'
    )
    expected.add(("helm/values.yaml", line_of(values, "certificate:"), "cert.validity", "servers[2].tls.certificate"))

    # a chart's documented defaults: placeholder PEM (no finding: documentation, not material)
    (root / "helm" / "defaults.yaml").write_text(
        "tls:\n  certificate: |\n    -----BEGIN CERTIFICATE-----\n    ...\n    -----END CERTIFICATE-----\n"
        '  key: "-----BEGIN PRIVATE KEY-----\\n<your private key>\\n-----END PRIVATE KEY-----"\n'
        "  chain: |\n    -----BEGIN CERTIFICATE-----\n    {{ .Values.chain }}\n    -----END CERTIFICATE-----\n"
    )
    # a CI workflow that trusts the CA in a shell step: the certificate is checked, the script is no finding
    ci = root / "ci" / "trust-ca.yml"
    ci.parent.mkdir()
    ci.write_text(
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n"
        f"          cat > ca.pem <<'EOF'\n{indent(pem(pki.root), 10)}\n          EOF\n"
        "          sudo cp ca.pem /usr/local/share/ca-certificates/ours.crt && sudo update-ca-certificates\n"
    )

    # SOPS: skipped, never parsed for material
    sops = root / "sops" / "secrets.enc.yaml"
    sops.parent.mkdir()
    sops.write_text(
        "tls_key: ENC[AES256_GCM,data:c2VjcmV0,iv:aXY=,tag:dGFn,type:str]\n"
        "sops:\n  kms: []\n  lastmodified: '2026-01-01T00:00:00Z'\n"
        "  mac: ENC[AES256_GCM,data:bWFj,iv:aXY=,tag:dGFn,type:str]\n  version: 3.8.1\n"
    )

    # malformed YAML: a finding when it holds PEM armour, nothing otherwise
    broken = root / "broken" / "malformed.yaml"
    broken.parent.mkdir()
    broken.write_text(f"tls:\n  certificate: |\n{indent(pki.leaf.cert_pem, 4)}\n  key: [unclosed\n  other: x\n")
    expected.add(("broken/malformed.yaml", line_of(broken, "other: x"), "pem.encoding", ""))
    (root / "broken" / "not-material.yaml").write_text("kind: Secret\n  : : bad [\n")
    # ordinary YAML: not material
    (root / "config").mkdir()
    (root / "config" / "app.yml").write_text("name: app\nreplicas: 3\nimage: {repo: app, tag: '1.0'}\n")
    return Project(root, password_file, password_file.parent / "wrong-pass", expected, secrets)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    base = tmp_path_factory.mktemp("yaml-material")
    password_file = base / "vault-pass"
    password_file.write_text(VAULT_PASSWORD + "\n")
    (base / "wrong-pass").write_text("not the password\n")
    root = base / "repo"
    root.mkdir()
    return write_project(root, password_file)


def run(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != VAULT_ENV}
    result = subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    return result


def findings(output: str) -> set[tuple[str, int, str, str]]:
    """(path, line, rule, key path) of each finding line (key path: the message's ``key.path:`` prefix)."""
    found = set()
    for match in FINDING.finditer(output):
        head = match["message"].split(": ", 1)[0]
        key_path = head if " " not in head else ""
        found.add((match["path"], int(match["line"]), match["rule"], key_path))
    return found


def assert_no_secrets(project: Project, output: str) -> None:
    for secret in project.secrets:
        for line in secret.decode().splitlines()[1:-1]:
            assert line not in output
    assert VAULT_PASSWORD not in output and "hunter2-not-tls" not in output


def test_cli_finds_material_in_documents(project: Project) -> None:
    result = run(project.root, "certhygiene", "check", ".", "--vault-password-file", str(project.password_file))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert findings(output) == project.expected, output
    assert "sops/secrets.enc.yaml: skipped: SOPS-encrypted: decrypt to check" in output
    assert_no_secrets(project, output)


def test_cli_json_lists_documents_with_material_only(project: Project) -> None:
    result = run(
        project.root,
        "certhygiene",
        "check",
        ".",
        "--format",
        "json",
        "--vault-password-file",
        str(project.password_file),
    )
    report = json.loads(result.stdout)
    checked = set(report["files_checked"])
    assert checked == {
        "ansible/group_vars/all.yml",
        "ansible/group_vars/brokers.yml",
        "ansible/host_vars/broker1.yml",
        "broken/malformed.yaml",
        "ci/trust-ca.yml",  # its CA certificate; not helm/defaults.yaml: placeholders only
        "helm/values.yaml",
        "k8s/good.json",
        "k8s/good.yaml",
        "k8s/leaf-in-ca.yaml",
        "k8s/mismatch.yaml",
    }
    located = {(f["path"], f["line"], f["end_line"]) for f in report["findings"] if f["rule_id"] == "key.algorithm"}
    all_yml = project.root / "ansible" / "group_vars" / "all.yml"
    begin = line_of(all_yml, "BEGIN CERTIFICATE")
    assert located == {("ansible/group_vars/all.yml", begin, line_of(all_yml, "END CERTIFICATE"))}


def test_cli_without_password_skips_inline_vault_values(project: Project) -> None:
    result = run(project.root, "certhygiene", "check", "ansible")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output  # the 4096-bit certificate
    assert findings(output) == {f for f in project.expected if f[0] == "ansible/group_vars/all.yml"}, output
    for name, path in (("broker_tls_key", "group_vars/brokers.yml"), ("tls_private_key", "host_vars/broker1.yml")):
        assert f"ansible/{path}: skipped: inline vault value {name}: no vault password given" in output
    strict = run(project.root, "certhygiene", "check", "ansible/host_vars", "--fail-on-skipped")
    assert strict.returncode == 1, strict.stdout
    relaxed = run(project.root, "certhygiene", "check", "ansible/host_vars")
    assert relaxed.returncode == 0, relaxed.stdout


def test_cli_wrong_vault_password_is_an_input_error(project: Project) -> None:
    result = run(
        project.root,
        "certhygiene",
        "check",
        "ansible/host_vars",
        "--vault-password-file",
        str(project.wrong_password_file),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "ansible/host_vars/broker1.yml" in output and "tls_private_key" in output
    assert "--vault-password-file" in output


def test_sops_is_skipped_and_fails_on_skipped(project: Project) -> None:
    relaxed = run(project.root, "certhygiene", "check", "sops")
    assert relaxed.returncode == 0, relaxed.stdout
    assert "SOPS-encrypted: decrypt to check" in relaxed.stdout
    strict = run(project.root, "certhygiene", "check", "sops", "--fail-on-skipped")
    assert strict.returncode == 1, strict.stdout


def test_correct_documents_pass(project: Project) -> None:
    result = run(
        project.root,
        "certhygiene",
        "check",
        "k8s/good.yaml",
        "k8s/good.json",
        "helm/defaults.yaml",
        "ci/trust-ca.yml",
        "ansible/host_vars",
        "config",
        "broken/not-material.yaml",
        "--vault-password-file",
        str(project.password_file),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no findings" in result.stdout


def test_hooks_under_real_precommit(
    project: Project, tmp_path: Path, hook_repo: tuple[Path, str], precommit_env: dict[str, str]
) -> None:
    """Every YAML/JSON file reaches the hooks (`types: [file]`); the pre-scan picks the documents."""
    repo = tmp_path / "work"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main", env=precommit_env)
    path, rev = hook_repo
    hooks = [
        {"id": "certhygiene", "args": ["--vault-password-file", str(project.password_file)]},
        {"id": "check-key-size"},
        {"id": "forbid-encrypted-private-keys", "args": ["--vault-password-file", str(project.password_file)]},
    ]
    (repo / ".pre-commit-config.yaml").write_text(
        yaml.safe_dump({"repos": [{"repo": str(path), "rev": rev, "hooks": hooks}]}, sort_keys=False)
    )
    for source in project.root.rglob("*"):
        if source.is_file():
            target = repo / source.relative_to(project.root)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    git(repo, "add", "-A", env=precommit_env)
    result = run_pre_commit(repo, precommit_env, "run", "--all-files")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    assert findings(output) == project.expected, output
    # the hook of one rule reports that rule only: the 4096-bit key, and the inline-vault encrypted key
    key_size = output.split("check key algorithm and size")[1].split("- hook id")[1]
    assert "ansible/group_vars/all.yml:" in key_size.split("forbid encrypted")[0]
    encrypted = output.split("forbid encrypted private keys")[1]
    assert f"ansible/group_vars/brokers.yml:{line_of(repo / 'ansible/group_vars/brokers.yml', 'broker_tls_key')}" in (
        encrypted
    )
    assert_no_secrets(project, output)
