# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a process really listens, from the kernel's socket table (/proc/net/tcp and tcp6), not its config.

mosquitto 2.0.11 binds its websockets listener to every address whatever the config says (upstream #2085), so
the sandbox trusts only what the kernel reports for the broker's own sockets.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from dataclasses import dataclass

TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
_LISTEN = "0A"


class ListenerError(RuntimeError):
    pass


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    inode: int

    def __str__(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"


def parse_host(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """``host`` as an IP address; ValueError (with the reason) for a name, a zone index or anything else."""
    if "%" in host:
        raise ValueError(f"'{host}' has a zone index; give a plain IP address such as 127.0.0.1 or ::1")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"'{host}' is not an IP address; give one such as 127.0.0.1 or ::1, not a name") from None


def available() -> bool:
    return os.path.exists(TABLES[0])


def _address(hex_text: str) -> str:
    raw = bytes.fromhex(hex_text)
    if sys.byteorder == "little":  # the kernel prints each 32-bit word in host byte order
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(raw))


def table() -> list[Listener]:
    """Every listening TCP socket on the machine (both families)."""
    found = []
    for path in TABLES:
        try:
            with open(path, encoding="ascii") as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            address, port = fields[1].split(":")
            found.append(Listener(_address(address), int(port, 16), int(fields[9])))
    return found


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets process ``pid`` holds open."""
    inodes = set()
    folder = f"/proc/{pid}/fd"
    try:
        names = os.listdir(folder)
    except OSError:
        return inodes
    for name in names:
        try:
            target = os.readlink(os.path.join(folder, name))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def of_process(pid: int) -> list[Listener]:
    """The listening sockets of process ``pid``."""
    inodes = socket_inodes(pid)
    return [listener for listener in table() if listener.inode in inodes]


def of_inode(inode: int) -> list[Listener]:
    return [listener for listener in table() if listener.inode == inode]


def beyond(listeners: list[Listener], host: str) -> list[Listener]:
    """The listeners not bound to exactly ``host`` (a wildcard host asks for every address, so nothing is beyond)."""
    asked = parse_host(host)
    return [listener for listener in listeners if ipaddress.ip_address(listener.address) != asked]


def check(listeners: list[Listener], host: str, what: str, hint: str = "") -> None:
    """Raise ListenerError naming every socket of ``what`` that listens on another address than ``host``."""
    wrong = beyond(listeners, host)
    if wrong:
        where = ", ".join(sorted({str(listener) for listener in wrong}))
        raise ListenerError(f"{what} listens on {where} but only {host} was asked; refusing to run{hint}")
