"""The guard's registers (SOP 3-6): things lent out, vehicles at the gate, mail at the post.

These replace the paper books at the post: the loan book for office inventory and official
vehicles (SOP 3: every employee or outsider who borrows is confirmed and written down), the
gate book of vehicles in and out (SOP 4), and the book of letters and packages received and
handed on to the archive or to the addressee (SOP 5-6). What is still open in them is what
the next guard must take over at the handover, so :meth:`Registers.outstanding` gives it in
one call.

Every change is one transaction: the row, a logbook entry in Bahasa Indonesia (category
``register``) and an outbox event. The logbook is append-only and cannot be purged, so its
entries name the thing (item, plate, record number, unit) and never a person; the names the
paper books hold (borrower, driver, who took the mail) stay in the register rows.

Only the configured items and office vehicles can be lent, and a partial UNIQUE index lets
an asset be out on one loan at a time, so two guards lending the same projector at the same
moment get one loan and one refusal whatever the code does.

At the gate, each vehicle belongs somewhere: an office vehicle inside, any other vehicle
outside. A row is one excursion from there (a guest's car inside, an office car out on a
trip) and stays open until the vehicle is back where it belongs. When the guard records only
the second movement (the car came in before the shift, the trip out was not written down),
the row is closed at once with the first time unknown, so the register never blocks the gate.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

from kiosk.config.post import plate
from kiosk.store import Logbook
from kiosk.store.db import iso
from kiosk.watchlist import CONTROL, Conflict, Invalid, NotFound

CATEGORY = "register"
LOAN_KINDS = ("item", "vehicle")
MAIL_KINDS = {"letter": "Surat", "package": "Paket"}
DELIVERY = {"archive": "ke bagian arsip", "recipient": "kepada penerima"}
MAX_DAYS_LENT = 31
HISTORY_LIMIT = 500
# Open excursions; the same term is the partial index's WHERE, so SQLite can use it.
OPEN_VEHICLE = "((office = 0 AND out_at IS NULL) OR (office = 1 AND in_at IS NULL))"
INSIDE = "office = 0 AND out_at IS NULL"
AWAY = "office = 1 AND in_at IS NULL"


def _text(data, field: str, limit: int, en: str, id_: str, *, required: bool = True) -> str:
    """One free-text field, spaces collapsed; the message says what to write, in both languages."""
    value = data.get(field)
    text = " ".join(value.split()) if isinstance(value, str) else ""
    wrong_type = value is not None and not isinstance(value, str)
    if wrong_type or (required and not text) or len(text) > limit or CONTROL.search(text):
        raise Invalid(f"write {en} (up to {limit} characters)",
                      f"tulis {id_} (maksimal {limit} karakter)", field)
    return text


def _clock(stamp: str) -> str:
    """``"2026-11-22T09:15:00.000+07:00"`` -> ``"09.15"``: Indonesian writes times with a dot."""
    return stamp[11:16].replace(":", ".")


def _minutes(since: str, until: dt.datetime) -> int:
    return max(0, int((until - dt.datetime.fromisoformat(since)).total_seconds() // 60))


def _between(column: str) -> str:
    return f"(julianday({column}) >= julianday(?) AND julianday({column}) < julianday(?))"


class Registers:
    """The loan, gate and mail registers of one post.

    Args:
        store: the open store.
        settings: the validated config; ``settings.registers`` lists what can be lent.
        now: the injected clock.
    """

    def __init__(self, store, settings, *, now) -> None:
        self.store = store
        self.config = settings.registers
        self.retention_days = settings.visits.retention_days
        self.now = now
        self.logbook = Logbook(store)
        self._purged_on: dt.date | None = None

    # -- retention ---------------------------------------------------------------------------

    def check(self, now: dt.datetime) -> None:
        """Once a day, the gate book forgets guests' cars past the retention period."""
        if self._purged_on != now.date():
            self.purge(now)
            self._purged_on = now.date()

    def purge(self, now: dt.datetime) -> int:
        """Blank the plate, driver and purpose of guests' cars that left over N days ago.

        A guest's number plate and driver are personal data like their name (UU 27/2022);
        office vehicles and loans are the office's own records and are kept.
        """
        cutoff = iso(now - dt.timedelta(days=self.retention_days))
        with self.store.transaction() as conn:
            count = conn.execute(
                "UPDATE vehicle_log SET plate = '-', driver = '', purpose = '' WHERE office = 0 "
                "AND out_at IS NOT NULL AND julianday(out_at) < julianday(?) AND plate != '-'",
                (cutoff,)).rowcount
            if count:
                self.logbook.append(conn, category=CATEGORY, actor="system",
                                    text=f"Data {count} kendaraan tamu lebih dari "
                                         f"{self.retention_days} hari dihapus")
                self.store.emit(conn, "registers.purged", {"vehicles": count, "before": cutoff})
        return count

    # -- the handover summary ----------------------------------------------------------------

    def outstanding(self) -> dict[str, list[dict[str, Any]]]:
        """What is still open, for the guard taking over: read in one snapshot.

        ``packages`` holds every letter and package not yet handed on, oldest first.
        """
        with self.store.read():
            loans = self.loans(open_only=True)
            return {
                "items_lent": [loan for loan in loans if loan["kind"] == "item"],
                "vehicles_lent": [loan for loan in loans if loan["kind"] == "vehicle"],
                "vehicles_inside": self.vehicles(inside=True),
                "packages": self.mail(pending=True),
            }

    def assets(self) -> dict[str, list[dict[str, Any]]]:
        """The configured items and office vehicles with the loan or trip they are on now."""
        with self.store.read() as conn:
            lent = {(r["kind"], r["asset"]): r["id"] for r in conn.execute(
                "SELECT id, kind, asset FROM loans WHERE returned_at IS NULL")}
            away = {r["plate"]: r["id"] for r in conn.execute(
                f"SELECT id, plate FROM vehicle_log WHERE {AWAY}")}
        return {
            "items": [{"name": name, "loan_id": lent.get(("item", name))}
                      for name in self.config.items],
            "vehicles": [{"plate": number, "description": description,
                          "loan_id": lent.get(("vehicle", number)), "trip_id": away.get(number)}
                         for number, description in self.config.vehicles.items()],
        }

    # -- loans (SOP 3) -----------------------------------------------------------------------

    def lend(self, data, *, actor: str) -> dict[str, Any]:
        """Lend a configured item or office vehicle.

        Raises:
            Invalid: a field is wrong, or the asset is not in the config (the message lists
                the known ones). Conflict: the asset is already lent out.
        """
        kind = data.get("kind")
        if kind not in LOAN_KINDS:
            raise Invalid('kind is "item" or "vehicle"', 'kind harus "item" atau "vehicle"',
                          "kind")
        asset = self._asset(kind, data.get("asset"))
        borrower = _text(data, "borrower", 80, "the borrower's name", "nama peminjam")
        unit = _text(data, "unit", 80, "the borrower's unit or office",
                     "unit kerja atau instansi peminjam")
        purpose = _text(data, "purpose", 200, "what it is borrowed for", "keperluan peminjaman")
        now = self.now()
        due = self._due(data.get("expected_back_at"), now)
        with self.store.transaction() as conn:
            current = conn.execute("SELECT * FROM loans WHERE kind = ? AND asset = ? AND "
                                   "returned_at IS NULL", (kind, asset)).fetchone()
            if current is not None:
                raise Conflict(f"{asset} is already lent out (loan {current['id']} since "
                               f"{current['lent_at'][11:16]}, {current['unit']}): record its "
                               "return first", f"{asset} sedang dipinjam (peminjaman "
                               f"#{current['id']} sejak pukul {_clock(current['lent_at'])}, "
                               f"{current['unit']}): catat pengembaliannya dulu", "asset")
            try:
                loan_id = conn.execute(
                    "INSERT INTO loans (kind, asset, borrower, unit, purpose, expected_back_at, "
                    "lent_at, lent_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (kind, asset, borrower, unit, purpose, due, iso(now), actor)).lastrowid
            except sqlite3.IntegrityError as exc:  # another writer got there first
                if "UNIQUE" not in str(exc):
                    raise
                raise Conflict(f"{asset} is already lent out", f"{asset} sedang dipinjam",
                               "asset") from exc
            row = self._loan(conn, loan_id)
            words = f", rencana kembali {self._when(due, now)}" if due else ""
            self._record(conn, "loan.lent", row, actor,
                         f"Peminjaman #{loan_id}: {self._asset_words(row)} dipinjam oleh "
                         f"{unit}{words}")
            return self.loan_view(row, now)

    def return_loan(self, loan_id: int, data, *, actor: str) -> dict[str, Any]:
        """Record an asset back: its condition, and who received it (the guard by default).

        Raises:
            NotFound: no such loan. Conflict: it was already returned.
        """
        condition = _text(data, "condition", 200, "the condition it came back in",
                          "kondisi saat dikembalikan")
        received = _text(data, "received_by", 80, "who received it back",
                         "nama yang menerima kembali", required=False) or actor
        now = self.now()
        with self.store.transaction() as conn:
            row = self._loan(conn, loan_id)
            if row["returned_at"] is not None:
                raise Conflict(f"loan {loan_id} ({row['asset']}) was already returned at "
                               f"{row['returned_at'][11:16]}", f"peminjaman #{loan_id} "
                               f"({row['asset']}) sudah dikembalikan pukul "
                               f"{_clock(row['returned_at'])}")
            conn.execute("UPDATE loans SET returned_at = ?, condition = ?, received_by = ?, "
                         "return_recorded_by = ? WHERE id = ?",
                         (iso(now), condition, received, actor, loan_id))
            row = self._loan(conn, loan_id)
            self._record(conn, "loan.returned", row, actor,
                         f"Peminjaman #{loan_id} selesai: {self._asset_words(row)} dikembalikan"
                         f", kondisi: {condition}")
            return self.loan_view(row, now)

    def loan(self, loan_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            return self.loan_view(self._loan(conn, loan_id), self.now())

    def loans(self, *, open_only: bool = False, day: dt.date | None = None
              ) -> list[dict[str, Any]]:
        """Open loans (oldest first), or loans lent or returned on ``day`` (newest first).

        With both, the open loans lent or returned on that day; with neither, today's.
        """
        where, params = [], []
        if open_only:
            where.append("returned_at IS NULL")
        if day is not None or not open_only:
            where.append(f"({_between('lent_at')} OR {_between('returned_at')})")
            params += self._day(day) * 2  # the window, for each of the two columns
        order = "id" if open_only else "id DESC"
        now = self.now()
        with self.store.read() as conn:
            rows = conn.execute(f"SELECT * FROM loans WHERE {' AND '.join(where)} "
                                f"ORDER BY {order} LIMIT ?", (*params, HISTORY_LIMIT)).fetchall()
        return [self.loan_view(row, now) for row in rows]

    def loan_view(self, row, now: dt.datetime) -> dict[str, Any]:
        """A loan as the API shows it, with ``open`` and ``overdue`` worked out for ``now``."""
        out = dict(row)
        out["description"] = self.config.vehicles.get(row["asset"]) \
            if row["kind"] == "vehicle" else None
        out["open"] = row["returned_at"] is None
        out["overdue"] = out["open"] and row["expected_back_at"] is not None \
            and dt.datetime.fromisoformat(row["expected_back_at"]) < now
        return out

    def _asset(self, kind: str, value) -> str:
        """The configured name or plate the guard meant, or a message listing the real ones."""
        text = " ".join(value.split()) if isinstance(value, str) else ""
        if kind == "item":
            known = {name.casefold(): name for name in self.config.items}
            if not known:
                raise Invalid("no inventory items are configured: the admin lists them in "
                              "[registers] items", "belum ada barang inventaris di konfigurasi:"
                              " admin mengisinya di [registers] items", "asset")
            if text.casefold() not in known:
                names = ", ".join(self.config.items)
                raise Invalid(f"{text[:40]!r} is not an office item: the items are {names}",
                              f"{text[:40]!r} bukan barang inventaris: barang yang ada: {names}",
                              "asset")
            return known[text.casefold()]
        number = self._plate(value, "asset")
        if number not in self.config.vehicles:
            fleet = ", ".join(f"{p} ({d})" for p, d in self.config.vehicles.items())
            if not fleet:
                raise Invalid("no office vehicles are configured: the admin lists them in "
                              "[registers] vehicles", "belum ada kendaraan dinas di konfigurasi:"
                              " admin mengisinya di [registers] vehicles", "asset")
            raise Invalid(f"{number} is not an office vehicle: the office vehicles are {fleet}",
                          f"{number} bukan kendaraan dinas: kendaraan dinas yang ada: {fleet}",
                          "asset")
        return number

    def _asset_words(self, row) -> str:
        if row["kind"] == "vehicle":
            return f"kendaraan dinas {row['asset']} ({self.config.vehicles.get(row['asset'], '-')})"
        return row["asset"]

    def _due(self, value, now: dt.datetime) -> str | None:
        """The expected return time: later than now, within a month, in the site's zone."""
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                value = None
        if not isinstance(value, dt.datetime):
            raise Invalid("expected_back_at is a date and time, e.g. 2026-11-22T15:00",
                          "rencana kembali berupa tanggal dan jam, mis. 2026-11-22T15:00",
                          "expected_back_at")
        if value.tzinfo is None:
            value = value.replace(tzinfo=now.tzinfo)
        if not now < value <= now + dt.timedelta(days=MAX_DAYS_LENT):
            raise Invalid(f"the expected return must be later than now and within "
                          f"{MAX_DAYS_LENT} days", "rencana kembali harus setelah sekarang dan "
                          f"paling lama {MAX_DAYS_LENT} hari lagi", "expected_back_at")
        return iso(value.astimezone(now.tzinfo))

    @staticmethod
    def _when(stamp: str, now: dt.datetime) -> str:
        moment = dt.datetime.fromisoformat(stamp)
        day = "" if moment.date() == now.date() else f"{moment:%d-%m-%Y} "
        return f"{day}pukul {_clock(stamp)}"

    def _loan(self, conn, loan_id: int):
        row = conn.execute("SELECT * FROM loans WHERE id = ?", (loan_id,)).fetchone()
        if row is None:
            raise NotFound(f"no loan {loan_id}", f"peminjaman #{loan_id} tidak ada")
        return row

    # -- vehicles at the gate (SOP 4) --------------------------------------------------------

    def vehicle_in(self, data, *, actor: str) -> dict[str, Any]:
        """A vehicle comes through the gate: a guest's car arrives, an office car is back.

        Raises:
            Invalid: a malformed plate, or a missing driver or purpose for an arrival.
            Conflict: the vehicle is already recorded inside.
        """
        return self._move(data, "in", actor)

    def vehicle_out(self, data, *, actor: str) -> dict[str, Any]:
        """A vehicle goes out: a guest's car leaves, an office car starts a trip.

        Raises:
            Invalid: a malformed plate, a missing driver or destination for an office trip,
                or a ``loan_id`` that is not this vehicle's open loan.
            Conflict: the office vehicle is already recorded out.
        """
        return self._move(data, "out", actor)

    def close_vehicle(self, vehicle_id: int, direction: str, *, actor: str) -> dict[str, Any]:
        """End the excursion ``vehicle_id`` (tapped in the list): a car leaves, a trip ends.

        Raises:
            NotFound: no such entry. Conflict: it is closed, or goes the other way.
        """
        with self.store.transaction() as conn:
            row = self._vehicle(conn, vehicle_id)
            if self.vehicle_view(row)["status"] in ("left", "back"):
                raise Conflict(f"vehicle entry {vehicle_id} ({row['plate']}) is already closed",
                               f"catatan kendaraan #{vehicle_id} ({row['plate']}) sudah ditutup")
            return self._close(conn, row, direction, actor)

    def vehicle(self, vehicle_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            return self.vehicle_view(self._vehicle(conn, vehicle_id))

    def vehicles(self, *, inside: bool = False, away: bool = False,
                 day: dt.date | None = None) -> list[dict[str, Any]]:
        """Vehicles inside and/or office vehicles away (oldest first), or a day's traffic.

        A day's traffic is every entry with a movement on ``day``, newest first; without any
        argument, today's.
        """
        where, params = [], []
        if inside or away:
            where.append(OPEN_VEHICLE if inside and away else INSIDE if inside else AWAY)
        if day is not None or not (inside or away):
            where.append(f"({_between('in_at')} OR {_between('out_at')})")
            params += self._day(day) * 2  # the window, for each of the two columns
        order = "id" if inside or away else "id DESC"
        with self.store.read() as conn:
            rows = conn.execute(f"SELECT * FROM vehicle_log WHERE {' AND '.join(where)} "
                                f"ORDER BY {order} LIMIT ?", (*params, HISTORY_LIMIT)).fetchall()
        return [self.vehicle_view(row) for row in rows]

    def vehicle_view(self, row) -> dict[str, Any]:
        """An entry with its ``status``: inside/left for other vehicles, away/back for ours."""
        out = dict(row)
        out["office"] = bool(row["office"])
        if out["office"]:
            out["status"] = "away" if row["in_at"] is None else "back"
        else:
            out["status"] = "inside" if row["out_at"] is None else "left"
        out["description"] = self.config.vehicles.get(row["plate"]) if out["office"] else None
        return out

    def _move(self, data, direction: str, actor: str) -> dict[str, Any]:
        number = self._plate(data.get("plate"), "plate")
        with self.store.transaction() as conn:
            row = conn.execute(f"SELECT * FROM vehicle_log WHERE plate = ? AND {OPEN_VEHICLE}",
                               (number,)).fetchone()
            if row is not None:
                return self._close(conn, row, direction, actor)
            office = number in self.config.vehicles
            starts = direction == ("out" if office else "in")  # away from where it belongs
            driver = _text(data, "driver", 80, "the driver's name", "nama pengemudi",
                           required=starts)
            purpose = _text(data, "purpose", 200, "where it goes" if office else
                            "what it comes for", "tujuan" if office else "keperluan",
                            required=starts)
            loan_id = self._trip_loan(conn, number, office, data.get("loan_id"))
            stamp = iso(self.now())
            moved = (stamp, actor, None, None) if direction == "in" else (None, None, stamp, actor)
            vehicle_id = conn.execute(
                "INSERT INTO vehicle_log (plate, office, driver, purpose, loan_id, in_at, in_by, "
                "out_at, out_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (number, int(office), driver, purpose, loan_id, *moved)).lastrowid
            row = self._vehicle(conn, vehicle_id)
            what = f"Kendaraan dinas {number}" if office else f"Kendaraan {number}"
            verb = "masuk" if direction == "in" else "keluar"
            if starts:
                trip = f", tujuan: {purpose}" if office else ""
                tail = f"{trip} (catatan #{vehicle_id}"
            else:
                other = "keberangkatannya" if office else "kedatangannya"
                tail = f"; {other} tidak tercatat (catatan #{vehicle_id}"
            loan = f", peminjaman #{loan_id})" if loan_id else ")"
            self._record(conn, f"vehicle.{direction}", row, actor, f"{what} {verb}{tail}{loan}")
            return self.vehicle_view(row)

    def _close(self, conn, row, direction: str, actor: str) -> dict[str, Any]:
        """End an open excursion by the movement that brings the vehicle back where it belongs."""
        office = bool(row["office"])
        home = "in" if office else "out"
        since = row["out_at"] if office else row["in_at"]
        if direction != home:
            where, tempat = ("out", "di luar") if office else ("inside", "di dalam")
            raise Conflict(f"{row['plate']} is already recorded {where} since {since[11:16]} "
                           f"(entry {row['id']})", f"{row['plate']} sudah tercatat {tempat} "
                           f"sejak pukul {_clock(since)} (catatan #{row['id']})", "plate")
        stamp = iso(self.now())
        conn.execute(f"UPDATE vehicle_log SET {direction}_at = ?, {direction}_by = ? WHERE id = ?",
                     (stamp, actor, row["id"]))
        row = self._vehicle(conn, row["id"])
        if office:
            text = (f"Kendaraan dinas {row['plate']} kembali (catatan #{row['id']}, keluar pukul "
                    f"{_clock(since)})")
        else:
            text = (f"Kendaraan {row['plate']} keluar (catatan #{row['id']}, masuk pukul "
                    f"{_clock(since)})")
        self._record(conn, f"vehicle.{direction}", row, actor, text)
        return self.vehicle_view(row)

    def _trip_loan(self, conn, number: str, office: bool, loan_id) -> int | None:
        """The loan an office vehicle's trip belongs to: the one given, else its open loan."""
        if loan_id is not None and not office:
            raise Invalid(f"{number} is not an office vehicle: only those are lent",
                          f"{number} bukan kendaraan dinas: hanya kendaraan dinas yang dipinjam",
                          "loan_id")
        if not office:
            return None
        if loan_id is None:
            row = conn.execute("SELECT id FROM loans WHERE kind = 'vehicle' AND asset = ? AND "
                               "returned_at IS NULL", (number,)).fetchone()
            return row["id"] if row else None
        row = conn.execute("SELECT * FROM loans WHERE id = ?", (loan_id,)).fetchone()
        if row is None or row["kind"] != "vehicle" or row["asset"] != number \
                or row["returned_at"] is not None:
            raise Invalid(f"loan {loan_id} is not an open loan of {number}",
                          f"peminjaman #{loan_id} bukan peminjaman {number} yang masih berjalan",
                          "loan_id")
        return loan_id

    @staticmethod
    def _plate(value, field: str) -> str:
        found = plate(value) if isinstance(value, str) else None
        if found is None:
            shown = repr(value[:20]) if isinstance(value, str) else "that"
            raise Invalid(f"{shown} is not a number plate: write it as on the vehicle, e.g. "
                          "B 1234 XYZ (1-2 letters, 1-4 digits, up to 3 letters)",
                          f"{shown} bukan nomor polisi: tulis seperti pada pelat, mis. "
                          "B 1234 XYZ (1-2 huruf, 1-4 angka, maksimal 3 huruf)", field)
        return found

    def _vehicle(self, conn, vehicle_id: int):
        row = conn.execute("SELECT * FROM vehicle_log WHERE id = ?", (vehicle_id,)).fetchone()
        if row is None:
            raise NotFound(f"no vehicle entry {vehicle_id}",
                           f"catatan kendaraan #{vehicle_id} tidak ada")
        return row

    # -- mail and packages (SOP 5-6) ---------------------------------------------------------

    def receive_mail(self, data, *, actor: str) -> dict[str, Any]:
        """A letter or package left at the post; the guard on duty receives it."""
        kind = data.get("kind")
        if kind not in MAIL_KINDS:
            raise Invalid('kind is "letter" or "package"', 'kind harus "letter" atau "package"',
                          "kind")
        sender = _text(data, "sender", 100, "who sent it (office or company)",
                       "pengirim (instansi atau perusahaan)")
        addressee = _text(data, "addressee", 80, "who it is for", "ditujukan kepada siapa")
        description = _text(data, "description", 200, "a short description",
                            "keterangan singkat", required=False)
        with self.store.transaction() as conn:
            mail_id = conn.execute(
                "INSERT INTO mail (kind, sender, addressee, description, received_at, "
                "received_by) VALUES (?, ?, ?, ?, ?, ?)",
                (kind, sender, addressee, description, iso(self.now()), actor)).lastrowid
            row = self._mail(conn, mail_id)
            self._record(conn, "mail.received", row, actor,
                         f"{MAIL_KINDS[kind]} #{mail_id} diterima di pos jaga")
            return self.mail_view(row, self.now())

    def deliver_mail(self, mail_id: int, data, *, actor: str) -> dict[str, Any]:
        """Hand a letter or package to the archive or to its recipient, naming who took it.

        Raises:
            NotFound: no such mail. Conflict: it was already handed over.
        """
        to = data.get("to")
        if to not in DELIVERY:
            raise Invalid('to is "archive" or "recipient"', 'to harus "archive" atau "recipient"',
                          "to")
        taken_by = _text(data, "taken_by", 80, "the name of who took it",
                         "nama yang menerima")
        now = self.now()
        with self.store.transaction() as conn:
            row = self._mail(conn, mail_id)
            word = MAIL_KINDS[row["kind"]]
            if row["delivered_at"] is not None:
                raise Conflict(f"{row['kind']} {mail_id} was already handed over at "
                               f"{row['delivered_at'][11:16]}", f"{word} #{mail_id} sudah "
                               f"diserahkan pukul {_clock(row['delivered_at'])}")
            conn.execute("UPDATE mail SET delivered_at = ?, delivered_to = ?, taken_by = ?, "
                         "delivered_by = ? WHERE id = ?", (iso(now), to, taken_by, actor, mail_id))
            waited = _minutes(row["received_at"], now)
            row = self._mail(conn, mail_id)
            self._record(conn, "mail.delivered", row, actor,
                         f"{word} #{mail_id} diserahkan {DELIVERY[to]} setelah "
                         f"{waited // 60} jam {waited % 60} menit di pos")
            return self.mail_view(row, now)

    def mail_item(self, mail_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            return self.mail_view(self._mail(conn, mail_id), self.now())

    def mail(self, *, pending: bool = False, day: dt.date | None = None) -> list[dict[str, Any]]:
        """Mail not yet handed over (oldest first), or mail received on ``day`` (newest first)."""
        where, params = [], []
        if pending:
            where.append("delivered_at IS NULL")
        if day is not None or not pending:
            where.append(_between("received_at"))
            params += self._day(day)
        order = "id" if pending else "id DESC"
        now = self.now()
        with self.store.read() as conn:
            rows = conn.execute(f"SELECT * FROM mail WHERE {' AND '.join(where)} "
                                f"ORDER BY {order} LIMIT ?", (*params, HISTORY_LIMIT)).fetchall()
        return [self.mail_view(row, now) for row in rows]

    @staticmethod
    def mail_view(row, now: dt.datetime) -> dict[str, Any]:
        """Mail with ``pending`` and ``age_minutes``: how long it waited, or has waited so far."""
        out = dict(row)
        out["pending"] = row["delivered_at"] is None
        until = now if out["pending"] else dt.datetime.fromisoformat(row["delivered_at"])
        out["age_minutes"] = _minutes(row["received_at"], until)
        return out

    def _mail(self, conn, mail_id: int):
        row = conn.execute("SELECT * FROM mail WHERE id = ?", (mail_id,)).fetchone()
        if row is None:
            raise NotFound(f"no mail {mail_id}", f"surat/paket #{mail_id} tidak ada")
        return row

    # -- helpers -----------------------------------------------------------------------------

    def _day(self, day: dt.date | None) -> list[str]:
        now = self.now()
        start = dt.datetime.combine(day or now.date(), dt.time(), now.tzinfo)
        return [iso(start), iso(start + dt.timedelta(days=1))]

    def _record(self, conn, kind: str, row, actor: str, text: str) -> None:
        """The logbook line and the outbox event that go with every change, in its transaction."""
        self.logbook.append(conn, category=CATEGORY, actor=actor, text=text)
        self.store.emit(conn, kind, {**dict(row), "by": actor})
