"""Patrol rounds (SOP 13): start a round, scan the checkpoints on the route, finish it.

The tasks module draws each night's patrols at random times (tasks of kind ``patrol``). A
guard starting a round gets it linked to the patrol due now, so finishing the round is what
marks that patrol done; a round started when no patrol is due (or asked for as such) is an
extra round, recorded the same way. A printed QR code at each checkpoint (payload
``GK1:CP:<id>``) proves the guard was there and when; the round keeps the route as it was
configured at its start, so it can say afterwards which checkpoints were missed.

A patrol nobody started before its grace time ran out is flagged once by :meth:`check`, which
the core's loop calls: a guard alert, a logbook line, an outbox event. The flag is a row in
``patrol_missed``, so a restart does not raise it again. Only patrols due after the kiosk
first watched for missed ones (a marker in ``meta``) and overdue within the last two days
count: a fresh install, or one upgraded with months of history, must not wake up to alerts
about nights nobody was told to patrol.

Scanned payloads are untrusted input (anything a QR code can hold): they are length-checked,
refused with control characters, and must name a checkpoint on the round's route.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from kiosk.store import Logbook
from kiosk.store.db import iso
from kiosk.tasks import NOON, record_done
from kiosk.watchlist import CONTROL, MAX_LOG, Conflict, Invalid, NotFound

PREFIX = "GK1:CP:"
CHECKPOINT_ID = re.compile(r"[a-z0-9_-]{1,40}")
MAX_PAYLOAD = 512
LOOKBACK = dt.timedelta(days=2)
WATCH_KEY = "patrols.watch_since"
EXTRA_TITLE = ("Patroli tambahan", "Extra patrol")


def payload(checkpoint_id: str) -> str:
    """What a checkpoint's QR code holds."""
    return PREFIX + checkpoint_id


def parse_payload(text: object) -> str:
    """The checkpoint id in a scanned code.

    Raises:
        Invalid: not a checkpoint code, too long, control characters or a malformed id.
    """
    if not isinstance(text, str):
        raise Invalid("the scanned code must be text", "kode yang dipindai harus teks",
                      "payload")
    if len(text) > MAX_PAYLOAD:
        raise Invalid(f"code too long ({len(text)} characters): not a checkpoint code",
                      "kode terlalu panjang: bukan kode titik patroli", "payload")
    text = text.strip()  # a scanner's line ending is not part of the code
    if CONTROL.search(text):
        raise Invalid("code contains control characters: scan again",
                      "kode berisi karakter kontrol: pindai ulang", "payload")
    if not text.upper().startswith(PREFIX):
        raise Invalid("not a checkpoint code: scan the QR code at the checkpoint",
                      "bukan kode titik patroli: pindai kode QR di titik pemeriksaan", "payload")
    checkpoint_id = text[len(PREFIX):].lower()
    if not CHECKPOINT_ID.fullmatch(checkpoint_id):
        raise Invalid("damaged checkpoint code: scan again or report the code",
                      "kode titik patroli rusak: pindai ulang atau laporkan", "payload")
    return checkpoint_id


def night_start(now: dt.datetime) -> dt.datetime:
    """The noon that began the night ``now`` belongs to, as the tasks module counts nights."""
    noon = dt.datetime.combine(now.date(), NOON, now.tzinfo)
    return noon if now >= noon else noon - dt.timedelta(days=1)


