"""documents.py: TLS material inside YAML/JSON, read without ever crashing (issue 13).

The Ansible project, Kubernetes, Helm, SOPS and pre-commit cases through the doors are in
tests/integration/test_yaml_material.py; here: the reader's edges (aliases, tags, multi-document,
malformed input, JSON) and pairing by names, through ``check_paths`` and ``read_document``.
"""

from __future__ import annotations

import base64
import random
from pathlib import Path

import pytest
from certhygiene.check import check_paths
from certhygiene.documents import read_document, worth_parsing
from certhygiene.layout import expand_paths, is_candidate
from certhygiene.policy import load_policy
from support.pki import issue, key, key_pem, pem, three_level

PKI = three_level("docs.example.com")


def indent(data: bytes, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in data.decode().splitlines())


def check(tmp_path: Path, name: str, text: str) -> list[tuple[int, str, str]]:
    path = tmp_path / name
    path.write_text(text)
    report = check_paths([str(path)], load_policy(profile="seed", discover=False), root=str(tmp_path))
    assert not report.input_errors
    return [(f.line, f.rule_id, f.message.split(": ", 1)[0]) for f in report.findings]


def test_prescan() -> None:
    assert worth_parsing(b"a: 1\nkind: Secret\n")
    assert worth_parsing(b'{"kind": "Secret"}')
    assert worth_parsing(b"x: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n")
    assert worth_parsing(b"a: b\nsops:\n  version: 1\n")
    assert worth_parsing(b"cert: |\n  -----BEGIN CERTIFICATE-----\n")
    assert not worth_parsing(b"name: app\nkind: Deployment\nsecrets: []\n")


def test_walk_selects_documents_by_content(tmp_path: Path) -> None:
    (tmp_path / "plain.yml").write_text("name: app\n")
    (tmp_path / "vars.yml").write_text(f"tls_cert: |\n{indent(PKI.leaf.cert_pem, 2)}\n")
    (tmp_path / "secret.json").write_text('{"kind": "Secret", "data": {}}')
    assert not is_candidate(str(tmp_path / "plain.yml"))
    assert sorted(Path(p).name for p in expand_paths([str(tmp_path)])) == ["secret.json", "vars.yml"]


def test_pairs_by_names_within_a_mapping(tmp_path: Path) -> None:
    other = issue("other.example.com", issuer=PKI.intermediate, private_key=key("rsa", 2048, 60), dns=("o.example",))
    text = (
        "servers:\n  - tls:\n"
        f"      server_cert: |\n{indent(PKI.leaf.cert_pem, 8)}\n"
        f"      server_chain: |\n{indent(pem(PKI.intermediate), 8)}\n"
        f"      server_key: |\n{indent(key_pem(PKI.leaf.key), 8)}\n"
        f"      client_cert: |\n{indent(other.cert_pem, 8)}\n"
        f"      client_chain: |\n{indent(pem(PKI.intermediate), 8)}\n"
        f"      client_key: |\n{indent(key_pem(key('rsa', 2048, 61)), 8)}\n"
    )
    found = check(tmp_path, "values.yaml", text)
    lines = text.splitlines()
    client = lines.index("      client_cert: |") + 2
    assert found == [(client, "pair.mismatch", "servers[0].tls.client_cert")]


def test_aliases_tags_and_multiple_documents_do_not_crash(tmp_path: Path) -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(12)
    )
    text = (
        "---\n" + laughs + "tag: !Sub '${AWS::Region}'\nother: !!binary aGVsbG8=\n"
        f"cert: &pem |\n{indent(PKI.leaf.cert_pem, 2)}\nsame: *pem\nchain: |\n{indent(pem(PKI.intermediate), 2)}\n"
        "---\n---\n- plain\n- !vault |\n  not a vault\n"
    )
    assert check(tmp_path, "odd.yaml", text) == []
    doc = read_document("odd.yaml", text.encode(), None)
    assert [v.key_path for v in doc.values] == ["[0].cert", "[0].chain"]


