"""Personal data sealed at rest: AES-256-GCM with a key kept in a file outside the database.

A copy of the SD card's database alone must not reveal who visited: guests' names, phones
and identity digits, invitations and watchlist entries, and every outbox payload are stored
as ``enc1:`` + base64(nonce + ciphertext). The 32-byte key is a file of its own (0600, by
default beside the database, on a Pi ``/etc/kiosk/data.key``), so it can be backed up apart
from the database and is not in a dump of it.

GCM needs a nonce that never repeats under one key: a random 96-bit one per value keeps the
chance of a repeat negligible for far more values than a kiosk ever writes. The empty string
stays empty, so a purged field reads as purged, not as a sealed nothing; a value without the
tag (a database from before sealing) is returned as it is, so old databases keep working
until the store seals them.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

TAG = "enc1:"
KEY_SIZE = 32
NONCE_SIZE = 12
LOCKED = "(terkunci)"  # what a sealed value reads as when the key is not there


class SealError(Exception):
    """A sealed value cannot be opened: it was sealed under another key, or it is damaged."""


class KeyUnavailable(Exception):
    """Personal data cannot be sealed or opened now; the message says what the admin does.

    The post keeps running without the key (lights and alarms need no personal data); only
    what stores or shows guests' details is refused, with this message.
    """


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(TAG)


class Sealer:
    """Seals and opens text values under one AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError(f"an AES-256 key is {KEY_SIZE} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, text: str) -> str:
        if not isinstance(text, str):
            raise TypeError(f"only text is sealed, not {type(text).__name__}")
        if text == "":
            return ""
        nonce = os.urandom(NONCE_SIZE)
        body = self._aead.encrypt(nonce, text.encode("utf-8"), None)
        return TAG + base64.b64encode(nonce + body).decode("ascii")

    def open(self, value: str) -> str:
        """The text of a sealed value; a value without the tag is returned as it is.

        Raises:
            SealError: sealed under another key, or damaged.
        """
        if not is_sealed(value):
            return value
        try:
            raw = base64.b64decode(value[len(TAG):], validate=True)
        except (binascii.Error, ValueError):
            raise SealError("a sealed value is damaged (not base64)") from None
        if len(raw) <= NONCE_SIZE:
            raise SealError("a sealed value is damaged (too short)")
        try:
            return self._aead.decrypt(raw[:NONCE_SIZE], raw[NONCE_SIZE:], None).decode("utf-8")
        except InvalidTag:
            raise SealError("a sealed value does not open with this key (another key, or "
                            "damaged)") from None


# -- the key file ---------------------------------------------------------------------------


def read_key(path: str | Path) -> bytes:
    """The key in ``path``.

    Raises:
        FileNotFoundError: there is no key file.
        ValueError: the file is not a key this kiosk can use, or others may read it; one line
            saying what to do.
    """
    path = Path(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"key file {path} is not a regular file: restore the kiosk's key "
                             "file from backup")
        if info.st_mode & 0o077:
            raise ValueError(f"key file {path} has mode {info.st_mode & 0o777:04o}, so other "
                             f"users may read it: run chmod 600 {path} and restart the core")
        key = os.read(fd, KEY_SIZE + 1)
    finally:
        os.close(fd)
    if len(key) != KEY_SIZE:
        raise ValueError(f"key file {path} holds {len(key)} bytes, not {KEY_SIZE}: restore the "
                         "kiosk's key file from backup")
    return key


def create_key(path: str | Path) -> bytes:
    """Write a new random key to ``path`` (0600), durably; never replaces an existing file.

    Raises:
        FileExistsError: a key file appeared meanwhile (read that one instead).
    """
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = os.urandom(KEY_SIZE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        written = os.write(fd, key)
        if written != KEY_SIZE:
            raise OSError(f"short write to {path}")
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return key


def load_key(path: str | Path, *, create: bool) -> bytes | None:
    """The key in ``path``; a new one if there is none and ``create``, else None.

    Raises:
        ValueError: the key file is unusable (see :func:`read_key`).
        OSError: the file cannot be read or made (permissions, read-only file system).
    """
    try:
        return read_key(path)
    except FileNotFoundError:
        if not create:
            return None
    try:
        return create_key(path)
    except FileExistsError:  # made by another process between the two calls
        return read_key(path)
