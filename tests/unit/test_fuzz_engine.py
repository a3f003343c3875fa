"""Fuzz: random bytes, mutated PEM and mutated DER never make the engine raise; findings always come out."""

from __future__ import annotations

import tempfile
from pathlib import Path

from certhygiene.check import check_material, check_paths
from certhygiene.material import read_bytes
from certhygiene.policy import load_policy
from certhygiene.report import render_json, render_sarif, render_text
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.pki import key, key_pem, pem, three_level

THREE = three_level()
SEED = load_policy("seed", discover=False)
STRICT = load_policy("strict", discover=False)
SAMPLES = [
    THREE.leaf.cert_pem,
    pem(THREE.leaf, THREE.intermediate, THREE.root),
    key_pem(THREE.leaf.key, "pkcs1"),
    key_pem(key("ec", 256), "sec1"),
    key_pem(key("ed25519"), "openssh"),
    key_pem(THREE.leaf.key, "pkcs8", b"pw"),
]
DERS = [
    THREE.leaf.cert.public_bytes(serialization.Encoding.DER),
    THREE.leaf.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ),
]
LABELS = [
    "CERTIFICATE",
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "OPENSSH PRIVATE KEY",
    "CERTIFICATE REQUEST",
    "PUBLIC KEY",
    "X509 CRL",
    "NEW CERTIFICATE REQUEST",
]
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated_pem(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _unused in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "truncate", "swap_label", "insert", "delete_line", "dup_line"]))
        if action == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        elif action == "truncate" and data:
            data = data[: draw(st.integers(0, len(data)))]
        elif action == "swap_label":
            old = draw(st.sampled_from(LABELS)).encode()
            new = draw(st.sampled_from(LABELS)).encode()
            which = draw(st.sampled_from([b"BEGIN ", b"END "]))
            data = bytearray(bytes(data).replace(which + old, which + new, 1))
        elif action == "insert":
            i = draw(st.integers(0, len(data)))
            text = draw(
                st.sampled_from(
                    [
                        b"Proc-Type: 4,ENCRYPTED\n",
                        b"\n",
                        b"garbage line\n",
                        b"-----BEGIN CERTIFICATE-----\n",
                        b"-----END CERTIFICATE-----\n",
                        b"\x00\xff",
                        b"$ANSIBLE_VAULT;1.1;AES256\n",
                    ]
                )
            )
            data[i:i] = text
        elif action in ("delete_line", "dup_line"):
            lines = bytes(data).split(b"\n")
            if lines:
                i = draw(st.integers(0, len(lines) - 1))
                if action == "delete_line":
                    del lines[i]
                else:
                    lines.insert(i, lines[i])
            data = bytearray(b"\n".join(lines))
    return bytes(data)


@st.composite
def mutated_der(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(DERS)))
    for _unused in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(1, len(data)))]
    return bytes(data)


ANY_BYTES = st.one_of(st.binary(max_size=3000), mutated_pem(), mutated_der())


def _check_outputs(report: object) -> None:
    for render in (render_text, render_json):
        assert render(report)  # type: ignore[arg-type]
    assert render_sarif(report, "/")  # type: ignore[arg-type]


@FUZZ
@given(ANY_BYTES)
def test_read_bytes_never_raises(data: bytes) -> None:
    material = read_bytes(data, "fuzz.pem")
    assert material.form in ("pem", "der", "pkcs12", "vault", "text", "binary", "empty")


@FUZZ
@given(
    certificate=ANY_BYTES,
    chain=st.one_of(st.none(), ANY_BYTES),
    private_key=st.one_of(st.none(), ANY_BYTES),
    strict=st.booleans(),
)
def test_check_material_never_raises(
    certificate: bytes, chain: bytes | None, private_key: bytes | None, strict: bool
) -> None:
    report = check_material(
        certificate=certificate,
        chain=chain,
        private_key=private_key,
        client_ca=chain,
        auth_type="two-way",
        policy=STRICT if strict else SEED,
    )
    _check_outputs(report)
    if certificate != THREE.leaf.cert_pem:
        assert report.findings or read_bytes(certificate).certificates  # broken input always says something


@FUZZ
@given(
    files=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "server.crt",
                    "server.key",
                    "server.chain.pem",
                    "fullchain.pem",
                    "ca-bundle.crt",
                    "x.der",
                    "x.p12",
                    "privkey.pem",
                ]
            ),
            ANY_BYTES,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_check_paths_never_raises(files: list[tuple[str, bytes]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for name, data in files:
            (Path(folder) / name).write_bytes(data)
        report = check_paths([folder], SEED, root=folder, vault_password="pw")
        _check_outputs(report)
        broken = [name for name, data in dict(files).items() if not data.strip()]
        for name in broken:  # an empty file is always a finding
            assert any(f.path.endswith(name) and f.rule_id == "pem.encoding" for f in report.findings)
