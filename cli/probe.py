"""``certhygiene probe``: the seed's MQTTX connection test (strict TLS + MQTT CONNECT) from the command line."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "probe",
        help="connect to mqtts:// or wss:// in strict mode and complete an MQTT CONNECT",
        description="Connect to mqtts://host:8883 or wss://host:8084/mqtt in strict mode (chain and hostname verified "
        "against --ca or the system trust), optionally with a client certificate (two-way TLS) and MQTT "
        "username/password, and complete an MQTT CONNECT. Prints the presented chain, TLS version and cipher and the "
        "CONNACK; on failure says which part failed (tcp, handshake, verification, hostname, mqtt). "
        "Exit 0 connected, 1 failed, 2 bad arguments.",
    )
    parser.add_argument("url", help="mqtts://host[:8883] or wss://host[:8084][/mqtt]")
    parser.add_argument(
        "--ca", dest="ca_path", help="CA certificate(s) (PEM) to verify the server with (default: system trust)"
    )
    parser.add_argument("--server-name", help="the name to verify the certificate for (default: the URL's host)")
    parser.add_argument("--cert", dest="client_cert", help="client certificate (PEM) for two-way TLS")
    parser.add_argument("--key", dest="client_key", help="client private key (PEM) for two-way TLS")
    parser.add_argument("--username", "-u", help="MQTT username")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--password-env", metavar="VAR", help="read the MQTT password from this environment variable")
    secret.add_argument("--password-file", metavar="PATH", help="read the MQTT password from this file (first line)")
    secret.add_argument("--password-prompt", action="store_true", help="ask for the MQTT password")
    parser.add_argument("--client-id", help="MQTT client id (default: certhygiene-probe-<random>)")
    parser.add_argument("--mqtt-version", choices=("3.1.1", "5"), default="3.1.1", help="MQTT protocol version (3.1.1)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per step (default 10)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    parser.set_defaults(func=run)


def _password(args: argparse.Namespace) -> str | None:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            raise ValueError(f"--password-env {args.password_env}: the variable is not set")
        return value
    if args.password_file:
        from certhygiene.inputs import PASSWORD_MAX_BYTES, InputError, read_regular

        try:
            data = read_regular(args.password_file, PASSWORD_MAX_BYTES)
        except InputError as exc:
            raise ValueError(f"--password-file {args.password_file}: {exc.reason}") from None
        return data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", errors="replace")
    if args.password_prompt:
        return getpass.getpass("MQTT password: ")
    return os.environ.get("CERTHYGIENE_MQTT_PASSWORD")


def render_text(result: dict[str, Any]) -> str:
    status = "OK" if result["connected"] else f"FAILED at {result['stage']}"
    lines = [f"{result['url']}: {status}", f"  {result['msg']}"]
    tls = result["tls"]
    if tls["version"]:
        lines.append(
            f"  tls: {tls['version']} {tls['cipher']} ({tls['bits']} bits), verified for {result['server_name']!r}"
        )
    if result["chain"]:
        label = "presented chain" if result["chain_complete"] else "presented certificate (leaf only: TLS 1.3)"
        lines.append(f"  {label}:")
        for index, cert in enumerate(result["chain"]):
            lines.append(f"    [{index}] {cert.get('subject', '?')}")
            if "issuer" in cert:
                lines.append(
                    f"        issuer {cert['issuer']}; expires {cert['not_after']} ({cert['days_left']} days left)"
                )
            lines.append(f"        sha256 {cert['fingerprint_sha256']}")
    if result["connack"]:
        lines.append(f"  connack: {result['connack']['reason']} ({result['connack']['reason_code']})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from certhygiene.probe import ProbeError, probe

    try:
        password = _password(args)
        result = probe(
            args.url,
            ca_path=args.ca_path,
            server_name=args.server_name,
            client_cert=args.client_cert,
            client_key=args.client_key,
            username=args.username,
            password=password,
            client_id=args.client_id,
            mqtt_version=args.mqtt_version,
            timeout=args.timeout,
        )
    except (ProbeError, ValueError) as exc:
        print(f"certhygiene probe: {exc}", file=sys.stderr)
        return 2
    out = result.as_dict()
    if args.format == "json":
        print(json.dumps(out, indent=2))
    else:
        print(render_text(out))
    return 0 if result.connected else 1
