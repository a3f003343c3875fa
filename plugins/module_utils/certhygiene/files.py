# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write files so that nothing the user has is lost, and a reader sees the old content or the new.

Every door that writes (``split``, ``complete``, ``check -o``, ``report -o``, the
``split-certificate-bundles`` fixer, the modules ``certificate_chain``, ``certificate`` and
``client_certificates``) goes through ``write_outputs`` (or ``write_report`` for one report
file). Before anything is written, every output is checked:

- it is never written over an existing **private key** (or an Ansible Vault file, which may hold
  one), nor over an **input** of the same call, unless the caller says ``force`` (``--force``,
  ``force: true``); then the old file is first copied beside itself as
  ``FILE.<pid>.<YYYY-MM-DD@HH:MM:SS>~`` (Ansible's backup naming; a key's copy is mode 0600);
- two outputs of one call never name the same file (the second write would lose the first):
  refused even with ``force``;
- an output that is a folder, a FIFO, a device or a socket, or whose folder does not exist, is
  refused (``force`` does not change that: there is no file to replace);
- a **symbolic link** is written through: its target gets the new content and the link stays a
  link (``/etc/letsencrypt/live``-style layouts keep working). The checks above apply to the
  target.

Then the outputs are written all or nothing: every new content goes to a temporary file in its
target's folder (mode set before the first byte: keys 0600, new public files 0644, an existing
file keeps its mode), then the temporaries are renamed over the targets one after another. If a
rename fails, the targets already renamed get their old content back (or are removed when they
did not exist), so a failed call leaves every file as it was. Files whose bytes would not change
are not touched at all.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

KEY_MODE = 0o600
PUBLIC_MODE = 0o644

#: An existing file larger than this is not a key (keys are a few KiB) and is not compared byte by byte.
_COMPARE_LIMIT = 16 * 1024 * 1024
_KEY_ARMOUR = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")


class WriteError(Exception):
    """An output that was refused or could not be written; nothing was changed. The message names the file and the fix."""


@dataclass
class Output:
    """One file a call wants to write."""

    path: str
    data: bytes
    label: str = ""  # the option that named it (``--chain-out``, ``chain_path``), for messages
    private: bool = False  # a private key: mode 0600, backups 0600
    replace: bool = False  # the caller decided this output may replace a protected file (e.g. regenerate_key)


@dataclass
class Planned:
    """An output after the checks: where it really goes and what is there now."""

    output: Output
    target: str  # the file written: ``output.path`` with symbolic links resolved
    before: bytes | None  # the current content (None: no file, or too large to compare)
    exists: bool
    mode: int
    protected: str | None = None  # why overwriting needs force ("holds a private key", "is an input")

    @property
    def path(self) -> str:
        return self.output.path

    @property
    def changed(self) -> bool:
        return self.before != self.output.data


@dataclass
class WriteResult:
    planned: list[Planned]
    written: list[str] = field(default_factory=list)  # paths (as given) whose content changed
    unchanged: list[str] = field(default_factory=list)
    backups: dict[str, str] = field(default_factory=dict)  # path (as given) -> backup copy


def _name(output: Output) -> str:
    return f"{output.path} ({output.label})" if output.label else output.path


def _identity(path: str) -> tuple[int, int] | str:
    """What makes two paths the same file: (device, inode) when it exists, else the resolved path."""
    try:
        info = os.stat(path)
        return (info.st_dev, info.st_ino)
    except OSError:
        return os.path.realpath(path)


def holds_private_key(data: bytes) -> bool:
    """``data`` holds a private key (PEM of any kind, OpenSSH, PGP, DER) or is an Ansible Vault file (may hold one)."""
    if _KEY_ARMOUR.search(data) or data.lstrip().startswith(b"$ANSIBLE_VAULT;"):
        return True
    if data[:1] != b"\x30":  # DER starts with a SEQUENCE
        return False
    from .material import read_bytes

    return read_bytes(data, "existing file").has_private_key