def test_malformed_yaml_is_a_finding_only_with_armour(tmp_path: Path) -> None:
    assert check(tmp_path, "broken.yml", "kind: Secret\n  - : [\n") == []
    found = check(tmp_path, "broken-pem.yml", f"cert: |\n{indent(PKI.leaf.cert_pem, 2)}\n bad: [\n")
    assert [(rule, "does not parse" in head) for _line, rule, head in found] == [("pem.encoding", True)]


def test_secret_data_der_and_junk(tmp_path: Path) -> None:
    der = PKI.leaf.cert.public_bytes(__import__("cryptography").hazmat.primitives.serialization.Encoding.DER)
    text = (
        "apiVersion: v1\nkind: Secret\ntype: Opaque\ndata:\n"
        f"  password: {base64.b64encode(b'not tls').decode()}\n  junk: '%%%'\n"
        f"  tls.crt: {base64.b64encode(der).decode()}\n"
    )
    found = check(tmp_path, "der.yaml", text)
    # DER in tls.crt: a kubernetes.io/tls consumer wants PEM
    assert (5 + 2, "pem.encoding", "data.tls.crt") in found


def test_reader_never_raises_on_mutations() -> None:
    base = (
        "apiVersion: v1\nkind: Secret\ndata:\n"
        f"  tls.crt: {base64.b64encode(pem(PKI.leaf)).decode()}\n"
        f"stringData:\n  tls.key: |\n{indent(key_pem(PKI.leaf.key), 4)}\n"
        "x: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  3132\n"
    ).encode()
    rng = random.Random(13)
    for _round in range(300):
        data = bytearray(base)
        for _change in range(rng.randint(1, 8)):
            position = rng.randrange(len(data))
            data[position] = rng.choice(b"\x00\xff:-|&*!'\"{}[]\n\t #")
        read_document("fuzz.yaml", bytes(data), rng.choice([None, b"pw"]))


@pytest.mark.parametrize("password", [None, b"wrong"])
def test_inline_vault_without_or_with_wrong_password(password: bytes | None) -> None:
    from ansible.parsing.vault import VaultLib, VaultSecret

    vault = VaultLib([("default", VaultSecret(b"right"))])
    token = vault.encrypt(key_pem(PKI.leaf.key)).decode()
    text = "tls_key: !vault |\n" + indent(token.encode(), 2) + "\n"
    doc = read_document("v.yml", text.encode(), password)
    if password is None:
        assert doc.skips == ["inline vault value tls_key: no vault password given"] and doc.input_error is None
    else:
        assert doc.input_error is not None and "tls_key" in doc.input_error and not doc.skips
    opened = read_document("v.yml", text.encode(), b"right")
    assert [(v.key_path, v.line, v.role, v.vaulted) for v in opened.values] == [("tls_key", 1, "key", True)]


def test_secrets_in_a_list(tmp_path: Path) -> None:
    crt = base64.b64encode(pem(PKI.leaf, PKI.intermediate)).decode()
    wrong = base64.b64encode(key_pem(key("rsa", 2048, 62))).decode()
    text = (
        "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n    type: kubernetes.io/tls\n"
        f"    data:\n      tls.crt: {crt}\n      tls.key: {wrong}\n"
    )
    assert check(tmp_path, "list.yaml", text) == [(8, "pair.mismatch", "items[0].data.tls.crt")]


# Placeholders as charts, READMEs and templates write them: documentation, not material (no finding, not checked).
PLACEHOLDERS = [
    "cert: |\n  -----BEGIN CERTIFICATE-----\n  ...\n  -----END CERTIFICATE-----\n",
    "key: |\n  -----BEGIN RSA PRIVATE KEY-----\n  <your private key>\n  -----END RSA PRIVATE KEY-----\n",
    'caBundle: "-----BEGIN CERTIFICATE-----\\nMIIC...\\n-----END CERTIFICATE-----"\n',
    "tls:\n  crt: |\n    -----BEGIN CERTIFICATE-----\n    {{ .Values.tls.crt }}\n    -----END CERTIFICATE-----\n",
    'ssl_key: "-----BEGIN PRIVATE KEY-----\\n${TLS_KEY}\\n-----END PRIVATE KEY-----"\n',
    "chain: |\n  -----BEGIN CERTIFICATE-----\n  REPLACE_ME\n  -----END CERTIFICATE-----\n",
    'help: "Paste the -----BEGIN CERTIFICATE----- block of the server certificate here"\n',
    '{"certificate": "-----BEGIN CERTIFICATE-----\\nMIIDdzCCAl+gAwIBAgIE\\u2026\\n-----END CERTIFICATE-----"}\n',
    # a Helm template does not parse as YAML: with only placeholder armour it is no finding either
    'kind: Secret\nmetadata:\n  name: {{ include "x" . }}\nstringData:\n  tls.crt: |\n    -----BEGIN CERTIFICATE-----\n'
    "    {{ .Values.crt }}\n    -----END CERTIFICATE-----\n",
]


