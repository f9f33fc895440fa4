"""The ``[sync]`` section: where hq is, how the kiosk proves who it is, how often it syncs."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from kiosk.config.fields import Section

EVERY = re.compile(r"\s*(\d+)\s*(s|m|h)\s*")
UNITS = {"s": 1, "m": 60, "h": 3600}


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SyncSettings(Section):
    """Without ``url`` the kiosk keeps everything locally and never syncs ("" = not set).

    ``every`` is a number and a unit, ``"30s"``, ``"15m"`` or ``"2h"``. The token can be in
    the file itself (``token``) or, better on a Pi, in a file only the core's user reads
    (``token_file``, e.g. /etc/kiosk/hq.token, mode 0600). ``ca_file`` trusts a private CA
    for hq's certificate; ``hq_key`` pins hq's invitation-signing public key (otherwise it is
    learned on the first sync, over the authenticated connection).
    """

    url: str = ""
    token: str = Field("", repr=False)
    token_file: str = ""
    every: str = "15m"
    ca_file: str = ""
    hq_key: str = Field("", pattern=r"^([A-Za-z0-9_-]{43})?$")
    batch: int = Field(500, ge=1, le=1000)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f'{value!r} is not a URL: use "https://hq.example.go.id"')
        if parts.scheme == "http" and not _loopback(parts.hostname):
            raise ValueError(f"{value!r} would send tokens and guests' data unencrypted: use "
                             "https:// (http:// is only for hq on this machine)")
        return value.strip().rstrip("/")

    @field_validator("every")
    @classmethod
    def _every(cls, value: str) -> str:
        match = EVERY.fullmatch(value)
        if not match or not 10 <= int(match[1]) * UNITS[match[2]] <= 86400:
            raise ValueError(f'{value!r}: give a number and s, m or h, from "10s" to "24h", '
                             'e.g. "15m"')
        return value

    @model_validator(mode="after")
    def _one_token(self) -> SyncSettings:
        if self.token and self.token_file:
            raise ValueError("give token or token_file, not both")
        if self.token and len(self.token) < 16:
            raise ValueError("sync.token is too short to be a token from `kiosk hq add-kiosk`")
        if self.url and not (self.token or self.token_file):
            raise ValueError("sync.url is set but there is no token: set sync.token_file (the "
                             "file holding the token `kiosk hq add-kiosk NAME` printed)")
        return self

    @property
    def every_seconds(self) -> int:
        match = EVERY.fullmatch(self.every)
        return int(match[1]) * UNITS[match[2]]

    def read_token(self) -> str:
        """The token, from the config or its file; ValueError with the fix if unreadable."""
        if self.token:
            return self.token
        if not self.token_file:
            raise ValueError("no sync token: set sync.token_file")
        try:
            token = Path(self.token_file).read_text().strip()
        except OSError as exc:
            raise ValueError(f"cannot read sync.token_file {self.token_file}: "
                             f"{exc.strerror}") from None
        if len(token) < 16:
            raise ValueError(f"sync.token_file {self.token_file} holds no token: put in it the "
                             "last line `kiosk hq add-kiosk NAME` printed")
        return token
