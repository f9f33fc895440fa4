"""The visit a guest is filling in, and the friendly checks on each field.

Checks return a locale key (``error.name_short``) rather than a sentence, so the message
beside the field follows the language toggle. They are deliberately lenient: the guard
sees the guest anyway, and an elderly guest stuck on a format rule is worse than a phone
number with a typo. The core validates again and has the last word.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_PARTY = 20
TEXT_FIELDS = ("name", "institution", "phone", "purpose", "host", "id_number")
# What the core's POST /api/v1/visits accepts (issue 4's contract), in the order asked.
VISIT_FIELDS = ("name", "institution", "phone", "purpose", "host", "party_size", "id_type",
                "id_number", "temperature_c", "temperature_source", "consent", "invitation")
NAME_CHARS = re.compile(r"^[^\W\d_][\w .,'\-/()]*$")
ID_CHARS = re.compile(r"^[A-Za-z0-9]+$")


@dataclass
class VisitDraft:
    """Everything typed or measured so far; dropped whole on inactivity."""

    name: str = ""
    institution: str = ""
    phone: str = ""
    purpose: str = ""
    host: str = ""
    party_size: int = 1
    id_type: str = ""
    id_number: str = ""
    temperature_c: float | None = None
    temperature_source: str | None = None  # "sensor" or "manual"
    temperature_ok: bool | None = None
    guard_token: str | None = field(default=None, repr=False)  # manual reading: who measured
    consent: bool = False
    code_kind: str | None = None  # "invitation" or "pass" when prefilled from a QR code
    invitation: str | None = None  # the invitation's code, sent with the visit

    def is_empty(self) -> bool:
        return self == VisitDraft()

    def prefill(self, values: dict[str, Any], id_types: tuple[str, ...]) -> None:
        """Copy what an invitation or a returning-guest pass knows; ignore the rest."""
        code = values.get("code")
        if values.get("kind") == "invitation" and isinstance(code, str) and len(code) <= 20:
            self.invitation = code
        for key in ("name", "institution", "phone", "purpose", "host"):
            value = values.get(key)
            if isinstance(value, str) and value.strip():
                setattr(self, key, value.strip()[:200])
        size = values.get("party_size")
        if isinstance(size, int) and not isinstance(size, bool) and 1 <= size <= MAX_PARTY:
            self.party_size = size
        if values.get("id_type") in id_types:
            self.id_type = values["id_type"]

    def payload(self) -> dict[str, Any]:
        """The body of ``POST /api/v1/visits``."""
        data = asdict(self)
        body = {key: data[key] for key in VISIT_FIELDS}
        for key in TEXT_FIELDS:
            body[key] = " ".join(body[key].split())
        body["phone"] = normalise_phone(body["phone"])
        body["id_number"] = body["id_number"].replace(" ", "").upper()
        return body


def normalise_phone(text: str) -> str:
    return re.sub(r"[\s\-().]", "", text)


def check_name(value: str) -> str | None:
    value = " ".join(value.split())
    if not value:
        return "error.name_empty"
    if len(value) < 3 or sum(c.isalpha() for c in value) < 2:
        return "error.name_short"
    if len(value) > 80:
        return "error.too_long"
    if not NAME_CHARS.match(value):
        return "error.name_chars"
    return None


def check_institution(value: str) -> str | None:
    value = " ".join(value.split())
    if not value:
        return "error.institution_empty"
    if len(value) < 2:
        return "error.institution_short"
    return "error.too_long" if len(value) > 100 else None


def check_phone(value: str) -> str | None:
    value = normalise_phone(value)
    if not value:
        return "error.phone_empty"
    digits = value[1:] if value.startswith("+") else value
    if not digits.isdigit():
        return "error.phone_format"
    if not (value.startswith("0") or value.startswith("+") or value.startswith("62")):
        return "error.phone_format"
    if not 9 <= len(digits) <= 15:
        return "error.phone_length"
    return None


def check_purpose(value: str) -> str | None:
    value = " ".join(value.split())
    if not value:
        return "error.purpose_empty"
    if len(value) < 3:
        return "error.purpose_short"
    return "error.too_long" if len(value) > 200 else None


def check_host(value: str) -> str | None:
    return None if value.strip() else "error.host_empty"


def check_party_size(value: int) -> str | None:
    return None if 1 <= value <= MAX_PARTY else "error.party_size"


def check_id_type(value: str, id_types: tuple[str, ...]) -> str | None:
    return None if value in id_types else "error.id_type_empty"


def check_id_number(value: str, id_type: str) -> str | None:
    value = value.replace(" ", "")
    if not value:
        return "error.id_number_empty"
    if id_type == "KTP":
        # The NIK on an e-KTP is exactly 16 digits.
        return None if value.isdigit() and len(value) == 16 else "error.nik_format"
    if not ID_CHARS.match(value):
        return "error.id_number_chars"
    if not 4 <= len(value) <= 30:
        return "error.id_number_length"
    return None


def numeric_id(id_type: str) -> bool:
    """Whether this document's number is digits only (a number pad is easier to type on)."""
    return id_type in ("KTP", "SIM")


def check_all(draft: VisitDraft, id_types: tuple[str, ...]) -> dict[str, str]:
    """Field name -> locale key of the first problem, for every field that has one."""
    found = {
        "name": check_name(draft.name),
        "institution": check_institution(draft.institution),
        "phone": check_phone(draft.phone),
        "purpose": check_purpose(draft.purpose),
        "host": check_host(draft.host),
        "party_size": check_party_size(draft.party_size),
        "id_type": check_id_type(draft.id_type, id_types),
        "id_number": check_id_number(draft.id_number, draft.id_type),
    }
    return {key: problem for key, problem in found.items() if problem}


def mask_id(value: str) -> str:
    """Show only the last four characters, as the core stores it (``•••• 1234``)."""
    value = value.replace(" ", "")
    if len(value) <= 4:
        return "•" * len(value)
    return "•" * min(len(value) - 4, 12) + " " + value[-4:]


def search_staff(staff: list[tuple[str, str]], query: str) -> list[tuple[str, str]]:
    """Staff ``(name, unit)`` whose name or unit holds every word typed, case-insensitive."""
    words = query.lower().split()
    if not words:
        return list(staff)
    return [(name, unit) for name, unit in staff
            if all(w in f"{name} {unit}".lower() for w in words)]