@pytest.mark.parametrize("text", PLACEHOLDERS)
def test_placeholders_are_not_material(tmp_path: Path, text: str) -> None:
    name = "values.json" if text.startswith("{") else "values.yaml"
    assert check(tmp_path, name, text) == []
    assert read_document(name, text.encode(), None).values == []


def test_a_real_block_beside_a_placeholder_is_checked(tmp_path: Path) -> None:
    text = f"certificate: |\n{indent(PKI.leaf.cert_pem, 2)}\n  -----BEGIN CERTIFICATE-----\n  ...\n  -----END CERTIFICATE-----\n"
    assert [v.key_path for v in read_document("v.yaml", text.encode(), None).values] == ["certificate"]


def broken_body() -> str:
    body = base64.b64encode(random.Random(7).randbytes(300)).decode()
    return "\n".join(body[i : i + 64] for i in range(0, len(body), 64)) + "\n!!not base64"


def test_pem_quoted_in_a_script_is_checked_without_the_script(tmp_path: Path) -> None:
    """A CI step that writes a CA certificate: the certificate is material, the shell around it is not a finding;
    a broken block in it still is, at its BEGIN line, in the words of a value."""
    script = (
        "jobs:\n  test:\n    steps:\n      - run: |\n          cat > ca.pem <<'EOF'\n"
        f"{indent(pem(PKI.root), 10)}\n          EOF\n          sudo update-ca-certificates\n"
    )
    assert check(tmp_path, "workflow.yml", script) == []
    assert [v.key_path for v in read_document("w.yml", script.encode(), None).values] == ["jobs.test.steps[0].run"]
    broken = (
        "steps:\n  - run: |\n      echo start\n      -----BEGIN CERTIFICATE-----\n"
        f"{indent(broken_body().encode(), 6)}\n      -----END CERTIFICATE-----\n      echo done\n"
    )
    path = tmp_path / "broken.yml"
    path.write_text(broken)
    report = check_paths([str(path)], load_policy(profile="seed", discover=False), root=str(tmp_path))
    assert [(f.line, f.rule_id, f.message) for f in report.findings] == [
        (4, "pem.encoding", "steps[0].run: the CERTIFICATE block is not valid base64")
    ]
    assert "make the value PEM" in (report.findings[0].hint or "")


@pytest.mark.parametrize("name", ["certificate", "caBundle", "tls_key", "content"])
def test_text_around_pem_meant_as_pem_is_a_finding(tmp_path: Path, name: str) -> None:
    """A value that is to be PEM (named so, or opening with the armour) must hold nothing else: the deployment
    gets the text too."""
    material = key_pem(PKI.leaf.key) if name == "tls_key" else pem(PKI.root)
    lead = "" if name == "content" else "  # pasted from the CA\n"
    text = f"{name}: |\n{lead}{indent(material, 2)}\n  (end of {name})\n"
    found = check(tmp_path, "v.yaml", text)
    assert ("pem.encoding", name) in {(rule, head) for _line, rule, head in found}, found
    path = tmp_path / "v.yaml"
    report = check_paths([str(path)], load_policy(profile="seed", discover=False), root=str(tmp_path))
    stray = [f for f in report.findings if "text outside" in f.message]
    assert stray and all("may stand in the value" in f.message for f in stray)
