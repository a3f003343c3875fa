"""A loopback HTTP server that serves CA certificates for AIA caIssuers URLs (DER, PEM, PKCS#7)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from support.pki import pkcs7_der


class AiaServer:
    """Serves ``files`` (path -> bytes) on 127.0.0.1; ``hits`` counts the requests per path."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.hits: dict[str, int] = {}
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def put_der(self, path: str, cert: x509.Certificate) -> str:
        self.files[path] = cert.public_bytes(serialization.Encoding.DER)
        return self.url(path)

    def put_pem(self, path: str, cert: x509.Certificate) -> str:
        self.files[path] = cert.public_bytes(serialization.Encoding.PEM)
        return self.url(path)

    def put_pkcs7(self, path: str, *certs: x509.Certificate) -> str:
        self.files[path] = pkcs7_der(*certs)
        return self.url(path)


@contextmanager
def aia_server() -> Iterator[AiaServer]:
    server_state = AiaServer()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.hits[self.path] = server_state.hits.get(self.path, 0) + 1
            body = server_state.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/pkix-cert")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@contextmanager
def dribbling_server(interval: float = 0.5) -> Iterator[str]:
    """A loopback HTTP server that answers every request one byte every ``interval`` seconds, forever:
    the server that holds a client with only a per-read timeout. Yields its base URL."""
    import socket

    stop = threading.Event()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/pkix-cert\r\nContent-Length: 100000\r\n\r\n" + b"0" * 100000

    def serve(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)  # the request
                for byte in answer:
                    if stop.wait(interval):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:  # the client gave up: what the test wants
                return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _addr = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()