class Patrols:
    """Patrol rounds; each change is one transaction with its logbook line and outbox event.

    Args:
        store: the open store.
        settings: the whole config; ``tasks.patrols`` is used.
        now: the injected clock.
        alerts: :class:`kiosk.watchlist.Alerts`, for missed patrols.
    """

    def __init__(self, store, settings, *, now, alerts) -> None:
        self.store = store
        self.settings = settings.tasks.patrols
        self.now = now
        self.alerts = alerts
        self.logbook = Logbook(store)
        self._watch_since: dt.datetime | None = None
        # From the first moment to the second, no patrol can be missed: check() returns at once.
        self._quiet: tuple[dt.datetime, dt.datetime] | None = None

    def checkpoints(self) -> list[dict[str, str]]:
        return [{"id": c.id, "name": c.name, "payload": payload(c.id)}
                for c in self.settings.checkpoints]

    # -- a round -----------------------------------------------------------------------------

    def start(self, *, actor: str, task_id: str | None = None,
              extra: bool = False) -> dict[str, Any]:
        """Start a round: for ``task_id``, else for the patrol due now, else an extra round.

        Raises:
            Conflict: a round is still open, or the named patrol is done, taken or not due.
            NotFound: ``task_id`` is not a patrol task.
            Invalid: both ``task_id`` and ``extra``.
        """
        if task_id is not None and extra:
            raise Invalid("an extra round is not linked to a patrol: leave task_id out",
                          "patroli tambahan tidak terkait jadwal: kosongkan task_id", "task_id")
        now = self.now()
        with self.store.transaction() as conn:
            still_open = conn.execute("SELECT id, started_by FROM patrol_rounds WHERE "
                                      "finished_at IS NULL ORDER BY id LIMIT 1").fetchone()
            if still_open is not None:
                raise Conflict(f"round {still_open['id']} ({still_open['started_by']}) is still "
                               "open: finish it first",
                               f"ronde #{still_open['id']} ({still_open['started_by']}) masih "
                               "berjalan: selesaikan dulu")
            if task_id is not None:
                task = self._named_task(conn, task_id, now)
            else:
                task = None if extra else self._task_due(conn, now)
            route = [{"id": c.id, "name": c.name} for c in self.settings.checkpoints]
            round_id = conn.execute(
                "INSERT INTO patrol_rounds (task_id, route, started_at, started_by) "
                "VALUES (?, ?, ?, ?)",
                (task["id"] if task else None, json.dumps(route, ensure_ascii=False), iso(now),
                 actor)).lastrowid
            title = task["title_id"] if task else EXTRA_TITLE[0]
            self.logbook.append(conn, category="patroli", actor=actor,
                                text=f"{title} dimulai (ronde #{round_id}, "
                                     f"{len(route)} titik pemeriksaan)")
            self.store.emit(conn, "patrol.started", {
                "id": round_id, "task_id": task["id"] if task else None, "by": actor,
                "at": iso(now), "route": route})
            return self._view(conn, self._row(conn, round_id))

    def scan(self, round_id: int, code: object, *, actor: str) -> dict[str, Any]:
        """Record a checkpoint of the round; a second scan keeps the first time.

        Returns the round, with ``checkpoint`` (the one scanned, ``again`` if it was already).

        Raises:
            Invalid: not a well-formed checkpoint code. NotFound: no such round, or the
                checkpoint is not on its route. Conflict: the round is finished.
        """
        checkpoint_id = parse_payload(code)
        now = self.now()
        with self.store.transaction() as conn:
            row = self._row(conn, round_id)
            if row["finished_at"]:
                raise Conflict(f"round {round_id} is finished: start a new one",
                               f"ronde #{round_id} sudah selesai: mulai ronde baru")
            spot = next((c for c in json.loads(row["route"]) if c["id"] == checkpoint_id), None)
            if spot is None:
                raise NotFound(f"checkpoint {checkpoint_id!r} is not on this post's patrol route",
                               f"titik {checkpoint_id!r} tidak ada di rute patroli pos ini",
                               "payload")
            before = conn.execute("SELECT 1 FROM patrol_scans WHERE round_id = ? AND "
                                  "checkpoint_id = ?", (round_id, checkpoint_id)).fetchone()
            if before is None:
                conn.execute("INSERT INTO patrol_scans (round_id, checkpoint_id, scanned_at, "
                             "scanned_by) VALUES (?, ?, ?, ?)",
                             (round_id, checkpoint_id, iso(now), actor))
                self.store.emit(conn, "patrol.checkpoint", {
                    "round_id": round_id, "checkpoint": checkpoint_id, "by": actor,
                    "at": iso(now)})
            out = self._view(conn, row)
        out["checkpoint"] = {**next(c for c in out["checkpoints"] if c["id"] == checkpoint_id),
                             "again": before is not None}
        return out

    def finish(self, round_id: int, *, actor: str, note: str | None = None) -> dict[str, Any]:
        """Finish the round and mark its patrol done.

        The patrol counts as late only when the round started after the grace time: the
        grace is for starting (tasks.patrols.grace_minutes), and a round takes time to walk.

        Raises:
            NotFound: no such round. Conflict: already finished. Invalid: note too long.
        """
        note = " ".join(note.split()) if note else None
        if note and (len(note) > 500 or CONTROL.search(note)):
            raise Invalid("the note is at most 500 characters of text",
                          "catatan maksimal 500 karakter", "note")
        now = self.now()
        with self.store.transaction() as conn:
            row = self._row(conn, round_id)
            if row["finished_at"]:
                raise Conflict(f"round {round_id} was already finished at "
                               f"{row['finished_at'][11:16]}",
                               f"ronde #{round_id} sudah selesai pukul {row['finished_at'][11:16]}")
            conn.execute("UPDATE patrol_rounds SET finished_at = ?, finished_by = ?, note = ? "
                         "WHERE id = ?", (iso(now), actor, note, round_id))
            if row["task_id"]:
                self._complete_task(conn, row["task_id"], actor, row["started_at"], now)
            out = self._view(conn, self._row(conn, round_id))
            text = (f"Ronde patroli #{round_id} ({out['title_id']}) selesai: "
                    f"{len(out['visited'])} dari {len(out['checkpoints'])} titik diperiksa")
            if out["missed"]:
                text += "; terlewat: " + ", ".join(c["name"] for c in out["missed"])
            if note:
                text += f". Catatan: {note}"
            self.logbook.append(conn, category="patroli", actor=actor, text=text[:MAX_LOG])
            self.store.emit(conn, "patrol.finished", {
                "id": round_id, "task_id": row["task_id"], "by": actor, "at": iso(now),
                "visited": [{"id": c["id"], "at": c["scanned_at"]} for c in out["visited"]],
                "missed": [c["id"] for c in out["missed"]], "note": note})
        return out

    def get(self, round_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            return self._view(conn, self._row(conn, round_id))

    def listing(self, day: dt.date | None = None) -> list[dict[str, Any]]:
        """Rounds started on ``day`` (the site's calendar day, default today), oldest first."""
        now = self.now()
        start = dt.datetime.combine(day or now.date(), dt.time(), now.tzinfo)
        with self.store.read() as conn:
            rows = conn.execute(
                f"{ROUND_SELECT} WHERE julianday(r.started_at) >= julianday(?) AND "
                "julianday(r.started_at) < julianday(?) ORDER BY r.id",
                (iso(start), iso(start + dt.timedelta(days=1)))).fetchall()
            return [self._view(conn, row) for row in rows]

    # -- missed patrols ----------------------------------------------------------------------

    def check(self, now: dt.datetime | None = None) -> int:
        """Flag patrols whose grace ran out with no round; returns how many were flagged.

        The core's loop calls this twice a second, but a patrol can only be missed when its
        grace runs out, and new patrols appear only when the core plans a day, at its first
        tick after midnight. So each look notes the next such moment, and the ticks before it
        return without reading the store. A clock set back looks again.
        """
        now = now or self.now()
        if self._quiet is not None and self._quiet[0] <= now < self._quiet[1]:
            return 0
        since = self._watching_since(now)
        with self.store.read() as conn:
            rows = conn.execute(MISSED_SELECT, ((now - LOOKBACK).date().isoformat(),)).fetchall()
        overdue = [dt.datetime.fromisoformat(row["overdue_at"]) for row in rows]
        candidates = [row for row, at in zip(rows, overdue, strict=True)
                      if now - LOOKBACK <= at <= now
                      and dt.datetime.fromisoformat(row["due_at"]) >= since]
        flagged = 0
        if candidates:
            with self.store.transaction() as conn:
                for row in candidates:
                    # Again under the write lock: a round may have started since the read.
                    if conn.execute(f"{MISSED_SELECT} AND t.id = ?",
                                    (row["day"], row["id"])).fetchone() is None:
                        continue
                    due = dt.datetime.fromisoformat(row["due_at"]).astimezone(now.tzinfo)
                    text = (f"{row['title_id']} (jadwal {due:%d-%m %H:%M}) terlewat: belum ada "
                            f"ronde patroli sampai batas {row['overdue_at'][11:16]}")
                    alert_id = self.alerts.add(conn, "patrol_missed", text)
                    conn.execute("INSERT INTO patrol_missed (task_id, flagged_at, alert_id) "
                                 "VALUES (?, ?, ?)", (row["id"], iso(now), alert_id))
                    self.logbook.append(conn, category="patroli", actor="system", text=text)
                    self.store.emit(conn, "patrol.missed", {"task_id": row["id"],
                                                            "due_at": row["due_at"],
                                                            "alert_id": alert_id, "at": iso(now)})
                    flagged += 1
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), now.tzinfo)
        self._quiet = (now, min([midnight, *(at for at in overdue if at > now)]))
        return flagged

    # -- helpers -----------------------------------------------------------------------------

    def _watching_since(self, now: dt.datetime) -> dt.datetime:
        """When this kiosk began to flag missed patrols: kept in ``meta`` from the first check."""
        if self._watch_since is None:
            with self.store.transaction() as conn:
                row = conn.execute("SELECT value FROM meta WHERE key = ?",
                                   (WATCH_KEY,)).fetchone()
                if row is None:
                    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)",
                                 (WATCH_KEY, iso(now)))
                self._watch_since = dt.datetime.fromisoformat(row["value"] if row else iso(now))
        return self._watch_since

    def _task_due(self, conn, now: dt.datetime):
        """The patrol to link a round to: the one due now, else tonight's latest overdue one.

        An overdue patrol is still worth walking late, but last night's is not tonight's
        business: it stays for the guard to pick by id.
        """
        rows = [row for row in conn.execute(OPEN_PATROLS, ((now.date() - dt.timedelta(days=1))
                                                           .isoformat(),))
                if dt.datetime.fromisoformat(row["due_at"]) <= now]
        due = [r for r in rows if now < dt.datetime.fromisoformat(r["overdue_at"])]
        if due:
            return min(due, key=lambda r: dt.datetime.fromisoformat(r["due_at"]))
        tonight = [r for r in rows if dt.datetime.fromisoformat(r["due_at"]) >= night_start(now)]
        return max(tonight, key=lambda r: dt.datetime.fromisoformat(r["due_at"]), default=None)

    def _named_task(self, conn, task_id: str, now: dt.datetime):
        task = conn.execute("SELECT * FROM tasks WHERE id = ? AND kind = 'patrol'",
                            (task_id,)).fetchone()
        if task is None:
            raise NotFound(f"no patrol {task_id[:80]!r}", f"patroli {task_id[:80]!r} tidak ada",
                           "task_id")
        if task["done_at"]:
            raise Conflict(f"{task['title_en']} is already done",
                           f"{task['title_id']} sudah selesai", "task_id")
        taken = conn.execute("SELECT id FROM patrol_rounds WHERE task_id = ?",
                             (task_id,)).fetchone()
        if taken is not None:
            raise Conflict(f"{task['title_en']} already has round {taken['id']}",
                           f"{task['title_id']} sudah punya ronde #{taken['id']}", "task_id")
        due = dt.datetime.fromisoformat(task["due_at"])
        if due > now:
            at = due.astimezone(now.tzinfo)
            raise Conflict(f"{task['title_en']} is due at {at:%H:%M}: start an extra round "
                           "before then", f"{task['title_id']} dijadwalkan pukul {at:%H:%M}: "
                           "sebelum itu mulai patroli tambahan", "task_id")
        return task

    def _complete_task(self, conn, task_id: str, actor: str, started_at: str,
                       now: dt.datetime) -> None:
        """Mark the patrol done, late only if the round began after the overdue time."""
        task = conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if task is not None:
            record_done(self.store, conn, task, actor=actor, now=now,
                        begun=dt.datetime.fromisoformat(started_at))

    def _row(self, conn, round_id: int):
        row = conn.execute(f"{ROUND_SELECT} WHERE r.id = ?", (round_id,)).fetchone()
        if row is None:
            raise NotFound(f"no patrol round {round_id}", f"ronde patroli #{round_id} tidak ada")
        return row

    @staticmethod
    def _view(conn, row) -> dict[str, Any]:
        """A round as the API shows it; ``missed`` is what is not scanned (yet, if open)."""
        scans = {s["checkpoint_id"]: s for s in conn.execute(
            "SELECT * FROM patrol_scans WHERE round_id = ?", (row["id"],))}
        checkpoints = []
        for spot in json.loads(row["route"]):
            scan = scans.get(spot["id"])
            checkpoints.append({"id": spot["id"], "name": spot["name"],
                                "scanned_at": scan["scanned_at"] if scan else None,
                                "scanned_by": scan["scanned_by"] if scan else None})
        visited = sorted((c for c in checkpoints if c["scanned_at"]),
                         key=lambda c: dt.datetime.fromisoformat(c["scanned_at"]))
        return {
            "id": row["id"], "task_id": row["task_id"],
            "title_id": row["title_id"] or EXTRA_TITLE[0],
            "title_en": row["title_en"] or EXTRA_TITLE[1],
            "status": "finished" if row["finished_at"] else "open",
            "started_at": row["started_at"], "started_by": row["started_by"],
            "finished_at": row["finished_at"], "finished_by": row["finished_by"],
            "note": row["note"], "checkpoints": checkpoints, "visited": visited,
            "missed": [{"id": c["id"], "name": c["name"]} for c in checkpoints
                       if not c["scanned_at"]],
        }


