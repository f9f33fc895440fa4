"""SOPs as data: the procedure file format, and loading and checking the files.

An Indonesian government SOP (SOP AP) is a table: ordered steps, an actor for each, a quality
standard (what is needed, a standard time, the output, a remark such as a clock time) and
sometimes a yes/no decision that sends the work back. The post keeps such tables as data,
``config/sop/*.toml`` (the format is commented at the top of ``pengamanan-kantor.toml``), so
a new SOP needs a new file and no code; :mod:`kiosk.sop` runs them.

Each file is checked on its own and one with any problem is left out whole, since half a
procedure is worse than none. Every problem is one line naming the file, the procedure and
step, the key and what to change, because the person reading it edits the file at the
office, not the code.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from kiosk.config.fields import did_you_mean
from kiosk.resources import config_dir
from kiosk.watchlist import CONTROL

END = "end"  # a branch target that finishes the procedure
ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
MAX_MINUTES = 30 * 24 * 60
PROCEDURE_KEYS = ("id", "title_id", "title_en", "source", "actors", "starts_on", "step")
STEP_KEYS = ("id", "title_id", "title_en", "actor", "requirements", "standard_minutes",
             "output", "at", "yes", "no", "next")


@dataclass(frozen=True)
class Step:
    """One row of the SOP table. ``yes``/``no`` make it a decision; ``next`` is resolved."""

    id: str
    title_id: str
    title_en: str
    actor: str
    standard_minutes: int
    output: str
    requirements: tuple[str, ...] = ()
    at: str | None = None
    yes: str | None = None
    no: str | None = None
    next: str | None = None

    @property
    def decision(self) -> bool:
        return self.yes is not None

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "title_id": self.title_id, "title_en": self.title_en,
                "actor": self.actor, "requirements": list(self.requirements),
                "standard_minutes": self.standard_minutes, "output": self.output,
                "at": self.at, "decision": self.decision, "yes": self.yes, "no": self.no,
                "next": self.next}


@dataclass(frozen=True)
class Procedure:
    id: str
    title_id: str
    title_en: str
    actors: tuple[str, ...]
    steps: tuple[Step, ...]
    source: str = ""
    file: str = ""
    starts_on: tuple[str, ...] = ()  # alarm codes that start a run by themselves

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def after(self, step: Step, answer: str | None) -> str:
        """The step id that follows ``step`` (or :data:`END`), given the answer to a decision."""
        if step.decision:
            return step.yes if answer == "yes" else step.no
        return step.next

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "title_id": self.title_id, "title_en": self.title_en,
                "source": self.source, "file": self.file, "actors": list(self.actors),
                "starts_on": list(self.starts_on), "steps": [step.view() for step in self.steps]}

    @classmethod
    def from_view(cls, data: dict[str, Any]) -> Procedure:
        """Rebuild a procedure a run copied into the database (already checked at load)."""
        names = [f.name for f in fields(Step)]
        steps = tuple(Step(**{**{n: s[n] for n in names},
                              "requirements": tuple(s["requirements"])}) for s in data["steps"])
        return cls(id=data["id"], title_id=data["title_id"], title_en=data["title_en"],
                   actors=tuple(data["actors"]), steps=steps, source=data["source"],
                   file=data["file"], starts_on=tuple(data.get("starts_on", ())))


# -- loading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Library:
    """The procedures that loaded, by id, and one line for each problem that left a file out."""

    procedures: dict[str, Procedure]
    problems: tuple[str, ...]


def default_sop_dir() -> Path:
    """The SOP files that come with the kiosk (a checkout's ``config/sop``, or installed)."""
    return config_dir() / "sop"


def load_dir(directory: Path) -> Library:
    """Every ``*.toml`` in ``directory``, in name order; a file with a problem is left out."""
    if not directory.is_dir():
        return Library({}, (f"{directory}: SOP directory not found: set [sop] dir in kiosk.toml "
                            "to a directory of .toml files, or leave it empty for the default",))
    procedures: dict[str, Procedure] = {}
    problems: list[str] = []
    for path in sorted(directory.glob("*.toml")):
        found, trouble = load_file(path)
        trouble += [f"{path.name}: procedure {p.id!r}: id is already used in "
                    f"{procedures[p.id].file}: give one of them another id"
                    for p in found if p.id in procedures]
        if trouble:
            problems += trouble
        else:
            procedures.update((p.id, p) for p in found)
    return Library(procedures, tuple(problems))


def load_file(path: Path) -> tuple[list[Procedure], list[str]]:
    """The file's procedures, or none and the problems found in it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        return [], [f"{path.name}: not UTF-8 text: save it as UTF-8"]
    except OSError as exc:
        return [], [f"{path.name}: cannot read: {exc.strerror}"]
    except tomllib.TOMLDecodeError as exc:
        return [], [f"{path.name}: not valid TOML: {exc}"]
    return parse(data, path.name)


def parse(data: dict[str, Any], name: str) -> tuple[list[Procedure], list[str]]:
    """Check one file's tables; ``name`` is what the problem lines call the file."""
    check = _Check(name)
    check.unknown(data, ("procedure",), "")
    tables = data.get("procedure")
    if not isinstance(tables, list) or not tables or \
            not all(isinstance(table, dict) for table in tables):
        check.add("", "no [[procedure]] table: start each procedure with [[procedure]] (double "
                      "brackets) and each of its steps with [[procedure.step]]")
        return [], check.lines
    procedures: list[Procedure] = []
    for number, table in enumerate(tables, 1):
        procedure = _procedure(table, number, check)
        if procedure is None:
            continue
        if any(p.id == procedure.id for p in procedures):
            check.add(f"procedure {procedure.id!r}: ",
                      "id is used twice in this file: give each procedure its own id")
        procedures.append(procedure)
    return ([] if check.lines else procedures), check.lines


class _Check:
    """Collects the problem lines of one file, each prefixed with the file's name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[str] = []

    def add(self, where: str, problem: str) -> None:
        self.lines.append(f"{self.name}: {where}{problem}")

    def unknown(self, table: dict, allowed: tuple[str, ...], where: str) -> None:
        for key in table:
            if key not in allowed:
                self.add(where, f"unknown key {key!r}{did_you_mean(key, allowed)}: "
                                f"the keys are {', '.join(allowed)}")

    def text(self, table: dict, key: str, where: str, *, required: bool = True,
             limit: int = 300) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                self.add(where, f"{key} is missing: add {key} = \"...\"")
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > limit \
                or CONTROL.search(value):
            self.add(where, f"{key} = {_show(value)}: must be text on one line, "
                            f"1 to {limit} characters")
            return None
        return value.strip()

    def ident(self, table: dict, key: str, where: str, *, required: bool = True) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                self.add(where, f"{key} is missing: add {key} = \"...\" (lower case letters, "
                                "digits, - and _)")
            return None
        if not isinstance(value, str) or not ID.fullmatch(value):
            self.add(where, f"{key} = {_show(value)}: use 1 to 40 lower case letters, digits, "
                            "- and _, starting with a letter or digit")
            return None
        return value

    def texts(self, table: dict, key: str, where: str, *, required: bool) -> tuple[str, ...]:
        value = table.get(key)
        if value is None:
            if required:
                self.add(where, f"{key} is missing: add {key} = [\"...\", \"...\"]")
            return ()
        if not isinstance(value, list) or (required and not value) or not all(
                isinstance(item, str) and item.strip() and len(item) <= 120
                and not CONTROL.search(item) for item in value):
            self.add(where, f"{key} = {_show(value)}: must be a list of text, "
                            f"e.g. {key} = [\"Surat Perintah\", \"Seragam\"]")
            return ()
        return tuple(item.strip() for item in value)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _procedure(table: dict, number: int, check: _Check) -> Procedure | None:
    before = len(check.lines)
    named = table.get("id")
    where = f"procedure {named!r}: " if isinstance(named, str) and ID.fullmatch(named) \
        else f"procedure #{number}: "
    check.unknown(table, PROCEDURE_KEYS, where)
    procedure_id = check.ident(table, "id", where)
    title_id = check.text(table, "title_id", where)
    title_en = check.text(table, "title_en", where)
    source = check.text(table, "source", where, required=False) or ""
    actors = check.texts(table, "actors", where, required=True)
    starts_on = check.texts(table, "starts_on", where, required=False)
    rows = table.get("step")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        check.add(where, "has no steps: add [[procedure.step]] tables after its [[procedure]]")
        return None
    steps = [_step(row, n, where.removesuffix(": "), actors, check)
             for n, row in enumerate(rows, 1)]
    if len(check.lines) > before:
        return None  # the order and the branches can only be checked on sound steps
    linked = _link(steps, where.removesuffix(": "), check)
    if len(check.lines) > before:
        return None
    return Procedure(id=procedure_id, title_id=title_id, title_en=title_en, actors=actors,
                     steps=tuple(linked), source=source, file=check.name,
                     starts_on=starts_on)


def _step(row: dict, number: int, procedure: str, actors: tuple[str, ...],
          check: _Check) -> Step | None:
    named = row.get("id")
    where = f"{procedure}, step {named!r}: " if isinstance(named, str) and ID.fullmatch(named) \
        else f"{procedure}, step #{number}: "
    before = len(check.lines)
    check.unknown(row, STEP_KEYS, where)
    step_id = check.ident(row, "id", where)
    if step_id == END:
        check.add(where, f"id {END!r} is reserved for the end of the procedure: choose another")
    title_id = check.text(row, "title_id", where)
    title_en = check.text(row, "title_en", where)
    output = check.text(row, "output", where)
    actor = check.text(row, "actor", where)
    if actor is not None and actors and actor not in actors:
        check.add(where, f"actor = {actor!r}: not one of the procedure's actors "
                         f"({', '.join(actors)}){did_you_mean(actor, actors)}: use one of them "
                         "or add it to actors")
    requirements = check.texts(row, "requirements", where, required=False)
    minutes = _minutes_key(row, where, check)
    at = _clock_key(row, where, check)
    yes, no, following = (check.ident(row, key, where, required=False)
                          for key in ("yes", "no", "next"))
    if ("yes" in row) != ("no" in row):
        have, lack = ("yes", "no") if "yes" in row else ("no", "yes")
        check.add(where, f"{have} without {lack}: a decision needs both yes and no "
                         "(a step id or \"end\")")
    if "next" in row and ("yes" in row or "no" in row):
        check.add(where, "next on a decision: the yes/no answer picks the next step; "
                         "remove next")
    if len(check.lines) > before:
        return None
    return Step(id=step_id, title_id=title_id, title_en=title_en, actor=actor,
                standard_minutes=minutes, output=output, requirements=requirements, at=at,
                yes=yes, no=no, next=following)


def _minutes_key(row: dict, where: str, check: _Check) -> int | None:
    value = row.get("standard_minutes")
    if value is None:
        check.add(where, "standard_minutes is missing: add the SOP's Waktu in whole minutes "
                         "(1 jam = 60, 1 hari = 1440)")
    elif isinstance(value, bool) or not isinstance(value, int):
        check.add(where, f"standard_minutes = {_show(value)}: use whole minutes without "
                         "quotes (1 jam = 60, 1 hari = 1440)")
    elif value < 0:
        check.add(where, f"standard_minutes = {value}: a time cannot be negative: give whole "
                         "minutes, 0 or more")
    elif value > MAX_MINUTES:
        check.add(where, f"standard_minutes = {value}: more than 30 days: give the time in "
                         "minutes (1 hari = 1440)")
    else:
        return value
    return None


def _clock_key(row: dict, where: str, check: _Check) -> str | None:
    value = row.get("at")
    if isinstance(value, dt.time):  # TOML's own time literal, at = 17:00:00
        return value.strftime("%H:%M")
    if value is not None and not (isinstance(value, str) and CLOCK.fullmatch(value)):
        check.add(where, f"at = {_show(value)}: not a clock time: use \"HH:MM\", e.g. "
                         "at = \"17:00\"")
        return None
    return value


def _link(steps: list[Step], procedure: str, check: _Check) -> list[Step]:
    """Resolve each step's next step and check that every step is used and can finish."""
    before = len(check.lines)
    ids = [step.id for step in steps]
    for n, step in enumerate(steps):
        where = f"{procedure}, step {step.id!r}: "
        if step.id in ids[:n]:
            check.add(where, f"id {step.id!r} is used twice (steps #{ids.index(step.id) + 1} "
                             f"and #{n + 1}): give each step its own id")
        for key in ("yes", "no", "next"):
            target = getattr(step, key)
            if target is not None and target != END and target not in ids:
                check.add(where, f"{key} = {target!r}: no such step{did_you_mean(target, ids)}: "
                                 f"name a step id of this procedure, or \"{END}\"")
    if len(check.lines) > before:
        return steps
    steps = [step if step.decision or step.next else
             replace(step, next=ids[n + 1] if n + 1 < len(steps) else END)
             for n, step in enumerate(steps)]
    by_id = {step.id: step for step in steps}
    reached = {steps[0].id}
    todo = [steps[0]]
    while todo:
        for target in _targets(todo.pop()):
            if target != END and target not in reached:
                reached.add(target)
                todo.append(by_id[target])
    finishing: set[str] = set()
    grew = True
    while grew:
        grew = False
        for step in steps:
            if step.id not in finishing and \
                    any(t == END or t in finishing for t in _targets(step)):
                finishing.add(step.id)
                grew = True
    for step in steps:
        where = f"{procedure}, step {step.id!r}: "
        if step.id not in reached:
            check.add(where, "unreachable: no step or branch leads to it (steps follow the "
                             "file's order; yes, no and next jump): point a branch at it or "
                             "remove it")
        elif step.id not in finishing:
            check.add(where, "never reaches the end: every way on from here loops back; give "
                             "a decision a branch that leads on, or \"end\"")
    return steps


def _targets(step: Step) -> tuple[str, ...]:
    return (step.yes, step.no) if step.decision else (step.next,)
