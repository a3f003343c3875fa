"""``certhygiene sandbox``: a local deployment (the cloud's TLS API + a real mosquitto) on loopback.

The full contract is in sandbox/README.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import sys
import threading
from typing import Any

from certhygiene.files import KEY_MODE, write_atomic

CREDENTIAL_KEYS = ("api_key", "api_secret", "mqtt_user", "mqtt_password")


def default_data_dir() -> str:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "certhygiene", "sandbox")


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port: {value}")
    return port


def _host(value: str) -> str:
    from certhygiene.sandbox.listeners import parse_host

    try:
        return str(parse_host(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"must be an IP address: {exc}") from None


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError(f"not a number of seconds between 0 and 3600: {value}")
    return seconds


def _connections(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        count = 0
    if not 1 <= count <= 10000:
        raise argparse.ArgumentTypeError(f"not a number of connections between 1 and 10000: {value}")
    return count


def _rate(value: str) -> float:
    rate = float(value)
    if not 0 <= rate <= 1:
        raise argparse.ArgumentTypeError("--fault-rate must be between 0 and 1")
    return rate


def _faults(value: str) -> list[str]:
    from certhygiene.sandbox.server import check_kinds

    try:
        return check_kinds(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _deployment(value: str) -> Any:
    """``ID:MQTTS_PORT:WSS_PORT[:WRITE_LIMIT]`` -> DeploymentSpec."""
    from certhygiene.sandbox.server import DeploymentSpec, check_deployment_id

    parts = value.split(":")
    if len(parts) not in (3, 4):
        raise argparse.ArgumentTypeError(
            f"--deployment {value!r}: write ID:MQTTS_PORT:WSS_PORT (or ID:MQTTS_PORT:WSS_PORT:WRITE_LIMIT)"
        )
    try:
        deployment_id = check_deployment_id(parts[0])
        mqtts, wss = (int(p) for p in parts[1:3])
        limit = int(parts[3]) if len(parts) == 4 else None
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--deployment {value!r}: {exc}") from None
    if not (0 < mqtts <= 65535 and 0 < wss <= 65535):
        raise argparse.ArgumentTypeError(f"--deployment {value!r}: the ports must be between 1 and 65535")
    if limit is not None and limit < 1:
        raise argparse.ArgumentTypeError(f"--deployment {value!r}: the write limit must be at least 1")
    return DeploymentSpec(deployment_id, mqtts, wss, limit)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="run a local deployment: the TLS API on loopback driving a real mosquitto broker",
        description="Run a local deployment: the cloud's TLS/SSL API (Basic auth, pending -> running, server-side "
        "validation, optional write limit and fault injection) driving a real mosquitto broker with mqtts and wss "
        "listeners. State is kept in SQLite under --data-dir. Secrets are never printed: generated ones are kept "
        "in <data-dir>/credentials.json (0600).",
    )
    parser.add_argument("--data-dir", default=None, help=f"state directory (default {default_data_dir()})")
    parser.add_argument(
        "--host",
        type=_host,
        default="127.0.0.1",
        help="IP address every listener (API, mqtt, mqtts, wss) binds to, checked in the kernel's socket table "
        "after start (default 127.0.0.1; ::1 for IPv6)",
    )
    parser.add_argument(
        "--api-port", type=_port, default=18083, help="HTTP API port, 0 = any free port (default 18083)"
    )
    parser.add_argument("--mqtt-port", type=_port, default=1883, help="plain MQTT listener, 0 = none (default 1883)")
    parser.add_argument("--mqtts-port", type=_port, default=8883, help="mqtts listener when TLS is configured (8883)")
    parser.add_argument(
        "--wss-port", type=_port, default=8084, help="wss listener (path /mqtt) when TLS is configured (8084)"
    )
    parser.add_argument(
        "--deployment-id", default="sandbox", help="the deployment this sandbox serves (default sandbox)"
    )
    parser.add_argument(
        "--deployment",
        dest="deployments",
        type=_deployment,
        action="append",
        default=None,
        metavar="ID:MQTTS_PORT:WSS_PORT[:WRITE_LIMIT]",
        help="serve this deployment (repeatable: several deployments under one API, each with its own mqtts and "
        "wss listeners, state and write limit); replaces --deployment-id, --mqtts-port and --wss-port",
    )
    parser.add_argument(
        "--api-key", default=None, help="API key (env CERTHYGIENE_SANDBOX_API_KEY; generated when absent)"
    )
    parser.add_argument(
        "--api-secret", default=None, help="API secret (env CERTHYGIENE_SANDBOX_API_SECRET; generated when absent)"
    )
    parser.add_argument(
        "--mqtt-user", default=None, help="broker username (env CERTHYGIENE_SANDBOX_MQTT_USER; certhygiene)"
    )
    parser.add_argument(
        "--mqtt-password",
        default=None,
        help="broker password (env CERTHYGIENE_SANDBOX_MQTT_PASSWORD; generated when absent)",
    )
    parser.add_argument("--profile", default="emqx-cloud", help="validation policy profile (default emqx-cloud)")
    parser.add_argument("--policy", default=None, help="validation policy file (overrides --profile settings)")
    parser.add_argument(
        "--write-limit", type=int, default=None, help="accepted writes per sliding hour (default: no limit)"
    )
    parser.add_argument("--apply-delay", type=float, default=0.3, help="seconds a push stays pending (default 0.3)")
    parser.add_argument(
        "--fault-rate", type=_rate, default=0.0, help="probability of a fault per API request (default 0)"
    )
    parser.add_argument("--faults", type=_faults, default=None, help="fault kinds: 500,429,slow,drop (default all)")
    parser.add_argument("--fault-seed", type=int, default=None, help="seed of the fault generator")
    parser.add_argument("--fault-slow", type=float, default=3.0, help="delay of a 'slow' fault in seconds (default 3)")
    parser.add_argument(
        "--client-timeout",
        type=_seconds,
        default=30.0,
        help="seconds the API waits for a client that sends nothing before closing the connection (default 30)",
    )
    parser.add_argument(
        "--max-connections",
        type=_connections,
        default=256,
        help="API connections open at a time; the next ones get 503 (default 256)",
    )
    parser.add_argument(
        "--ready-file", default=None, help="write a JSON file (0600) with URLs and credentials when ready"
    )
    parser.add_argument(
        "--mosquitto", default=None, help="the mosquitto binary (default: PATH, then /usr/sbin/mosquitto)"
    )
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    parser.set_defaults(func=run)


def _credentials(args: argparse.Namespace, path: str) -> dict[str, str]:
    stored: dict[str, str] = {}
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as handle:
                loaded = json.load(handle)
            stored = {k: str(loaded[k]) for k in CREDENTIAL_KEYS if loaded.get(k)}
        except (OSError, ValueError):
            stored = {}
    generated = {
        "api_key": "sbx-" + secrets.token_hex(8),
        "api_secret": secrets.token_urlsafe(24),
        "mqtt_user": "certhygiene",
        "mqtt_password": secrets.token_urlsafe(18),
    }
    creds = {}
    for name in CREDENTIAL_KEYS:
        given = getattr(args, name) or os.environ.get(f"CERTHYGIENE_SANDBOX_{name.upper()}")
        creds[name] = given or stored.get(name) or generated[name]
    if creds != stored:
        write_atomic(path, (json.dumps(creds, indent=2) + "\n").encode(), KEY_MODE)
    return creds


def _check_listener(server: Any, host: str) -> None:
    """The API socket, as the kernel lists it, listens on ``host`` only (raises ListenerError otherwise)."""
    from certhygiene.sandbox import listeners

    log = logging.getLogger("certhygiene.sandbox")
    if not listeners.parse_host(host).is_loopback:
        log.warning("listening on %s, not loopback: whoever reaches it can try the API credentials", host)
    if not listeners.available():
        log.warning("no kernel socket table (/proc/net/tcp) here: the listeners' addresses are not checked")
        return
    inode = os.fstat(server.socket.fileno()).st_ino
    listeners.check(listeners.of_inode(inode), host, "the API")


def run(args: argparse.Namespace) -> int:
    from certhygiene.sandbox.mosquitto import WSS_PATH, Mosquitto, MosquittoError, find_mosquitto
    from certhygiene.sandbox.server import API_PREFIX, FAULT_KINDS, Sandbox, Settings, banner, make_server
    from certhygiene.sandbox.store import Store

    os.umask(0o077)  # every file the sandbox and its broker write is private (keys, state, logs)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    specs = args.deployments or []
    ports = [p for p in (args.mqtt_port, args.mqtts_port, args.wss_port) if p]
    if specs:
        ports = [p for p in (args.mqtt_port,) if p] + [p for s in specs for p in (s.mqtts_port, s.wss_port)]
    if len(set(ports)) != len(ports) or args.mqtts_port == 0 or args.wss_port == 0:
        print(
            "certhygiene sandbox: --mqtt-port and the mqtts and wss ports (--mqtts-port and --wss-port, or those of "
            "every --deployment) must be distinct, nonzero ports",
            file=sys.stderr,
        )
        return 2
    ids = [s.deployment_id for s in specs]
    if len(set(ids)) != len(ids):
        print("certhygiene sandbox: each --deployment needs its own ID", file=sys.stderr)
        return 2
    data_dir = os.path.abspath(args.data_dir or default_data_dir())
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    os.chmod(data_dir, 0o700)
    credentials_path = os.path.join(data_dir, "credentials.json")
    creds = _credentials(args, credentials_path)
    try:
        binary = find_mosquitto(args.mosquitto)
    except MosquittoError as exc:
        print(f"certhygiene sandbox: {exc}", file=sys.stderr)
        return 1

    settings = Settings(
        data_dir=data_dir,
        host=args.host,
        api_port=args.api_port,
        mqtt_port=args.mqtt_port or None,
        deployment_id=specs[0].deployment_id if specs else args.deployment_id,
        mqtts_port=specs[0].mqtts_port if specs else args.mqtts_port,
        wss_port=specs[0].wss_port if specs else args.wss_port,
        deployments=specs,
        profile=args.profile,
        policy_path=args.policy,
        write_limit=args.write_limit,
        apply_delay=args.apply_delay,
        fault_rate=args.fault_rate,
        faults=args.faults if args.faults is not None else list(FAULT_KINDS),
        fault_seed=args.fault_seed,
        fault_slow=args.fault_slow,
        mosquitto=binary,
        client_timeout=args.client_timeout,
        max_connections=args.max_connections,
        **creds,
    )
    # One broker per deployment; the first keeps mosquitto/ and the plain mqtt listener.
    brokers = {
        spec.deployment_id: Mosquitto(
            binary=binary,
            workdir=os.path.join(data_dir, "mosquitto" if index == 0 else f"mosquitto-{spec.deployment_id}"),
            host=settings.host,
            mqtt_port=settings.mqtt_port if index == 0 else None,
            mqtts_port=spec.mqtts_port,
            wss_port=spec.wss_port,
            mqtt_user=settings.mqtt_user,
            mqtt_password=settings.mqtt_password,
        )
        for index, spec in enumerate(settings.deployment_specs())
    }
    store = Store(os.path.join(data_dir, "state.db"))
    sandbox = Sandbox(settings, brokers, store)
    try:
        server = make_server(sandbox)
    except OSError as exc:
        print(f"certhygiene sandbox: cannot listen on {settings.host}:{settings.api_port}: {exc}", file=sys.stderr)
        store.close()
        return 1
    try:
        _check_listener(server, settings.host)
        sandbox.start()
    except Exception as exc:
        print(f"certhygiene sandbox: cannot start: {exc}", file=sys.stderr)
        sandbox.stop()
        server.server_close()
        store.close()
        return 1
    api_port = int(server.server_address[1])

    stopping = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    if args.ready_file:
        ready = {
            "api_url": f"http://{host}:{api_port}{API_PREFIX}",
            "base_url": f"http://{host}:{api_port}",
            "deployment_id": settings.deployment_id,
            "host": settings.host,
            "api_port": api_port,
            "mqtt_port": settings.mqtt_port,
            "mqtts_port": settings.mqtts_port,
            "wss_port": settings.wss_port,
            "wss_path": WSS_PATH,
            "deployments": [
                {
                    "deployment_id": spec.deployment_id,
                    "mqtts_port": spec.mqtts_port,
                    "wss_port": spec.wss_port,
                    "write_limit": spec.write_limit if spec.write_limit is not None else settings.write_limit,
                }
                for spec in settings.deployment_specs()
            ],
            "data_dir": data_dir,
            "pid": os.getpid(),
            **creds,
        }
        write_atomic(os.path.abspath(args.ready_file), (json.dumps(ready, indent=2) + "\n").encode(), KEY_MODE)
    print(banner(settings, api_port, credentials_path), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        logging.getLogger("certhygiene.sandbox").info("stopping")
        server.server_close()
        sandbox.stop()
        store.close()
    return 0