def _read_existing(path: str, name: str) -> bytes | None:
    """The current bytes of the regular file ``path``; None when it is larger than the comparison limit."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(_COMPARE_LIMIT + 1)
    except OSError as exc:
        raise WriteError(
            f"{name}: cannot read the existing file to make sure nothing is lost ({exc.strerror}); "
            "fix its permissions or choose another output"
        ) from None
    return None if len(data) > _COMPARE_LIMIT else data


def plan_outputs(
    outputs: Sequence[Output],
    *,
    inputs: Iterable[str] = (),
    force: bool = False,
    force_hint: str = "--force",
) -> list[Planned]:
    """Check every output (see the module docstring); raise ``WriteError`` for the first refused one."""
    input_ids = {}
    for path in inputs:
        if path:
            input_ids[_identity(path)] = path
    seen: dict[tuple[int, int] | str, Output] = {}
    planned: list[Planned] = []
    for output in outputs:
        name = _name(output)
        if not output.path or output.path.endswith(os.sep) or os.path.isdir(output.path):
            raise WriteError(f"{name} is a folder; give the path of a file in it")
        target = os.path.realpath(output.path)
        ident = _identity(target)
        if ident in seen:
            raise WriteError(
                f"{name} and {_name(seen[ident])} are the same file; the second write would lose the first. "
                "Give each output its own file"
            )
        seen[ident] = output
        folder = os.path.dirname(target)
        if not os.path.isdir(folder):
            shown = os.path.dirname(os.path.abspath(output.path))
            raise WriteError(f"{name}: the folder {shown} does not exist; create it first (mkdir -p {shown})")
        try:
            info: os.stat_result | None = os.stat(target)
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise WriteError(f"{name}: cannot use it as an output ({exc.strerror}); choose another path") from None
        if info is not None and not stat.S_ISREG(info.st_mode):
            from .inputs import file_kind

            raise WriteError(f"{name} is {file_kind(info.st_mode)}, not a regular file; choose a file path")
        before = _read_existing(target, name) if info is not None else None
        protected = None
        if info is not None and before != output.data:
            if ident in input_ids:
                protected = f"is an input of this command ({input_ids[ident]})"
            elif before is not None and holds_private_key(before):
                protected = "holds a private key"
            if protected and not (force or output.replace):
                fix = f", or use {force_hint} to replace it (a backup copy is kept)" if force_hint else ""
                raise WriteError(f"{name} {protected}; writing there would lose it. Choose another output file{fix}")
        if output.private:
            mode = KEY_MODE
        elif info is not None:
            mode = stat.S_IMODE(info.st_mode)
        else:
            mode = PUBLIC_MODE
        planned.append(Planned(output, target, before, info is not None, mode, protected))
    return planned


def backup_file(path: str, private: bool = False) -> str | None:
    """Copy ``path`` beside itself as ``path.<pid>.<YYYY-MM-DD@HH:MM:SS>~`` (Ansible's naming); return the copy's path.

    A copy that exists already (two backups within one second) gets a counter, never overwritten.
    """
    if not os.path.exists(path):
        return None
    stamp = time.strftime("%Y-%m-%d@%H:%M:%S")
    backup = f"{path}.{os.getpid()}.{stamp}~"
    counter = 1
    while os.path.lexists(backup):
        backup = f"{path}.{os.getpid()}.{stamp}.{counter}~"
        counter += 1
    if private:
        # Created 0600 before the first byte: the copy of a key is never readable by others.
        fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_MODE)
        with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
            shutil.copyfileobj(src, out)
        shutil.copystat(path, backup)
        os.chmod(backup, KEY_MODE)
    else:
        shutil.copy2(path, backup)
    return backup


def _temporary(target: str, data: bytes, mode: int, owner: tuple[int, int] | None) -> str:
    folder, base = os.path.split(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, mode)
        if owner is not None and os.geteuid() == 0:
            try:
                os.fchown(fd, *owner)
            except OSError:  # a file system without owners: the new file keeps ours
                pass
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _remove(tmp)
        raise
    return tmp


def _keep_old(target: str) -> str:
    """A hidden second name for the current ``target`` (a hard link, else a copy), to restore it on rollback."""
    folder, base = os.path.split(target)
    for _attempt in range(100):
        keep = os.path.join(folder, f".{base}.{secrets.token_hex(4)}.old")
        try:
            os.link(target, keep)
            return keep
        except FileExistsError:
            continue
        except OSError:
            break
    fd, keep = tempfile.mkstemp(prefix=f".{base}.", suffix=".old", dir=folder)
    os.close(fd)
    try:
        shutil.copy2(target, keep)
    except BaseException:
        _remove(keep)
        raise
    return keep


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.EPERM, errno.EACCES, errno.EROFS):
        return f"{exc.strerror}: the folder or the file is read-only or immutable"
    return exc.strerror or exc.__class__.__name__


def commit(planned: Sequence[Planned], *, backup: bool = False) -> WriteResult:
    """Write every changed output, all or nothing; back up protected files (and every changed file with ``backup``).

    Raises ``WriteError`` (nothing changed, temporaries removed) when any write fails.
    """
    result = WriteResult(list(planned))
    todo = [p for p in planned if p.changed]
    result.unchanged = [p.path for p in planned if not p.changed]
    temps: list[str] = []
    keeps: list[str | None] = []
    renamed = 0
    made_backups: list[str] = []
    current: Planned | None = None
    try:
        for item in todo:
            current = item
            owner = None
            if item.exists:
                info = os.stat(item.target)
                owner = (info.st_uid, info.st_gid)
            temps.append(_temporary(item.target, item.output.data, item.mode, owner))
        for item in todo:
            current = item
            # A replaced protected file and a replaced key are always copied first; other files on request.
            if item.exists and (backup or item.protected or item.output.private):
                private = item.output.private or item.protected == "holds a private key"
                copy = backup_file(item.target, private=private)
                if copy is not None:
                    made_backups.append(copy)
                    result.backups[item.path] = copy
            keeps.append(_keep_old(item.target) if item.exists else None)
        for index, item in enumerate(todo):
            current = item
            os.replace(temps[index], item.target)
            renamed += 1
    except BaseException as exc:
        # Roll back: the targets renamed so far get their old content back; nothing of this call is left.
        for index in range(renamed):
            keep = keeps[index] if index < len(keeps) else None
            try:
                if keep is not None:
                    os.replace(keep, todo[index].target)
                else:
                    os.unlink(todo[index].target)
            except OSError:
                pass
        for path in [*temps[renamed:], *[k for k in keeps if k is not None], *made_backups]:
            _remove(path)
        if not isinstance(exc, OSError):
            raise
        where = _name(current.output) if current is not None else "an output"
        raise WriteError(
            f"cannot write {where} ({_reason(exc)}); nothing was changed. "
            "Make the folder writable or choose another output"
        ) from None
    for keep in keeps:
        if keep is not None:
            _remove(keep)
    for folder in {os.path.dirname(p.target) for p in todo}:
        _sync_folder(folder)
    result.written = [p.path for p in todo]
    return result


def _sync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_outputs(
    outputs: Sequence[Output],
    *,
    inputs: Iterable[str] = (),
    force: bool = False,
    force_hint: str = "--force",
    backup: bool = False,
    check_mode: bool = False,
) -> WriteResult:
    """Check, then write ``outputs`` all or nothing (see the module docstring). ``check_mode``: check only."""
    planned = plan_outputs(outputs, inputs=inputs, force=force, force_hint=force_hint)
    if check_mode:
        result = WriteResult(planned)
        result.written = [p.path for p in planned if p.changed]
        result.unchanged = [p.path for p in planned if not p.changed]
        return result
    return commit(planned, backup=backup)


def write_report(path: str, text: str, *, inputs: Iterable[str] = (), label: str = "--output") -> None:
    """Write a report (``-o FILE``) atomically; never over a private key or an input. Raises ``WriteError``.

    Characters that cannot be encoded (a file name that is not UTF-8) are written as escapes, never a crash.
    """
    data = text.encode("utf-8", errors="backslashreplace")
    write_outputs([Output(path, data, label)], inputs=inputs, force_hint="")


def write_atomic(path: str, data: bytes, mode: int = PUBLIC_MODE) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename (no checks).

    For the tool's own files (the sandbox's state); user-facing outputs go through ``write_outputs``.
    """
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_optional(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
