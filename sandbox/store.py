# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sandbox's state: one TLS configuration per deployment and each deployment's write log, in SQLite."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS tls (
    deployment_id TEXT PRIMARY KEY,
    tls_type TEXT NOT NULL,
    cert_pem TEXT NOT NULL,
    key_pem TEXT NOT NULL,
    cacert_pem TEXT,
    cn TEXT NOT NULL,
    expire TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT,
    generation INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS generations (
    deployment_id TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS writes (
    ts REAL NOT NULL,
    method TEXT NOT NULL,
    deployment_id TEXT
);
"""


@dataclass(frozen=True)
class TlsConfig:
    deployment_id: str
    tls_type: str
    cert_pem: str
    key_pem: str
    cacert_pem: str | None
    cn: str
    expire: str
    status: str
    message: str | None
    generation: int

    def public(self) -> dict[str, str]:
        """What GET returns: never the certificate, the key or the CA."""
        out = {"tlsType": self.tls_type, "cn": self.cn, "expire": self.expire, "status": self.status}
        if self.status == "failed" and self.message:
            out["message"] = self.message
        return out

    def __repr__(self) -> str:  # keep the key out of any accidental log line
        return f"TlsConfig({self.deployment_id!r}, {self.tls_type!r}, cn={self.cn!r}, status={self.status!r})"


class Store:
    """Thread-safe access to ``state.db`` (file mode 0600)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        os.chmod(path, 0o600)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(writes)")}
        if "deployment_id" not in columns:  # a data dir from before several deployments: each write log is its own
            self._db.execute("ALTER TABLE writes ADD COLUMN deployment_id TEXT")
        for suffix in ("-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.chmod(path + suffix, 0o600)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get(self, deployment_id: str) -> TlsConfig | None:
        with self._lock:
            row = self._db.execute(
                "SELECT deployment_id, tls_type, cert_pem, key_pem, cacert_pem, cn, expire, status, message, generation"
                " FROM tls WHERE deployment_id = ?",
                (deployment_id,),
            ).fetchone()
        return TlsConfig(*row) if row else None

    def put(
        self,
        deployment_id: str,
        tls_type: str,
        cert_pem: str,
        key_pem: str,
        cacert_pem: str | None,
        cn: str,
        expire: str,
    ) -> TlsConfig:
        """Store a new configuration with status ``pending`` and a new generation.

        Generations never repeat, even across a delete: the apply worker marks ``running`` only the generation it
        applied, so a configuration created after a delete must not share a number with the deleted one.
        """
        with self._lock:
            row = self._db.execute(
                "SELECT MAX(g) FROM (SELECT generation AS g FROM tls WHERE deployment_id = ?"
                " UNION ALL SELECT last AS g FROM generations WHERE deployment_id = ?)",
                (deployment_id, deployment_id),
            ).fetchone()
            generation = (row[0] or 0) + 1
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT OR REPLACE INTO tls VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', NULL, ?, ?)",
                (deployment_id, tls_type, cert_pem, key_pem, cacert_pem, cn, expire, generation, time.time()),
            )
            self._db.execute("INSERT OR REPLACE INTO generations VALUES (?, ?)", (deployment_id, generation))
            self._db.execute("COMMIT")
        return TlsConfig(
            deployment_id, tls_type, cert_pem, key_pem, cacert_pem, cn, expire, "pending", None, generation
        )

    def set_status(self, deployment_id: str, generation: int, status: str, message: str | None = None) -> bool:
        """Set the status of ``generation``; False when a newer write superseded it (or it was deleted)."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE tls SET status = ?, message = ? WHERE deployment_id = ? AND generation = ?",
                (status, message, deployment_id, generation),
            )
            return cur.rowcount == 1

    def delete(self, deployment_id: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM tls WHERE deployment_id = ?", (deployment_id,))
            return cur.rowcount == 1

    def record_write(self, method: str, deployment_id: str, now: float | None = None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO writes (ts, method, deployment_id) VALUES (?, ?, ?)",
                (now or time.time(), method, deployment_id),
            )

    def writes_since(self, since: float, deployment_id: str) -> list[float]:
        """The times of the writes to ``deployment_id`` after ``since`` (each deployment has its own limit)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT ts FROM writes WHERE ts > ? AND deployment_id = ? ORDER BY ts", (since, deployment_id)
            ).fetchall()
        return [r[0] for r in rows]
