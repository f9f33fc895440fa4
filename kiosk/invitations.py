"""Signed invitations: made at hq, checked by the kiosk with no network.

A host creates an invitation at hq; the guest gets a QR code on their phone or on paper. The
district office's link may be down that morning, so the kiosk cannot ask hq whether the code
is real: hq signs the invitation with its Ed25519 key and every kiosk holds hq's public key
(pinned in the config, or learned over the authenticated sync), so the signature is checked
locally. Only the signature is trusted; the rest of the payload is untrusted input.

Payload: ``GK1:INV2:<base64url JSON>.<base64url signature>``, the JSON compact and with
short keys so the code stays small enough for a phone screen held at arm's length:
``{"c": code, "k": kiosk, "d": valid_on, "n": name, "i": institution, "h": host,
"p": purpose}``. An invitation is valid on its day only, at the one kiosk it names.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import secrets
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

PREFIX = "GK1:INV2:"
CODE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: typed by hand sometimes
MAX_PAYLOAD = 480  # the scan screen drops codes over 512 characters
FIELDS = {"c": "code", "k": "kiosk", "d": "valid_on", "n": "name", "i": "institution",
          "h": "host", "p": "purpose"}


class InvitationError(ValueError):
    """The payload is not a valid invitation; the message says why in one line."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def known_key(conn, settings) -> str | None:
    """Hq's public key: pinned in ``[sync] hq_key``, else as learned on a sync, else None."""
    if settings.sync.hq_key:
        return settings.sync.hq_key
    row = conn.execute("SELECT value FROM sync_state WHERE key = 'hq_key'").fetchone()
    return row[0] if row else None


def kiosk_name(conn, settings) -> str:
    """This kiosk's name at hq (learned on a sync), else the office's name from the config."""
    row = conn.execute("SELECT value FROM sync_state WHERE key = 'kiosk'").fetchone()
    return row[0] if row else settings.site.name


def new_key() -> bytes:
    """A new private signing key, as the 32 raw bytes hq keeps in its key file."""
    return Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw,
                                                      NoEncryption())


def public_key(private: bytes) -> str:
    """The public half of a raw private key, base64url: what kiosks pin in ``[sync] hq_key``."""
    key = Ed25519PrivateKey.from_private_bytes(private)
    return _b64(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def new_code() -> str:
    return "".join(secrets.choice(CODE_CHARS) for _ in range(12))


def sign(private: bytes, *, kiosk: str, valid_on: dt.date, name: str, institution: str,
         host: str, purpose: str, code: str | None = None) -> str:
    """The QR payload for one invitation."""
    body = {"c": code or new_code(), "k": kiosk, "d": valid_on.isoformat(), "n": name,
            "i": institution, "h": host, "p": purpose}
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    signature = Ed25519PrivateKey.from_private_bytes(private).sign(data)
    payload = f"{PREFIX}{_b64(data)}.{_b64(signature)}"
    if len(payload) > MAX_PAYLOAD:
        raise InvitationError(f"the invitation is too long for a QR code ({len(payload)} "
                              f"characters): shorten the name, institution or purpose")
    return payload


def verify(payload: str, hq_key: str) -> dict[str, Any]:
    """The invitation's fields if hq signed ``payload``; :class:`InvitationError` if not.

    Checks the signature only: whether it is for this kiosk and for today is the caller's
    business (it knows its name and its clock).
    """
    if not payload.upper().startswith(PREFIX):
        raise InvitationError("not a signed invitation")
    body, dot, signature = payload[len(PREFIX):].partition(".")
    if not dot:
        raise InvitationError("damaged invitation: the signature is missing")
    try:
        data, sig = _unb64(body), _unb64(signature)
        key = Ed25519PublicKey.from_public_bytes(_unb64(hq_key))
    except (binascii.Error, ValueError) as exc:
        raise InvitationError(f"damaged invitation: {exc}") from None
    try:
        key.verify(sig, data)
    except InvalidSignature:
        raise InvitationError("this invitation was not signed by hq") from None
    try:
        fields = json.loads(data)
    except ValueError:
        raise InvitationError("damaged invitation: not JSON") from None
    if not isinstance(fields, dict) or not all(isinstance(fields.get(k), str) for k in FIELDS):
        raise InvitationError("damaged invitation: a field is missing")
    found = {long: fields[short] for short, long in FIELDS.items()}
    try:
        dt.date.fromisoformat(found["valid_on"])
    except ValueError:
        raise InvitationError("damaged invitation: the date is not a date") from None
    found["code"] = found["code"].upper()
    return found
