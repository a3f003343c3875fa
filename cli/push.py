"""``certhygiene push``: the engine's plan/apply from the command line, for pipelines without Ansible.

Exit codes: 0 done or nothing to do (with ``--check``: nothing would change), 1 refused by the policy or the API
(with ``--check``: something would change), 2 usage error (bad flags, unreadable files, missing credentials).
Credentials come from ``CERTHYGIENE_API_KEY``/``CERTHYGIENE_API_SECRET`` or ``--credentials-file``, never from a flag,
so they never show in ``ps``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from certhygiene.inputs import InputError, read_regular
from certhygiene.policy import PROFILES as POLICY_PROFILES
from certhygiene.policy import PolicyError, load_policy
from certhygiene.providers import API_PROFILES, GenericSpec, Provider, make_provider
from certhygiene.push import EndpointSpec, Material, Outcome, push
from certhygiene.transport import AUTH_STYLES, ApiError, Client, RetryPolicy, auth_headers, stdlib_transport

KEY_ENV = "CERTHYGIENE_API_KEY"
SECRET_ENV = "CERTHYGIENE_API_SECRET"  # noqa: S105 - the variable's name, not a secret


class UsageError(Exception):
    """Bad input from the user: exit 2 with this message."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "push",
        help="push a certificate, chain and key to a deployment (plan, then write only what differs)",
        description="Check the material against the policy, read the deployment's TLS configuration, say what "
        "differs and write only then (the real service allows 6 writes an hour). Credentials: "
        f"{KEY_ENV} and {SECRET_ENV} in the environment, or --credentials-file. "
        "Exit 0 done or nothing to do, 1 refused by the policy or the API (--check: would change), 2 usage error.",
    )
    add_connection_arguments(parser)
    parser.add_argument("--auth-type", choices=("one-way", "two-way"), default="one-way", help="TLS type (one-way)")
    parser.add_argument("--cert", required=True, metavar="PATH", help="the server certificate (PEM)")
    parser.add_argument("--chain", metavar="PATH", help="its chain: intermediates, without the certificate (PEM)")
    parser.add_argument("--key", required=True, metavar="PATH", help="the certificate's unencrypted private key (PEM)")
    parser.add_argument("--client-ca", metavar="PATH", help="two-way TLS: the CA that signs client certificates")
    parser.add_argument(
        "--profile", choices=list(POLICY_PROFILES), help="policy profile the material is checked against (default seed)"
    )
    parser.add_argument("--policy", metavar="PATH", help="a policy file (.certhygiene.yaml format)")
    parser.add_argument(
        "--check", action="store_true", help="plan only: exit 0 when nothing would change, 1 when it would"
    )
    parser.add_argument("--wait", action="store_true", help="after a write, wait until the deployment reports running")
    parser.add_argument("--wait-timeout", type=float, default=300.0, metavar="SECONDS", help="for --wait (300)")
    parser.add_argument(
        "--endpoint",
        metavar="HOST:PORT",
        help="compare with the certificate this endpoint presents (and with --wait, wait until it presents the new one)",
    )
    parser.add_argument("--server-name", help="SNI name for --endpoint (default: its host)")
    parser.set_defaults(func=run)


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-url", required=True, help="the API's base URL, e.g. https://cloud.example.com/api/v1")
    parser.add_argument("--deployment-id", default="", help="the deployment (required for emqx-cloud)")
    parser.add_argument("--api-profile", choices=API_PROFILES, default="emqx-cloud", help="the API dialect")
    parser.add_argument(
        "--credentials-file",
        metavar="PATH",
        help="a YAML file with api_key and api_secret (instead of the environment variables)",
    )
    parser.add_argument("--auth-style", choices=AUTH_STYLES, default="basic", help="how credentials are sent (basic)")
    parser.add_argument("--auth-header", default="apikey", help="header name for --auth-style header")
    parser.add_argument(
        "--url-template", help="generic: write URL template, e.g. {api_url}/certificates/{deployment_id}"
    )
    parser.add_argument("--get-url-template", help="generic: read URL template (without it every push writes)")
    parser.add_argument("--delete-url-template", help="generic: delete URL template")
    parser.add_argument("--method", default="PUT", help="generic: write method (PUT)")
    parser.add_argument("--body-template", metavar="JSON|@PATH", help="generic: JSON body template")
    parser.add_argument("--ca-path", metavar="PATH", help="CA bundle to verify the API's HTTPS certificate")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request (30)")
    parser.add_argument("--retries", type=int, default=5, help="retries after 429, 5xx, resets, timeouts (5)")
    parser.add_argument("--retry-delay", type=float, default=1.0, help="first backoff delay in seconds (1)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (text)")


# --------------------------------------------------------------------------- shared with delete


def credentials(args: argparse.Namespace) -> tuple[str | None, str | None]:
    if args.credentials_file:
        import yaml

        try:
            data = yaml.safe_load(read_regular(args.credentials_file, max_bytes=64 * 1024).decode("utf-8"))
        except InputError as exc:
            raise UsageError(f"--credentials-file {args.credentials_file}: {exc.reason}") from None
        except (UnicodeDecodeError, yaml.YAMLError):
            raise UsageError(
                f"--credentials-file {args.credentials_file}: not a YAML mapping; write 'api_key: ...' and "
                "'api_secret: ...' lines"
            ) from None
        if not isinstance(data, dict):
            raise UsageError(
                f"--credentials-file {args.credentials_file}: not a YAML mapping; write 'api_key: ...' and "
                "'api_secret: ...' lines"
            )
        key, secret = data.get("api_key"), data.get("api_secret")
        return (None if key is None else str(key), None if secret is None else str(secret))
    return os.environ.get(KEY_ENV), os.environ.get(SECRET_ENV)


