"""Realistic content shared by the panel's scenes: a few guests in the building."""

from __future__ import annotations

GUESTS = (
    ("Rahmat Hidayat", "Dinas Pendidikan", "Sekretaris", "3213010101800001", 36.6),
    ("Siti Nurhaliza Putri", "Bawaslu Kabupaten Subang", "Kasubbag Teknis", "3213010101800002",
     36.4),
    ("Andi Wijaya Kusuma", "PT Telkom Indonesia", "Kasubbag Umum", "3213010101800003", 38.1),
)


def seed_guests(core) -> list[dict]:
    """Register the guests once per core (a second scene finds them there)."""
    if core.visits.listing(on_site=True, full=False):
        return core.visits.listing(on_site=True, full=True)
    out = []
    for name, institution, host, nik, celsius in GUESTS:
        out.append(core.visits.register({
            "name": name, "institution": institution, "phone": "081234567890",
            "purpose": "Rapat koordinasi", "host": host, "party_size": 1, "id_type": "KTP",
            "id_number": nik, "temperature_c": celsius, "temperature_source": "sensor",
            "consent": True}))
    core.visits.admit(out[0]["id"], actor="Petugas Simulasi")
    return out
