"""files.write_outputs: the one writer every door uses. Nothing the user has is lost; all or nothing."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from certhygiene import files
from certhygiene.files import Output, WriteError, write_outputs, write_report
from support.pki import key, key_pem

KEY = key_pem(key("rsa", 2048, 80))
BACKUP_NAME = re.compile(r"\.\d+\.\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2}~$")


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.name: (p.read_bytes(), stat.S_IMODE(p.lstat().st_mode))
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.is_symlink()
    }


def test_new_files_get_their_modes_and_unchanged_files_are_not_touched(tmp_path: Path) -> None:
    cert, secret = tmp_path / "c.pem", tmp_path / "k.key"
    first = write_outputs([Output(str(cert), b"cert\n"), Output(str(secret), KEY, private=True)])
    assert first.written == [str(cert), str(secret)]
    assert stat.S_IMODE(cert.stat().st_mode) == 0o644 and stat.S_IMODE(secret.stat().st_mode) == 0o600
    mtime = cert.stat().st_mtime_ns
    again = write_outputs([Output(str(cert), b"cert\n")])
    assert again.unchanged == [str(cert)] and again.written == [] and cert.stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    "existing",
    [
        KEY,
        key_pem(key("ec", 256, 81), "sec1"),
        key_pem(key("rsa", 2048, 80), "pkcs8", b"secret"),
        key_pem(key("ec", 256, 81), "openssh"),
        b"$ANSIBLE_VAULT;1.1;AES256\n6162\n",
    ],
    ids=["pkcs8", "sec1", "encrypted", "openssh", "vault"],
)
def test_an_existing_private_key_is_never_overwritten_without_force(tmp_path: Path, existing: bytes) -> None:
    target = tmp_path / "server.key"
    target.write_bytes(existing)
    target.chmod(0o600)
    with pytest.raises(WriteError) as caught:
        write_outputs([Output(str(target), b"a certificate\n", "--chain-out")])
    message = str(caught.value)
    assert f"{target} (--chain-out) holds a private key" in message and "--force" in message
    assert target.read_bytes() == existing
    assert [p.name for p in tmp_path.iterdir()] == ["server.key"]  # no temporary left behind

    forced = write_outputs([Output(str(target), b"a certificate\n", "--chain-out")], force=True)
    assert target.read_bytes() == b"a certificate\n"
    copy = Path(forced.backups[str(target)])
    assert BACKUP_NAME.search(copy.name) and copy.name.startswith("server.key.")
    assert copy.read_bytes() == existing and stat.S_IMODE(copy.stat().st_mode) == 0o600


def test_a_der_private_key_is_recognised(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    der = key("rsa", 2048, 80).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "k.der").write_bytes(der)
    with pytest.raises(WriteError, match="holds a private key"):
        write_outputs([Output(str(tmp_path / "k.der"), b"x")])


def test_an_input_is_never_overwritten_without_force(tmp_path: Path) -> None:
    bundle = tmp_path / "b.pem"
    bundle.write_bytes(b"bundle\n")
    link = tmp_path / "alias.pem"
    link.symlink_to(bundle.name)
    for path in (bundle, link):
        with pytest.raises(WriteError, match=r"is an input of this command"):
            write_outputs([Output(str(path), b"leaf\n", "--cert-out")], inputs=[str(bundle)])
    assert bundle.read_bytes() == b"bundle\n"
    # The same bytes: nothing to write, nothing refused.
    assert write_outputs([Output(str(bundle), b"bundle\n")], inputs=[str(bundle)]).unchanged == [str(bundle)]
    forced = write_outputs([Output(str(bundle), b"leaf\n")], inputs=[str(bundle)], force=True)
    assert bundle.read_bytes() == b"leaf\n" and Path(forced.backups[str(bundle)]).read_bytes() == b"bundle\n"


def test_the_same_file_twice_is_refused_even_with_force(tmp_path: Path) -> None:
    (tmp_path / "real.pem").write_bytes(b"old\n")
    (tmp_path / "link.pem").symlink_to("real.pem")
    cases = [
        (tmp_path / "same.pem", tmp_path / "same.pem"),
        (tmp_path / "same.pem", tmp_path / "sub" / ".." / "same.pem"),
        (tmp_path / "real.pem", tmp_path / "link.pem"),
    ]
    (tmp_path / "sub").mkdir()
    for first, second in cases:
        with pytest.raises(WriteError, match="are the same file; the second write would lose the first"):
            write_outputs(
                [Output(str(first), b"1", "--cert-out"), Output(str(second), b"2", "--chain-out")], force=True
            )
    assert not (tmp_path / "same.pem").exists() and (tmp_path / "real.pem").read_bytes() == b"old\n"


def test_folders_special_files_and_missing_folders_are_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    cases = {
        str(tmp_path / "folder"): "is a folder; give the path of a file in it",
        str(tmp_path / "folder") + "/": "is a folder",
        str(tmp_path / "fifo"): "is a FIFO, not a regular file",
        "/dev/null": "is a character device, not a regular file",
        str(tmp_path / "missing" / "c.pem"): f"the folder {tmp_path / 'missing'} does not exist; create it first",
    }
    for path, message in cases.items():
        with pytest.raises(WriteError) as caught:
            write_outputs([Output(path, b"x", "--cert-out")], force=True)
        assert message in str(caught.value), path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "folder"]


def test_a_symbolic_link_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "cert1.pem").write_bytes(b"old\n")
    (tmp_path / "cert.pem").symlink_to("archive/cert1.pem")
    (tmp_path / "dangling.pem").symlink_to("archive/new.pem")
    write_outputs([Output(str(tmp_path / "cert.pem"), b"new\n"), Output(str(tmp_path / "dangling.pem"), b"n2\n")])
    assert (tmp_path / "cert.pem").is_symlink() and (tmp_path / "archive" / "cert1.pem").read_bytes() == b"new\n"
    assert (tmp_path / "dangling.pem").is_symlink() and (tmp_path / "archive" / "new.pem").read_bytes() == b"n2\n"
    # A link to a key is judged by its target.
    (tmp_path / "archive" / "privkey1.pem").write_bytes(KEY)
    (tmp_path / "privkey.pem").symlink_to("archive/privkey1.pem")
    with pytest.raises(WriteError, match="holds a private key"):
        write_outputs([Output(str(tmp_path / "privkey.pem"), b"cert\n")])


def test_a_failed_rename_puts_every_earlier_output_back(tmp_path: Path, immutable) -> None:
    """The second output cannot be replaced (immutable file): the first, already renamed, gets its old bytes back."""
    (tmp_path / "cert.pem").write_bytes(b"old cert\n")
    (tmp_path / "chain.pem").write_bytes(b"old chain\n")
    before = snapshot(tmp_path)
    immutable(tmp_path / "chain.pem")
    outputs = [
        Output(str(tmp_path / "new.pem"), b"brand new\n", "--root-out"),
        Output(str(tmp_path / "cert.pem"), b"new cert\n", "--cert-out"),
        Output(str(tmp_path / "chain.pem"), b"new chain\n", "--chain-out"),
    ]
    with pytest.raises(WriteError) as caught:
        write_outputs(outputs, backup=True)
    message = str(caught.value)
    assert f"cannot write {tmp_path / 'chain.pem'} (--chain-out)" in message and "nothing was changed" in message
    assert snapshot(tmp_path) == before  # no new file, no backup, no temporary, old content everywhere


def test_a_read_only_folder_changes_nothing(tmp_path: Path, immutable) -> None:
    good, locked = tmp_path / "good", tmp_path / "locked"
    good.mkdir()
    locked.mkdir()
    (good / "cert.pem").write_bytes(b"old\n")
    immutable(locked)
    with pytest.raises(
        WriteError, match=r"cannot write .*locked/chain.pem .*read-only or immutable.*nothing was changed"
    ):
        write_outputs([Output(str(good / "cert.pem"), b"new\n"), Output(str(locked / "chain.pem"), b"chain\n")])
    assert snapshot(good) == {"cert.pem": (b"old\n", 0o644)} and list(locked.iterdir()) == []


def test_an_existing_file_keeps_its_mode_and_a_key_is_always_0600(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_bytes(b"old\n")
    (tmp_path / "c.pem").chmod(0o640)
    (tmp_path / "k.key").write_bytes(b"not a key yet\n")
    (tmp_path / "k.key").chmod(0o644)
    result = write_outputs(
        [Output(str(tmp_path / "c.pem"), b"new\n"), Output(str(tmp_path / "k.key"), KEY, private=True, replace=True)]
    )
    assert stat.S_IMODE((tmp_path / "c.pem").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "k.key").stat().st_mode) == 0o600
    # A replaced key output is always backed up, 0600.
    copy = Path(result.backups[str(tmp_path / "k.key")])
    assert copy.read_bytes() == b"not a key yet\n" and stat.S_IMODE(copy.stat().st_mode) == 0o600


def test_check_mode_writes_nothing_but_refuses_the_same(tmp_path: Path) -> None:
    (tmp_path / "k.key").write_bytes(KEY)
    with pytest.raises(WriteError, match="holds a private key"):
        write_outputs([Output(str(tmp_path / "k.key"), b"x")], check_mode=True)
    planned = write_outputs([Output(str(tmp_path / "new.pem"), b"x")], check_mode=True)
    assert planned.written == [str(tmp_path / "new.pem")] and not (tmp_path / "new.pem").exists()


def test_a_report_is_atomic_never_over_a_key_and_survives_non_utf8_names(tmp_path: Path, immutable) -> None:
    report = tmp_path / "report.txt"
    report.write_text("old report\n")
    write_report(str(report), "bad\udcff.crt: error\n")
    assert report.read_bytes() == b"bad\\udcff.crt: error\n"
    (tmp_path / "server.key").write_bytes(KEY)
    with pytest.raises(WriteError) as caught:
        write_report(str(tmp_path / "server.key"), "report\n")
    assert "holds a private key" in str(caught.value) and "--force" not in str(caught.value)
    immutable(tmp_path)
    with pytest.raises(WriteError, match="nothing was changed"):
        write_report(str(report), "new report\n")
    assert report.read_bytes() == b"bad\\udcff.crt: error\n"


def test_backups_within_one_second_never_overwrite_each_other(tmp_path: Path) -> None:
    (tmp_path / "a.pem").write_bytes(b"1")
    first = files.backup_file(str(tmp_path / "a.pem"))
    (tmp_path / "a.pem").write_bytes(b"2")
    second = files.backup_file(str(tmp_path / "a.pem"))
    assert first != second and Path(first or "").read_bytes() == b"1" and Path(second or "").read_bytes() == b"2"