ROUND_SELECT = ("SELECT r.*, t.title_id, t.title_en FROM patrol_rounds r "
                "LEFT JOIN tasks t ON t.id = r.task_id")
# Patrol tasks not done and with no round; ``day`` is where to start looking.
OPEN_PATROLS = ("SELECT t.* FROM tasks t WHERE t.kind = 'patrol' AND t.done_at IS NULL "
                "AND t.day >= ? AND NOT EXISTS (SELECT 1 FROM patrol_rounds r "
                "WHERE r.task_id = t.id)")
MISSED_SELECT = (f"{OPEN_PATROLS} AND NOT EXISTS (SELECT 1 FROM patrol_missed m "
                 "WHERE m.task_id = t.id)")


def write_cards(checkpoints, out_dir: Path, *, site: str) -> list[Path]:
    """One printable PNG per checkpoint: the QR code, its name under it, the site below.

    300 dpi, the code about 7 cm wide: readable by a phone-sized camera from half a metre,
    and a name in large type so the guard knows which code goes on which wall. Error
    correction level H, because codes on outside walls get dirty and scratched.
    Pillow comes with fpdf2 (the reports' dependency).
    """
    import segno
    from PIL import Image, ImageDraw, ImageFont

    from kiosk.fonts import unicode_font

    out_dir.mkdir(parents=True, exist_ok=True)
    font_path = str(unicode_font())
    written = []
    for checkpoint in checkpoints:
        code = segno.make_qr(payload(checkpoint.id), error="h")
        scale = max(4, 830 // code.symbol_size(scale=1, border=4)[0])
        matrix = Image.new("L", code.symbol_size(scale=scale, border=4), 255)
        draw = ImageDraw.Draw(matrix)
        for y, row in enumerate(code.matrix_iter(scale=1, border=4)):
            for x, dark in enumerate(row):
                if dark:
                    draw.rectangle((x * scale, y * scale, (x + 1) * scale - 1,
                                    (y + 1) * scale - 1), fill=0)
        width = max(matrix.width, 900)
        big, small = ImageFont.truetype(font_path, 64), ImageFont.truetype(font_path, 32)
        lines = [(line, big) for line in _wrap(checkpoint.name, big, width - 60)]
        lines += [(payload(checkpoint.id), small), (site, small)]
        heights = [font.getbbox("Ág")[3] + 16 for _, font in lines]
        card = Image.new("L", (width, matrix.height + sum(heights) + 40), 255)
        card.paste(matrix, ((width - matrix.width) // 2, 0))
        draw = ImageDraw.Draw(card)
        y = matrix.height
        for (text, font), height in zip(lines, heights, strict=True):
            draw.text((width // 2, y), text, font=font, fill=0, anchor="mt")
            y += height
        path = out_dir / f"checkpoint-{checkpoint.id}.png"
        card.save(path, dpi=(300, 300))
        written.append(path)
    return written


def _wrap(text: str, font, width: int) -> list[str]:
    """Words onto lines no wider than ``width`` pixels; a word too wide is split."""
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] += f" {word}"
            continue
        while len(word) > 1 and font.getlength(word) > width:
            cut = len(word) - 1
            while cut > 1 and font.getlength(word[:cut]) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        lines.append(word)
    return lines or [""]
