"""Write a whole file or nothing, even across a power cut.

Writing a file in place and losing power halfway leaves it truncated or empty (on ext4 a
freshly written file can read back as zero bytes after a crash). So the data goes to a
temporary file in the same directory (a rename is only atomic within one filesystem), is
fsynced, renamed over the target, and the directory is fsynced so the rename itself survives.
A reader, or the next boot, sees either the old content or the new, never a mix.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: str | Path, data: bytes | str, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically and durably.

    Args:
        path: The file to write; its directory must exist.
        data: The new content; text is encoded as UTF-8.
        mode: Permission bits of the new file (private by default: the kiosk's files hold
            configuration and personal data).
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    fd, temp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise
    directory = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