def build_provider(args: argparse.Namespace) -> Provider:
    key, secret = credentials(args)
    try:
        headers = auth_headers(args.auth_style, key, secret, args.auth_header)
    except ApiError:
        needs = f"{KEY_ENV} and {SECRET_ENV}" if args.auth_style == "basic" else SECRET_ENV
        raise UsageError(
            f"no API credentials: set {needs} in the environment, or give --credentials-file with api_key and "
            "api_secret (credentials are never taken from a flag)"
        ) from None
    generic = None
    if args.api_profile == "generic":
        if not args.url_template:
            raise UsageError("--api-profile generic needs --url-template (and --body-template to push)")
        generic = GenericSpec(
            url_template=args.url_template,
            body_template=_body_template(args.body_template),
            method=args.method,
            get_url_template=args.get_url_template,
            delete_url_template=args.delete_url_template,
        )
    client = Client(
        stdlib_transport(ca_path=args.ca_path),
        auth_headers=headers,
        timeout=args.timeout,
        retry=RetryPolicy(retries=max(0, args.retries), backoff=max(0.0, args.retry_delay)),
        secrets=tuple(s for s in (secret, key) if s),
    )
    try:
        return make_provider(
            client,
            api_url=args.api_url,
            deployment_id=args.deployment_id,
            api_profile=args.api_profile,
            generic=generic,
        )
    except ApiError as exc:
        raise UsageError(exc.message.replace("deployment_id", "--deployment-id")) from None


def _body_template(value: str | None) -> Any:
    if value is None:
        return None
    text = value
    if value.startswith("@"):
        text = _read(value[1:], "--body-template").decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--body-template is not valid JSON: {exc}") from None


def _read(path: str | None, flag: str) -> bytes:
    if path is None:
        raise UsageError(f"{flag} is required")
    try:
        return read_regular(path)
    except InputError as exc:
        raise UsageError(f"{flag} {path}: {exc.reason}; fix the path") from None


def report(outcome: Outcome, args: argparse.Namespace, verb: str) -> None:
    for warning in outcome.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    result = outcome.result
    if args.format == "json":
        shown = {"ok": not outcome.failed, "check": bool(getattr(args, "check", False)), **result}
        if outcome.message:
            shown["message"] = outcome.message
        print(json.dumps(shown, indent=2, sort_keys=True, default=str))
        return
    target = f"{args.api_url} deployment {args.deployment_id or '(default)'} ({args.api_profile})"
    action = result.get("action", "none")
    lines = [f"{verb} {target}"]
    if "action" in result:
        lines.append(f"  plan: {action}" + ("" if action != "none" else " (the deployment already has it)"))
    lines.extend(f"  - {reason}" for reason in result.get("differences", []))
    before, after = result.get("before"), result.get("after")
    if isinstance(before, dict):
        lines.append(f"  before: {_facts(before)}")
    if isinstance(after, dict) and not outcome.failed:
        lines.append(f"  {'planned' if getattr(args, 'check', False) else 'after'}: {_facts(after)}")
    if outcome.failed:
        lines.append(f"  FAILED ({outcome.applied}): {outcome.message}")
    elif getattr(args, "check", False):
        lines.append("  check: " + ("would change" if outcome.changed else "nothing to do") + "; nothing was written")
    else:
        lines.append("  result: " + (f"changed ({outcome.applied})" if outcome.changed else "nothing to do"))
    print("\n".join(lines))


def _facts(view: dict[str, Any]) -> str:
    if not view.get("present"):
        return "no TLS configuration"
    shown = [f"{name}={view[name]}" for name in ("tls_type", "cn", "expire", "status") if view.get(name) is not None]
    return ", ".join(shown) or "present"


def exit_code(outcome: Outcome, check: bool) -> int:
    if outcome.failed:
        return 1
    if check:
        return 1 if outcome.changed else 0
    return 0


# --------------------------------------------------------------------------- push


def _endpoint(args: argparse.Namespace) -> EndpointSpec | None:
    if not args.endpoint:
        return None
    host, sep, port = args.endpoint.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UsageError(f"--endpoint {args.endpoint}: give HOST:PORT, e.g. mqtt.example.com:8883")
    return EndpointSpec(host.strip("[]"), int(port), args.server_name)


def run(args: argparse.Namespace) -> int:
    try:
        if args.auth_type == "two-way" and not args.client_ca:
            raise UsageError("--auth-type two-way needs --client-ca (the CA that signs client certificates)")
        material = Material(
            auth_type=args.auth_type,
            certificate=_read(args.cert, "--cert"),
            chain=_read(args.chain, "--chain") if args.chain else None,
            private_key=_read(args.key, "--key"),
            client_ca=_read(args.client_ca, "--client-ca") if args.client_ca else None,
            names={
                "certificate": args.cert,
                "chain": args.chain or "chain",
                "private_key": args.key,
                "client_ca": args.client_ca or "client_ca",
            },
        )
        try:
            policy = load_policy(profile=args.profile, path=args.policy, discover=False)
        except PolicyError as exc:
            raise UsageError(f"policy: {exc}") from None
        endpoint = _endpoint(args)
        provider = build_provider(args)
    except UsageError as exc:
        print(f"certhygiene push: error: {exc}", file=sys.stderr)
        return 2
    outcome = push(
        provider,
        material,
        policy=policy,
        check_mode=args.check,
        wait=args.wait,
        wait_timeout=args.wait_timeout,
        endpoint=endpoint,
    )
    report(outcome, args, "push")
    return exit_code(outcome, args.check)
