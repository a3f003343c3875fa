"""Probe internals that need no network: URL parsing, input errors, reading the presented chain off TLS records."""

from __future__ import annotations

import pytest
from certhygiene.probe import ProbeError, _HandshakeReader, parse_endpoint, probe


def test_endpoint_parsing():
    assert parse_endpoint("mqtts://h").port == 8883
    assert parse_endpoint("h:1").url == "mqtts://h:1"
    wss = parse_endpoint("wss://[::1]")
    assert (wss.transport, wss.host, wss.port, wss.path, wss.url) == (
        "wss",
        "::1",
        8084,
        "/mqtt",
        "wss://[::1]:8084/mqtt",
    )
    assert parse_endpoint("wss://h:1/x").path == "/x"
    assert parse_endpoint(host="h", transport="wss", port=2).url == "wss://h:2/mqtt"
    assert parse_endpoint("mqtts://h:1", port=3).port == 3  # explicit parts win


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"url": "mqtt://localhost:1883"}, "use mqtts"),
        ({"url": "mqtts://localhost:99999"}, "port"),
        ({}, "no host"),
        ({"url": "mqtts://localhost", "ca_path": "/nonexistent/ca.pem"}, "/nonexistent/ca.pem: cannot load"),
        ({"url": "mqtts://localhost", "client_key": "/x.key"}, "client certificate"),
        ({"url": "mqtts://localhost", "client_cert": "/nonexistent/c.pem"}, "/nonexistent/c.pem: cannot load"),
        ({"url": "mqtts://localhost", "mqtt_version": "4"}, "mqtt_version"),
    ],
)
def test_bad_input_is_a_probe_error(kwargs, words):
    with pytest.raises(ProbeError) as info:
        probe(**kwargs)
    assert words in str(info.value)


def _record(content_type: int, payload: bytes) -> bytes:
    return bytes([content_type, 3, 3]) + len(payload).to_bytes(2, "big") + payload


def _handshake(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


def test_reader_collects_the_certificate_message_across_records_and_chunks():
    certs = [b"leaf-der" * 50, b"intermediate-der" * 30]
    cert_list = b"".join(len(c).to_bytes(3, "big") + c for c in certs)
    messages = _handshake(2, b"server-hello") + _handshake(11, len(cert_list).to_bytes(3, "big") + cert_list)
    # the handshake messages split over two records, the records fed in 7-byte chunks
    wire = _record(22, messages[:100]) + _record(22, messages[100:]) + _record(22, _handshake(14, b""))
    reader = _HandshakeReader()
    for i in range(0, len(wire), 7):
        reader.feed(wire[i : i + 7])
    assert reader.certificates == certs and reader.done


@pytest.mark.parametrize("stop", [_record(21, b"\x02\x28"), _record(20, b"\x01"), _record(22, _handshake(14, b""))])
def test_reader_stops_without_certificates(stop):
    reader = _HandshakeReader()
    reader.feed(_record(22, _handshake(2, b"hello")) + stop)
    assert reader.done and reader.certificates is None
