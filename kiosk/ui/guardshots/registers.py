"""The registers on a weekday afternoon: guests' cars in the yard, mail waiting at the post.

The simulator's config lends nothing (no ``[registers]`` items or office vehicles), so the
loans tab shows what a post sees before the admin lists its inventory, and the loan form
is pictured with its fields typed but no asset to pick. Cars and mail need no config.
"""

from __future__ import annotations

GUARD = "Petugas Simulasi"
CARS = (
    {"plate": "B 1234 XYZ", "driver": "Ahmad Fauzi", "purpose": "Antar dokumen ke Bagian Umum"},
    {"plate": "T 1456 KL", "driver": "Dedi Supriadi", "purpose": "Rapat koordinasi Bawaslu"},
    {"plate": "D 1789 ABC", "driver": "Rina Marlina",
     "purpose": "Servis AC ruang arsip (CV Sejuk Abadi)"},
)
MAIL = (
    {"kind": "letter", "sender": "Bawaslu Provinsi Jawa Barat", "addressee": "Ketua KPU"},
    {"kind": "package", "sender": "JNE Express", "addressee": "Ibu Ratna Dewi, Bagian Keuangan",
     "description": "Kardus kecil"},
    {"kind": "letter", "sender": "Kantor Pos Subang", "addressee": "Kasubbag Umum"},
)


def seed(core) -> None:
    """Cars inside and mail at the post, once per core (a later scene finds them there)."""
    registers = core.registers
    if not registers.vehicles(inside=True):
        for car in CARS:
            registers.vehicle_in(car, actor=GUARD)
    if not registers.mail(pending=True):
        for item in MAIL:
            registers.receive_mail(item, actor=GUARD)


def body(app):
    return app.screen("guard_registers").content


def tab(name: str):
    def scene(app, core):
        seed(core)
        app.go("guard_registers")
        body(app).show_tab(name)
        return 20
    return scene


def form(kind: str, typed: dict[str, str], current: str, **context):
    """The form ``kind`` with ``typed`` filled in (as the keys would), typing into ``current``."""
    def scene(app, core):
        seed(core)
        app.go("guard_registers")
        screen = body(app)
        if kind == "deliver":
            pending = core.registers.mail(pending=True)  # other scenes may have handed some
            context["item"] = pending[min(1, len(pending) - 1)]
        screen.open_form(kind, **context)
        for name, text in typed.items():
            screen.select(name)
            for char in text:
                screen.on_key("space" if char == " " else char)
        screen.select(current)
        return 20
    return scene


def refused(app, core):
    """A plate the core does not take: its words in the form's header, the field marked."""
    form("vehicle_in", {"plate": "12345", "driver": "Ahmad Fauzi", "purpose": "Antar dokumen"},
         "plate")(app, core)
    body(app).save()
    return 40


SCENES = {
    "guard-registers": tab("loans"),
    "guard-registers-vehicles": tab("vehicles"),
    "guard-registers-mail": tab("mail"),
    "guard-registers-new-loan": form("loan", {"borrower": "Rina Marlina",
                                              "unit": "Bagian Umum"}, "purpose"),
    "guard-registers-vehicle-in": form("vehicle_in", {"plate": "B 2719 TKR",
                                                      "driver": "Yusuf Hidaya"}, "driver"),
    "guard-registers-deliver": form("deliver", {"taken_by": "Ratna Dew"}, "taken_by",
                                    to="recipient"),
    "guard-registers-refused": refused,
}
