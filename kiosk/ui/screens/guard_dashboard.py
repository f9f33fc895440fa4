"""The dashboard: the post at a glance, refreshed every few seconds.

Who is on duty and who backs up; guests on site with their time inside, overstays marked;
hosts still to confirm, with admit and deny at hand (SOP 7b); alerts to act on; the relays
with a one-tap override for an hour; today's tasks due and overdue; active alarms; the last
sync with the central office. Every figure comes from the core's API as it is now.
"""

from __future__ import annotations

import datetime as dt

from kivy.factory import Factory
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui.lang import tr
from kiosk.ui.screens.guard import GuardBody, GuardScreen, clock, duration

OVERRIDE_MINUTES = 60


def minutes_since(stamp: str | None, now: dt.datetime) -> int:
    if not stamp:
        return 0
    return max(0, int((now - dt.datetime.fromisoformat(stamp)).total_seconds() // 60))


class DashboardBody(GuardBody, BoxLayout):
    pass


class DashboardScreen(GuardScreen):
    body = "DashboardBody"
    title_key = "nav.dashboard"
    refresh_seconds = 5.0
    SOURCES = {"roster": ("/roster/now", None), "visits": ("/visits", {"on_site": "true"}),
               "alerts": ("/alerts", None), "relays": ("/relays", None),
               "tasks": ("/tasks", None), "alarms": ("/alarms/active", None),
               "sync": ("/sync", None)}
    data: dict = {}

    def refresh(self) -> None:
        self.fetch(self.SOURCES, done=self._loaded)

    def _loaded(self, answers: dict) -> None:
        self.data = answers
        self.draw()

    def relabel(self) -> None:
        self.draw()  # the same answers, in the other language

    # -- drawing -----------------------------------------------------------------------------

    def draw(self) -> None:
        text = self.app.text
        now = self.app._now()
        data = self.data
        cards = self.content.ids
        self._fill(cards.duty, self._duty_lines(data.get("roster"), text))
        visits = (data.get("visits") or {}).get("visits", [])
        waiting = [v for v in visits if v.get("status") in ("awaiting_host", "held")]
        self._fill(cards.waiting, [self._waiting_row(v, text) for v in waiting]
                   or [text("guard_panel.none")])
        out_by = self.app.settings.visits.out_by
        guests = []
        for v in visits:
            inside = duration(minutes_since(v.get("created_at"), now), text)
            late = now.time() >= out_by
            guests.append(text("dashboard.guest_late" if late else "dashboard.guest",
                               badge=v.get("badge") or "", name=v.get("name") or "",
                               host=v.get("host") or "", inside=inside))
        cards.guests.title = text("dashboard.guests", count=len(visits))
        self._fill(cards.guests, guests or [text("guard_panel.none")])
        alerts = [a for a in (data.get("alerts") or {}).get("alerts", [])
                  if not a.get("resolved_at")]
        self._fill(cards.alerts, [self._alert_row(a) for a in alerts]
                   or [text("guard_panel.none")])
        self._fill(cards.relays, [self._relay_row(r, text)
                                  for r in (data.get("relays") or {}).get("relays", [])])
        tasks = [t for t in (data.get("tasks") or {}).get("tasks", [])
                 if t.get("status") in ("due", "overdue")]
        self._fill(cards.tasks, [self._task_row(t, text) for t in tasks]
                   or [text("dashboard.no_tasks")])
        alarms = (data.get("alarms") or {}).get("alarms", [])
        label = "label_id" if self.app.lang == "id" else "label_en"
        self._fill(cards.alarms, [text("dashboard.alarm", label=a.get(label) or a.get("code"),
                                       at=clock(a.get("raised_at"), self.app.lang),
                                       state=text(f"dashboard.alarm_{a.get('state')}"))
                                  for a in alarms] or [text("guard_panel.none")])
        self._fill(cards.sync, self._sync_rows(data.get("sync") or {}, text, now.date()))

    def _fill(self, card, rows) -> None:
        box = card.ids.rows
        box.clear_widgets()
        for row in rows:
            box.add_widget(Factory.TextRow(text=row) if isinstance(row, str) else row)

    def _duty_lines(self, roster, text) -> list[str]:
        duties = (roster or {}).get("on_duty", [])
        if not duties:
            return [text("dashboard.no_roster")]
        lines = []
        for d in duties:
            checked = any(c.get("guard") == d.get("guard") for c in d.get("checkins", ()))
            lines.append(text("dashboard.duty" if checked else "dashboard.duty_absent",
                              shift=d.get("shift", ""), guard=d.get("guard", ""),
                              start=d.get("start", ""), end=d.get("end", "")))
            lines.append(text("dashboard.backups", names=", ".join(d.get("backups", ()))))
        return lines

    def _row(self, words: str, *buttons) -> BoxLayout:
        row = Factory.ActionRow()
        row.ids.words.text = words
        for label, style, action in buttons:
            button = Factory.SmallButton(text=label, style=style)
            button.bind(on_release=lambda _b, a=action: a())
            row.add_widget(button)
        return row

    def _waiting_row(self, visit: dict, text) -> BoxLayout:
        held = visit.get("status") == "held"
        words = text("dashboard.waiting_held" if held else "dashboard.waiting",
                     badge=visit.get("badge") or "", name=visit.get("name") or "",
                     host=visit.get("host") or "")
        vid = visit.get("id")
        return self._row(words,
                         (text("dashboard.admit"), "good", lambda: self._decide(vid, "admit")),
                         (text("dashboard.deny"), "secondary",
                          lambda: self._decide(vid, "deny")))

    def _decide(self, visit_id, what: str) -> None:
        self.api("POST", f"/visits/{visit_id}/{what}", done=lambda _b: self.refresh())

    def _alert_row(self, alert: dict) -> BoxLayout:
        aid = alert.get("id")
        at = clock(alert.get("created_at"), self.app.lang)
        return self._row(f"{at}  {alert.get('text', '')}",
                         (self.app.text("dashboard.resolve"), "secondary",
                          lambda: self.api("POST", f"/alerts/{aid}/resolve",
                                           done=lambda _b: self.refresh())))

    def _relay_row(self, relay: dict, text) -> BoxLayout:
        name, on = relay.get("name", ""), bool(relay.get("on"))
        change = relay.get("next_scheduled_change")
        words = text("dashboard.relay_on" if on else "dashboard.relay_off",
                     name=tr._(f"dashboard.relay_{name}", name),
                     source=relay.get("source", ""),
                     next=clock(change, self.app.lang, missing="-"))
        flip = text("dashboard.switch_off" if on else "dashboard.switch_on")
        return self._row(words, (flip, "primary", lambda: self._override(name, not on)))

    def _override(self, name: str, on: bool) -> None:
        self.api("POST", f"/relays/{name}/override",
                 json={"on": on, "minutes": OVERRIDE_MINUTES,
                       "reason": self.app.text("dashboard.override_reason")},
                 done=lambda _b: self.refresh())

    def _sync_rows(self, sync: dict, text, today: dt.date) -> list:
        """Enough for the guard to tell hq "we have been offline since Tuesday, 312 waiting"."""
        if not sync.get("configured"):
            return [text("dashboard.no_sync")]
        lang = self.app.lang
        rows = [text("dashboard.sync_last", at=clock(sync.get("last_success"), lang, today))
                if sync.get("last_success") else text("dashboard.sync_never"),
                text("dashboard.sync_backlog", count=sync.get("backlog", 0))]
        if sync.get("last_error"):
            rows.append(text("dashboard.sync_error", at=clock(sync.get("last_attempt"), lang,
                                                             today),
                             error=str(sync["last_error"])[:160]))
        rows.append(self._row(
            text("dashboard.sync_next", at=clock(sync.get("next_attempt"), lang, today, "-")),
            (text("dashboard.sync_now"), "primary",
             lambda: self.api("POST", "/sync", done=lambda _b: self.refresh()))))
        return rows

    def _task_row(self, task: dict, text) -> BoxLayout:
        title = task.get("title_id") if self.app.lang == "id" else task.get("title_en")
        words = text("dashboard.task_overdue" if task.get("status") == "overdue"
                     else "dashboard.task_due", title=title or "",
                     at=clock(task.get("due_at"), self.app.lang))
        tid = task.get("id")
        return self._row(words, (text("guard_panel.done"), "secondary",
                                 lambda: self.api("POST", f"/tasks/{tid}/done",
                                                  done=lambda _b: self.refresh())))
