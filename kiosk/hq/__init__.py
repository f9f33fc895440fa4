"""hq: the central collector every office's kiosk syncs to (``kiosk hq``).

Runs at the province or city office, not on a Pi: FastAPI over SQLAlchemy, SQLite in its
data directory by default, PostgreSQL by URL for many offices. Needs the ``hq`` extra
(``pip install 'gatehouse-kiosk[hq]'``).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from kiosk import invitations

log = logging.getLogger(__name__)

PURGE_EVERY_S = 6 * 3600
KEY_FILE = "hq-signing.key"


def database_url(explicit: str | None, data_dir: Path) -> str:
    """``--database``, else SQLite in the data directory (created if missing)."""
    if explicit:
        return explicit
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'hq.db'}"


def signing_key(path: Path) -> bytes:
    """Hq's invitation signing key, made on first start, readable by hq's user only.

    Kept out of the database: a leaked database backup must not let anyone mint invitations.
    """
    if path.exists():
        raw = path.read_bytes()
        if len(raw) != 32:
            raise ValueError(f"{path} is not a signing key (32 bytes): restore it from backup, "
                             f"or delete it to make a new one (old invitations stop working)")
        return raw
    path.parent.mkdir(parents=True, exist_ok=True)
    key = invitations.new_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
        out.flush()
        os.fsync(out.fileno())
    log.warning("made a new invitation signing key in %s: back it up", path)
    return key


def open_hq(url: str):
    from kiosk.hq.db import Hq, connect

    return Hq(connect(url))


def serve(url: str, *, key_file: Path, host: str, port: int, retention_days: int,
          certfile: str | None = None, keyfile: str | None = None) -> None:
    """Serve hq until interrupted, purging personal data past its retention every few hours."""
    import uvicorn

    from kiosk.hq.api import create_app

    hq = open_hq(url)
    key = signing_key(key_file)
    app = create_app(hq, signing_key=key)
    scheme = "https" if certfile else "http"
    print(f"hq on {scheme}://{host}:{port} ({hq.engine.url.render_as_string(hide_password=True)})"
          f"; invitation key to pin as sync.hq_key: {invitations.public_key(key)}", flush=True)
    stop = threading.Event()

    def purge_loop() -> None:
        while not stop.is_set():
            try:
                count = hq.purge(retention_days)
                if count:
                    log.warning("purged personal data from %d events older than %d days",
                                count, retention_days)
            except Exception:  # a database hiccup must not end the loop
                log.exception("purge failed; trying again later")
            stop.wait(PURGE_EVERY_S)

    threading.Thread(target=purge_loop, name="hq-purge", daemon=True).start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning",
                    ssl_certfile=certfile, ssl_keyfile=keyfile)
    finally:
        stop.set()
