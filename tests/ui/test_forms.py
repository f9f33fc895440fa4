"""The friendly checks beside each field, and what the kiosk sends and shows."""

import pytest

from kiosk.ui import forms
from kiosk.ui.forms import VisitDraft

ID_TYPES = ("KTP", "SIM", "Paspor", "Kartu pegawai", "Lainnya")


@pytest.mark.parametrize("check, value, problem", [
    (forms.check_name, "", "error.name_empty"),
    (forms.check_name, "B", "error.name_short"),
    (forms.check_name, "Budi Santoso", None),
    (forms.check_name, "I Gusti Ngurah Rai", None),
    (forms.check_name, "Siti Nur'aini", None),
    (forms.check_name, "1234", "error.name_short"),
    (forms.check_name, "x" * 81, "error.too_long"),
    (forms.check_phone, "", "error.phone_empty"),
    (forms.check_phone, "0812", "error.phone_length"),
    (forms.check_phone, "0812 3456 7890", None),
    (forms.check_phone, "+62 812-3456-7890", None),
    (forms.check_phone, "812345678", "error.phone_format"),
    (forms.check_phone, "08a2345678", "error.phone_format"),
    (forms.check_institution, "", "error.institution_empty"),
    (forms.check_institution, "Pribadi", None),
    (forms.check_purpose, "ok", "error.purpose_short"),
    (forms.check_host, " ", "error.host_empty"),
])
def test_checks(check, value, problem):
    assert check(value) == problem


@pytest.mark.parametrize("id_type, number, problem", [
    ("KTP", "3201012345678901", None),
    ("KTP", "3201 0123 4567 8901", None),
    ("KTP", "320101234567890", "error.nik_format"),
    ("KTP", "", "error.id_number_empty"),
    ("Paspor", "C1234567", None),
    ("Paspor", "C12", "error.id_number_length"),
    ("SIM", "1234-5678", "error.id_number_chars"),
])
def test_identity_numbers(id_type, number, problem):
    assert forms.check_id_number(number, id_type) == problem


def test_payload_is_the_contract_and_normalised():
    draft = VisitDraft(name="  Budi   Santoso ", institution="Dinas", phone="0812 3456-7890",
                       purpose="Rapat", host="Sekretaris", party_size=2, id_type="KTP",
                       id_number="3201 0123 4567 8901", temperature_c=36.6,
                       temperature_source="sensor", consent=True, guard_token="secret")
    body = draft.payload()
    assert set(body) == set(forms.VISIT_FIELDS)
    assert body["name"] == "Budi Santoso" and body["phone"] == "081234567890"
    assert body["id_number"] == "3201012345678901" and "guard_token" not in body
    assert "secret" not in repr(draft)


def test_prefill_takes_what_a_code_knows_and_nothing_else():
    draft = VisitDraft()
    draft.prefill({"kind": "invitation", "code": "K7QM3XW9PB2D", "name": "Siti Aminah",
                   "host": "Sekretaris", "party_size": 99, "id_type": "KTM", "badge": "x"},
                  ID_TYPES)
    assert draft.name == "Siti Aminah" and draft.host == "Sekretaris"
    assert draft.party_size == 1 and draft.id_type == "" and draft.invitation == "K7QM3XW9PB2D"
    assert forms.check_all(draft, ID_TYPES).keys() == {
        "institution", "phone", "purpose", "id_type", "id_number"}


def test_staff_search_matches_every_word_in_name_or_unit():
    staff = [("Ketua KPU", "Pimpinan"), ("Kasubbag Umum", "Subbagian Umum"),
             ("Kasubbag Teknis", "Subbagian Teknis")]
    assert forms.search_staff(staff, "kasub tek") == [("Kasubbag Teknis", "Subbagian Teknis")]
    assert forms.search_staff(staff, "umum") == [("Kasubbag Umum", "Subbagian Umum")]
    assert forms.search_staff(staff, "") == staff
