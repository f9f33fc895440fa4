"""SOPs as data: the seed files, every validation message, runs through the API on a
simulated clock (the escort SOP's "no" loop, overdue steps, the report), a third SOP added
as a file only, a broken file left out, and a run that survives a restart."""

import json
import logging
import shutil
import tomllib

import pytest
from conftest import CONFIG, at
from fastapi.testclient import TestClient
from test_api import login

from kiosk.core.api import create_app
from kiosk.core.service import ensure_guards
from kiosk.procedures import END, default_sop_dir, load_dir, load_file, parse
from kiosk.sop import SopRuns

ESCORT = "pengawalan-pejabat"
CRIME = "penanganan-tindak-pidana"


# -- the seed files ------------------------------------------------------------------------


def test_the_seed_files_load_without_problems():
    library = load_dir(default_sop_dir())
    assert library.problems == ()
    assert list(library.procedures) == [CRIME, ESCORT]
    assert library.procedures[CRIME].file == "pengamanan-kantor.toml"
    assert library.procedures[ESCORT].file == "pengawalan-pejabat.toml"


def test_crime_handling_is_sop_14_a_to_e_in_60_minutes():
    crime = load_dir(default_sop_dir()).procedures[CRIME]
    assert [s.id for s in crime.steps] == ["amankan-tkp", "amankan-pelaku", "tolong-korban",
                                           "lapor-pimpinan", "lapor-polisi"]
    assert sum(s.standard_minutes for s in crime.steps) == 60
    assert {s.actor for s in crime.steps} == {"Petugas Keamanan"}
    assert all(s.requirements == ("Perlengkapan keamanan kantor",) for s in crime.steps)
    assert crime.steps[-1].output == "Tindak pidana tertangani" and crime.steps[-1].next == END


def test_escort_follows_the_seed_table():
    escort = load_dir(default_sop_dir()).procedures[ESCORT]
    table = [(s.id, s.actor, s.standard_minutes, s.output) for s in escort.steps]
    assert table == [
        ("terima-perintah-walikota", "Camat", 60, "Surat Perintah Walikota"),
        ("terima-perintah-camat", "Kasi Trantib", 60, "Surat Perintah Walikota"),
        ("susun-draft", "Danru", 60, "Surat Perintah Walikota"),
        ("verifikasi-draft", "Sekcam", 120, "Draft Surat Perintah"),
        ("tanda-tangan", "Camat", 120, "Surat Perintah"),
        ("teruskan-ke-danru", "Kasi Trantib", 60, "Surat Perintah"),
        ("siapkan-anggota", "Danru", 30, "Surat Perintah"),
        ("laksanakan-pengawalan", "Anggota Trantib", 60, "Laporan Pelaksanaan Lapangan"),
        ("susun-laporan", "Danru", 2 * 1440, "Draft Laporan Pelaksanaan"),
        ("terima-draft-laporan", "Kasi Trantib", 1440, "Laporan Pelaksanaan"),
        ("arsipkan-laporan", "Kasi Trantib", 10, "Laporan Pelaksanaan terarsip"),
    ]
    verify = escort.step("verifikasi-draft")
    assert verify.decision and (verify.yes, verify.no) == ("tanda-tangan", "susun-draft")
    assert escort.after(verify, "no") == "susun-draft"
    assert escort.after(verify, "yes") == "tanda-tangan"
    assert escort.step("laksanakan-pengawalan").requirements == (
        "Surat Perintah", "Seragam", "Alat penertiban", "Kendaraan", "Perlengkapan")
    assert escort.actors == ("Camat", "Sekcam", "Kasi Trantib", "Danru", "Anggota Trantib")


# -- validation: one line per problem, naming file, procedure, step, key and the fix ---------

HEAD = '[[procedure]]\nid = "uji"\ntitle_id = "Uji"\ntitle_en = "Test"\n' \
       'actors = ["Petugas Keamanan"]\n'


def step(step_id, **keys):
    """A ``[[procedure.step]]`` table; a key given as None is left out."""
    body = {"id": step_id, "title_id": f"Langkah {step_id}", "title_en": f"Step {step_id}",
            "actor": "Petugas Keamanan", "standard_minutes": 5, "output": "Selesai", **keys}
    lines = ["[[procedure.step]]"] + [f"{key} = {json.dumps(value)}"
                                      for key, value in body.items() if value is not None]
    return "\n".join(lines) + "\n"


def problems(text, name="x.toml"):
    procedures, found = parse(tomllib.loads(text), name)
    assert procedures == []  # a file with a problem is left out whole
    return found


def test_a_valid_file_parses():
    procedures, found = parse(tomllib.loads(HEAD + step("a") + step("b")), "x.toml")
    assert found == [] and [s.next for s in procedures[0].steps] == ["b", END]


KEYS = "id, title_id, title_en, actor, requirements, standard_minutes, output, at, yes, no, next"


@pytest.mark.parametrize("text, expected", [
    (HEAD + step("draft") + step("cek", yes="end", no="drat"),
     "x.toml: procedure 'uji', step 'cek': no = 'drat': no such step (did you mean 'draft'?): "
     "name a step id of this procedure, or \"end\""),
    (HEAD + step("a", next="zz"),
     "x.toml: procedure 'uji', step 'a': next = 'zz': no such step: name a step id of this "
     "procedure, or \"end\""),
    (HEAD + step("a") + step("a"),
     "x.toml: procedure 'uji', step 'a': id 'a' is used twice (steps #1 and #2): give each "
     "step its own id"),
    (HEAD + step("a", next="end") + step("b"),
     "x.toml: procedure 'uji', step 'b': unreachable: no step or branch leads to it (steps "
     "follow the file's order; yes, no and next jump): point a branch at it or remove it"),
    (HEAD + step("a") + step("b", yes="a", no="a"),
     [f"x.toml: procedure 'uji', step '{name}': never reaches the end: every way on from here "
      "loops back; give a decision a branch that leads on, or \"end\"" for name in "ab"]),
    (HEAD + step("a", standard_minutes=-5),
     "x.toml: procedure 'uji', step 'a': standard_minutes = -5: a time cannot be negative: "
     "give whole minutes, 0 or more"),
    (HEAD + step("a", standard_minutes="1 jam"),
     "x.toml: procedure 'uji', step 'a': standard_minutes = '1 jam': use whole minutes "
     "without quotes (1 jam = 60, 1 hari = 1440)"),
    (HEAD + step("a", standard_minutes=None),
     "x.toml: procedure 'uji', step 'a': standard_minutes is missing: add the SOP's Waktu in "
     "whole minutes (1 jam = 60, 1 hari = 1440)"),
    (HEAD + step("a", titel_en="Step"),
     f"x.toml: procedure 'uji', step 'a': unknown key 'titel_en' (did you mean 'title_en'?): "
     f"the keys are {KEYS}"),
    (HEAD + step("a", output=None),
     "x.toml: procedure 'uji', step 'a': output is missing: add output = \"...\""),
    (HEAD + step("a", yes="end"),
     "x.toml: procedure 'uji', step 'a': yes without no: a decision needs both yes and no "
     "(a step id or \"end\")"),
    (HEAD + step("a", yes="end", no="end", next="end"),
     "x.toml: procedure 'uji', step 'a': next on a decision: the yes/no answer picks the "
     "next step; remove next"),
    (HEAD + step("a", actor="Petugas Keamanann"),
     "x.toml: procedure 'uji', step 'a': actor = 'Petugas Keamanann': not one of the "
     "procedure's actors (Petugas Keamanan) (did you mean 'Petugas Keamanan'?): use one of "
     "them or add it to actors"),
    (HEAD + step("a", at="25:00"),
     "x.toml: procedure 'uji', step 'a': at = '25:00': not a clock time: use \"HH:MM\", "
     "e.g. at = \"17:00\""),
    (HEAD + step("end"),
     "x.toml: procedure 'uji', step 'end': id 'end' is reserved for the end of the "
     "procedure: choose another"),
    (HEAD + step("Langkah 1"),
     "x.toml: procedure 'uji', step #1: id = 'Langkah 1': use 1 to 40 lower case letters, "
     "digits, - and _, starting with a letter or digit"),
    (HEAD + step("a", requirements="Surat Perintah"),
     "x.toml: procedure 'uji', step 'a': requirements = 'Surat Perintah': must be a list of "
     "text, e.g. requirements = [\"Surat Perintah\", \"Seragam\"]"),
    (HEAD.replace('actors = ["Petugas Keamanan"]\n', "") + step("a"),
     "x.toml: procedure 'uji': actors is missing: add actors = [\"...\", \"...\"]"),
    (HEAD,
     "x.toml: procedure 'uji': has no steps: add [[procedure.step]] tables after its "
     "[[procedure]]"),
    (HEAD + step("a") + HEAD + step("b"),
     "x.toml: procedure 'uji': id is used twice in this file: give each procedure its own id"),
    ('[procedure]\nid = "uji"\n',
     "x.toml: no [[procedure]] table: start each procedure with [[procedure]] (double "
     "brackets) and each of its steps with [[procedure.step]]"),
    ("procedures = []\n" + HEAD + step("a"),
     "x.toml: unknown key 'procedures' (did you mean 'procedure'?): the keys are procedure"),
])
def test_each_problem_is_one_line_naming_where_and_what_to_fix(text, expected):
    assert problems(text) == (expected if isinstance(expected, list) else [expected])


def test_every_problem_in_a_file_is_reported_at_once():
    found = problems(HEAD + step("a", standard_minutes=-1, at="5pm") + step("b", colour="red"))
    assert [line.split(": ")[2] for line in found] == [
        "standard_minutes = -1", "at = '5pm'", "unknown key 'colour'"]


def test_file_level_problems(tmp_path):
    (tmp_path / "a.toml").write_text("[[procedure]\nid = 1\n")
    (tmp_path / "b.toml").write_bytes(b"\xff\xfe not text")
    found = [load_file(tmp_path / name)[1] for name in ("a.toml", "b.toml")]
    assert found[0][0].startswith("a.toml: not valid TOML: ")
    assert found[1] == ["b.toml: not UTF-8 text: save it as UTF-8"]


def test_a_procedure_id_used_in_two_files_leaves_the_second_out(tmp_path):
    (tmp_path / "a.toml").write_text(HEAD + step("a"))
    (tmp_path / "b.toml").write_text(HEAD + step("b"))
    library = load_dir(tmp_path)
    assert list(library.procedures) == ["uji"] and library.procedures["uji"].file == "a.toml"
    assert library.problems == ("b.toml: procedure 'uji': id is already used in a.toml: give "
                                "one of them another id",)


def test_a_missing_directory_is_a_problem_not_a_crash(tmp_path):
    library = load_dir(tmp_path / "nowhere")
    assert library.procedures == {} and "SOP directory not found" in library.problems[0]


# -- runs through the API ------------------------------------------------------------------


def sop_config(directory):
    return CONFIG + f"[sop]\ndir = {json.dumps(str(directory))}\n"


@pytest.fixture
def kiosk(post):
    """``make(text)`` -> (Post, client); the client logs in again when a clock jump of hours
    has outlasted the guard's session."""

    def make(text=CONFIG, start=None):
        p = post(start or at(8, 0), text=text)
        core = p.start()
        ensure_guards(core, simulate=True)
        return p, Client(create_app(core))

    return make


class Client(TestClient):
    def __init__(self, app):
        super().__init__(app, raise_server_exceptions=False)

    headers = None

    def call(self, method, url, status=200, **kwargs):
        self.headers = self.headers or login(self)
        response = self.request(method, url, headers=self.headers, **kwargs)
        if response.status_code == 401 and status != 401:  # the session ran out: log in again
            self.headers = login(self)
            response = self.request(method, url, headers=self.headers, **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    def start(self, sop_id, **body):
        return self.call("POST", f"/api/v1/sops/{sop_id}/runs", 201, json=body)

    def done(self, run_id, step_id, status=200, **body):
        return self.call("POST", f"/api/v1/sop-runs/{run_id}/steps/{step_id}", status,
                         json=body)


def test_every_endpoint_needs_the_guard_token(kiosk):
    _, client = kiosk()
    for method, url in (("GET", "/api/v1/sops"), ("POST", f"/api/v1/sops/{CRIME}/runs"),
                        ("GET", "/api/v1/sop-runs"), ("GET", "/api/v1/sop-runs/1"),
                        ("POST", "/api/v1/sop-runs/1/steps/a"),
                        ("POST", "/api/v1/sop-runs/1/cancel"),
                        ("GET", "/api/v1/sop-runs/1/report")):
        assert client.request(method, url).status_code == 401, url


def test_the_listing_shows_procedures_with_their_steps(kiosk):
    _, client = kiosk()
    body = client.call("GET", "/api/v1/sops")
    assert body["problems"] == []
    escort = next(s for s in body["sops"] if s["id"] == ESCORT)
    assert escort["title_id"] == "Pengawalan pejabat atau orang penting"
    assert escort["file"] == "pengawalan-pejabat.toml" and len(escort["steps"]) == 11
    verify = escort["steps"][3]
    assert verify == {
        "id": "verifikasi-draft", "actor": "Sekcam", "requirements": ["Draft Surat Perintah"],
        "standard_minutes": 120, "output": "Draft Surat Perintah", "at": None,
        "decision": True, "yes": "tanda-tangan", "no": "susun-draft", "next": None,
        "title_id": verify["title_id"], "title_en": verify["title_en"]}
    assert escort["steps"][-1]["next"] == "end"


# The escort from 08:00 on the 22nd to 10:05 on the 24th, with the draft sent back twice:
# (step, answer, done at, standard minutes, actual minutes).
ESCORT_RUN = [
    ("terima-perintah-walikota", None, at(8, 45), 60, 45),
    ("terima-perintah-camat", None, at(9, 50), 60, 65),
    ("susun-draft", None, at(10, 30), 60, 40),
    ("verifikasi-draft", "no", at(11, 0), 120, 30),
    ("susun-draft", None, at(11, 20), 60, 20),
    ("verifikasi-draft", "no", at(11, 30), 120, 10),
    ("susun-draft", None, at(11, 40), 60, 10),
    ("verifikasi-draft", "yes", at(12, 0), 120, 20),
    ("tanda-tangan", None, at(15, 0), 120, 180),
    ("teruskan-ke-danru", None, at(15, 30), 60, 30),
    ("siapkan-anggota", None, at(16, 0), 30, 30),
    ("laksanakan-pengawalan", None, at(17, 30), 60, 90),
    ("susun-laporan", None, at(9, 0, day=24), 2880, 2370),
    ("terima-draft-laporan", None, at(10, 0, day=24), 1440, 60),
    ("arsipkan-laporan", None, at(10, 5, day=24), 10, 5),
]


def test_escort_run_with_the_draft_sent_back_twice(kiosk):
    p, client = kiosk()
    run = client.start(ESCORT, title="Kunjungan Walikota ke Kecamatan", note="2 motor, 1 mobil")
    assert run["status"] == "running" and run["started_by"] == "Petugas Simulasi"
    assert run["current"]["id"] == "terima-perintah-walikota"
    assert run["current"]["due_at"] == "2026-11-22T09:00:00.000+07:00"
    assert run["overdue"] is False and run["passes"][0]["state"] == "open"
    run_id = run["id"]

    for n, (step_id, answer, when, _, _) in enumerate(ESCORT_RUN):
        if step_id == "terima-perintah-camat":
            # Opened at 08:45 with 60 minutes: on time at 09:45, overdue a minute later.
            p.to(at(9, 45))
            assert client.call("GET", f"/api/v1/sop-runs/{run_id}")["overdue"] is False
            p.to(at(9, 46))
            late = client.call("GET", f"/api/v1/sop-runs/{run_id}")
            assert late["overdue"] is True and late["current"]["overdue"] is True
            assert late["current"]["actual_minutes"] == 61.0
            assert [r["overdue"] for r in client.call("GET", "/api/v1/sop-runs")["runs"]] \
                == [True]
        p.to(when)
        body = {"answer": answer} if answer else {}
        run = client.done(run_id, step_id, **body)
        if n + 1 < len(ESCORT_RUN):
            assert run["current"]["id"] == ESCORT_RUN[n + 1][0]
            assert run["current"]["opened_at"] == when.isoformat(timespec="milliseconds")

    assert run["status"] == "finished" and run["current"] is None and run["overdue"] is False
    assert run["ended_at"] == "2026-11-24T10:05:00.000+07:00"
    assert [(r["step_id"], r["round"]) for r in run["passes"]][2:8] == [
        ("susun-draft", 1), ("verifikasi-draft", 1), ("susun-draft", 2),
        ("verifikasi-draft", 2), ("susun-draft", 3), ("verifikasi-draft", 3)]
    assert [r["answer"] for r in run["passes"] if r["decision"]] == ["no", "no", "yes"]

    report = client.call("GET", f"/api/v1/sop-runs/{run_id}/report")
    rows = report["passes"]
    assert [(r["step_id"], r["standard_minutes"], r["actual_minutes"]) for r in rows] == [
        (step_id, standard, float(actual)) for step_id, _, _, standard, actual in ESCORT_RUN]
    assert [r["difference_minutes"] for r in rows] == [
        float(actual - standard) for *_, standard, actual in ESCORT_RUN]
    assert [r["result"] for r in rows] == [
        "under", "over", "under", "under", "under", "under", "under", "under", "over",
        "under", "equal", "over", "under", "under", "under"]
    assert report["totals"] == {
        "passes": 15, "standard_minutes": 5260, "actual_minutes": 3005.0,
        "difference_minutes": -2255.0, "over": 3, "under": 11, "equal": 1,
        "repeated_steps": {"susun-draft": 3, "verifikasi-draft": 3},
        "elapsed_minutes": 3005.0}
    assert report["run"]["status"] == "finished" and report["run"]["title"] == \
        "Kunjungan Walikota ke Kecamatan"
    assert client.call("GET", "/api/v1/sop-runs")["runs"] == []


def test_every_change_is_a_logbook_line_and_an_outbox_event(kiosk):
    p, client = kiosk()
    run_id = client.start(ESCORT)["id"]
    for step_id, answer, when in (("terima-perintah-walikota", None, at(8, 30)),
                                  ("terima-perintah-camat", None, at(9, 45)),
                                  ("susun-draft", None, at(10, 0)),
                                  ("verifikasi-draft", "no", at(10, 15))):
        p.to(when)
        client.done(run_id, step_id, **({"answer": answer} if answer else {}), note="cek")
    client.call("POST", f"/api/v1/sop-runs/{run_id}/cancel", json={"reason": "Acara batal"})
    lines = [e["text"] for e in reversed(p.core.logbook.entries(query="SOP #"))]
    assert [e["category"] for e in p.core.logbook.entries(query="SOP #")] == ["sop"] * 6
    assert lines[0] == ("SOP #1 dimulai: Pengawalan pejabat atau orang penting. Langkah "
                        "pertama: Kasi Trantib menerima perintah Walikota untuk pengawalan "
                        "pejabat dan tamu penting; Camat memerintahkan Kasi Trantib "
                        "melakukan pengawalan dengan motor dan/atau mobil operasional Trantib "
                        "(Camat)")
    assert "selesai dalam 1 jam 15 menit (standar 1 jam, lewat waktu)" in lines[2]
    assert lines[4].endswith("selesai dalam 15 menit (standar 2 jam); jawaban: tidak; "
                             "berikutnya: Danru menerima perintah dari Kasi Trantib dan "
                             "menyusun draft surat tugas pengawalan (Danru), putaran ke-2. "
                             "Catatan: cek")
    assert lines[5] == "SOP #1 Pengawalan pejabat atau orang penting dibatalkan: Acara batal"
    kinds = [e["kind"] for e in p.core.store.outbox_pending(1000) if e["kind"].startswith("sop")]
    assert kinds == ["sop.started"] + ["sop.step_done"] * 4 + ["sop.cancelled"]
    done = [e["payload"] for e in p.core.store.outbox_pending(1000)
            if e["kind"] == "sop.step_done"]
    assert done[3] == {"run_id": 1, "sop_id": ESCORT, "step_id": "verifikasi-draft", "seq": 4,
                       "answer": "no", "note": "cek", "at": "2026-11-22T10:15:00.000+07:00",
                       "actual_minutes": 15.0, "standard_minutes": 120,
                       "next": "susun-draft", "by": "Petugas Simulasi"}


def test_crime_handling_run(kiosk):
    p, client = kiosk(start=at(22, 10))
    run = client.start(CRIME, title="Pencurian helm di parkiran")
    run_id = run["id"]
    assert run["current"]["id"] == "amankan-tkp" and run["current"]["standard_minutes"] == 10
    assert run["current"]["requirements"] == ["Perlengkapan keamanan kantor"]
    for step_id, when, note in (("amankan-tkp", at(22, 15), ""),
                                ("amankan-pelaku", at(22, 40), "pelaku diamankan di pos"),
                                ("tolong-korban", at(22, 50), ""),
                                ("lapor-pimpinan", at(22, 55), "Ketua KPU ditelepon")):
        p.to(when)
        run = client.done(run_id, step_id, note=note)
    p.to(at(23, 20))
    assert client.call("GET", f"/api/v1/sop-runs/{run_id}")["current"]["overdue"] is True
    run = client.done(run_id, "lapor-polisi", note="Polsek Subang datang 23.15")
    assert run["status"] == "finished"
    report = client.call("GET", f"/api/v1/sop-runs/{run_id}/report")
    assert [r["actual_minutes"] for r in report["passes"]] == [5.0, 25.0, 10.0, 5.0, 25.0]
    assert [r["result"] for r in report["passes"]] == ["under", "over", "under", "under",
                                                       "over"]
    assert report["passes"][1]["note"] == "pelaku diamankan di pos"
    assert report["totals"]["standard_minutes"] == 60
    assert report["totals"]["actual_minutes"] == 70.0
    assert report["totals"]["difference_minutes"] == 10.0
    assert report["totals"]["repeated_steps"] == {}


def test_mistakes_are_4xx_with_a_message(kiosk):
    p, client = kiosk()
    run_id = client.start(ESCORT)["id"]
    wrong = client.done(run_id, "susun-draft", 409)
    assert wrong["field"] == "step_id" and "it is at 'terima-perintah-walikota'" in \
        wrong["detail"]
    assert client.done(run_id, "terima-perintah-walikota", 422, answer="yes")["field"] == \
        "answer"
    for step_id in ("terima-perintah-walikota", "terima-perintah-camat", "susun-draft"):
        client.done(run_id, step_id)
    missing = client.done(run_id, "verifikasi-draft", 422)
    assert missing["detail"] == "this step is a decision: answer yes or no"
    assert missing["detail_id"] == "langkah ini keputusan: jawab ya atau tidak"
    assert client.done(run_id, "verifikasi-draft", 422, answer="maybe")  # the schema says no
    before = client.done(run_id, "verifikasi-draft", 422, answer="yes",
                         at="2026-11-22T07:59:00")  # the step opened at 08:00
    assert before["field"] == "at" and before["detail"] == (
        "the time done must be between the step's opening and now (22-11 08:00 - 22-11 08:00)")
    assert client.done(run_id, "verifikasi-draft", 422, answer="yes",
                       at="2026-11-22T08:01:00+07:00")["field"] == "at"  # in the future
    assert client.call("POST", "/api/v1/sops/patroli/runs", 404)["detail"] == "no SOP 'patroli'"
    assert client.call("GET", "/api/v1/sop-runs/99", 404)["detail"] == "no SOP run 99"
    assert client.call("GET", "/api/v1/sop-runs/0", 422)
    assert client.call("POST", f"/api/v1/sop-runs/{run_id}/cancel", 422, json={"reason": ""})
    client.call("POST", f"/api/v1/sop-runs/{run_id}/cancel", json={"reason": "latihan"})
    ended = client.done(run_id, "verifikasi-draft", 409, answer="yes")
    assert ended["detail"] == "run 1 is cancelled: no step to complete"
    again = client.call("POST", f"/api/v1/sop-runs/{run_id}/cancel", 409, json={"reason": "x"})
    assert again["detail_id"] == "SOP #1 sudah dibatalkan"


def test_a_step_done_earlier_is_recorded_at_its_time(kiosk):
    p, client = kiosk()
    run_id = client.start(CRIME)["id"]
    p.to(at(9, 0))
    run = client.done(run_id, "amankan-tkp", at="2026-11-22T08:07:00")  # site time
    assert run["passes"][0]["done_at"] == "2026-11-22T08:07:00.000+07:00"
    assert run["passes"][0]["actual_minutes"] == 7.0
    assert run["current"]["opened_at"] == "2026-11-22T08:07:00.000+07:00"
    assert run["current"]["actual_minutes"] == 53.0 and run["current"]["overdue"] is True


def test_cancelled_run_keeps_its_history_and_lists(kiosk):
    p, client = kiosk()
    first = client.start(CRIME)["id"]
    second = client.start(ESCORT)["id"]
    p.to(at(8, 20))
    client.done(first, "amankan-tkp")
    p.to(at(8, 30))
    cancelled = client.call("POST", f"/api/v1/sop-runs/{first}/cancel",
                            json={"reason": "Alarm palsu"})
    assert cancelled["status"] == "cancelled" and cancelled["cancel_reason"] == "Alarm palsu"
    assert cancelled["current"] is None and cancelled["ended_by"] == "Petugas Simulasi"
    assert [r["state"] for r in cancelled["passes"]] == ["done", "cancelled"]
    assert cancelled["passes"][1]["actual_minutes"] == 10.0
    assert [r["id"] for r in client.call("GET", "/api/v1/sop-runs")["runs"]] == [second]
    everything = client.call("GET", "/api/v1/sop-runs?open=false")["runs"]
    assert [(r["id"], r["status"]) for r in everything] == [(second, "running"),
                                                            (first, "cancelled")]
    assert "passes" not in everything[0]  # the listing is a summary
    assert p.core.sops.runs(open_only=True)[0]["current"]["id"] == "terima-perintah-walikota"


PACKAGE_SOP = """
[[procedure]]
id = "penerimaan-paket"
title_id = "Penerimaan paket di luar jam kerja"
title_en = "Receiving a package after hours"
source = "SOP Pengamanan Kantor no. 5"
actors = ["Petugas Keamanan", "Bagian Arsip"]

[[procedure.step]]
id = "catat"
title_id = "Mencatat paket di Buku Kejadian/Mutasi"
title_en = "Record the package in the incident book"
actor = "Petugas Keamanan"
requirements = ["Buku Kejadian/Mutasi", "Ballpoint"]
standard_minutes = 5
output = "Paket tercatat"

[[procedure.step]]
id = "diambil-sendiri"
title_id = "Penerima mengambil paket malam ini?"
title_en = "Does the recipient collect it tonight?"
actor = "Petugas Keamanan"
standard_minutes = 0
output = "Keputusan"
yes = "serahkan-penerima"
no = "serahkan-arsip"

[[procedure.step]]
id = "serahkan-penerima"
title_id = "Menyerahkan paket kepada penerima"
title_en = "Hand the package to the recipient"
actor = "Petugas Keamanan"
standard_minutes = 10
output = "Paket diterima penerima"
next = "end"

[[procedure.step]]
id = "serahkan-arsip"
title_id = "Menyerahkan paket ke bagian arsip"
title_en = "Hand the package to the archive"
actor = "Bagian Arsip"
standard_minutes = 15
output = "Paket diterima bagian arsip"
at = "08:00"
"""


def test_a_third_sop_needs_only_a_file(kiosk, tmp_path):
    directory = tmp_path / "sop"
    directory.mkdir()
    (directory / "paket.toml").write_text(PACKAGE_SOP)
    p, client = kiosk(text=sop_config(directory), start=at(19, 0))
    listing = client.call("GET", "/api/v1/sops")
    assert [s["id"] for s in listing["sops"]] == ["penerimaan-paket"]
    steps = listing["sops"][0]["steps"]
    assert steps[3]["at"] == "08:00" and steps[2]["next"] == "end"

    collected = client.start("penerimaan-paket")["id"]
    client.done(collected, "catat")
    finished = client.done(collected, "diambil-sendiri", answer="yes")
    assert finished["current"]["id"] == "serahkan-penerima"
    finished = client.done(collected, "serahkan-penerima")
    assert finished["status"] == "finished"
    assert [r["step_id"] for r in finished["passes"]] == [
        "catat", "diambil-sendiri", "serahkan-penerima"]

    kept = client.start("penerimaan-paket")["id"]
    client.done(kept, "catat")
    run = client.done(kept, "diambil-sendiri", answer="no")
    assert run["current"]["id"] == "serahkan-arsip" and run["current"]["at"] == "08:00"
    assert run["current"]["actor"] == "Bagian Arsip"
    p.to(at(8, 10, day=23))
    assert client.done(kept, "serahkan-arsip")["status"] == "finished"


def test_a_broken_file_is_reported_and_skipped(kiosk, tmp_path, caplog):
    directory = tmp_path / "sop"
    shutil.copytree(default_sop_dir(), directory)
    (directory / "rusak.toml").write_text(
        HEAD + step("draft") + step("cek", yes="tanda-tangan", no="draft"))
    with caplog.at_level(logging.ERROR, logger="kiosk.sop"):
        p, client = kiosk(text=sop_config(directory))
    problem = ("rusak.toml: procedure 'uji', step 'cek': yes = 'tanda-tangan': no such step: "
               "name a step id of this procedure, or \"end\"")
    assert f"SOP file left out: {problem}" in caplog.messages
    body = client.call("GET", "/api/v1/sops")
    assert body["problems"] == [problem]
    assert [s["id"] for s in body["sops"]] == [CRIME, ESCORT]
    assert client.call("POST", "/api/v1/sops/uji/runs", 404)
    assert client.call("GET", "/api/v1/health")["ok"] is True


def test_a_run_survives_a_restart_even_if_its_file_is_removed(kiosk, tmp_path):
    directory = tmp_path / "sop"
    directory.mkdir()
    shutil.copy(default_sop_dir() / "pengawalan-pejabat.toml", directory)
    p, client = kiosk(text=sop_config(directory))
    run_id = client.start(ESCORT, title="Kunjungan Gubernur")["id"]
    for step_id, answer, when in (("terima-perintah-walikota", None, at(8, 30)),
                                  ("terima-perintah-camat", None, at(9, 0)),
                                  ("susun-draft", None, at(9, 30)),
                                  ("verifikasi-draft", "no", at(10, 0))):
        p.to(when)
        client.done(run_id, step_id, **({"answer": answer} if answer else {}))
    p.stop()
    (directory / "pengawalan-pejabat.toml").unlink()
    p.clock.jump(at(11, 30))
    client = Client(create_app(p.start()))
    assert client.call("GET", "/api/v1/sops") == {"sops": [], "problems": []}
    run = client.call("GET", f"/api/v1/sop-runs/{run_id}")
    assert run["title"] == "Kunjungan Gubernur" and run["status"] == "running"
    assert (run["current"]["id"], run["current"]["round"]) == ("susun-draft", 2)
    assert run["current"]["overdue"] is True  # opened 10:00, 60 minutes, now 11:30
    assert len(run["procedure"]["steps"]) == 11
    run = client.done(run_id, "susun-draft")
    assert run["current"]["id"] == "verifikasi-draft" and run["current"]["round"] == 2
    assert len(run["passes"]) == 6


def test_sop_runs_without_the_api(post, tmp_path):
    """The domain on its own, as the guard handover summary uses it."""
    p = post(at(8, 0))
    core = p.start()
    sops: SopRuns = core.sops
    run = sops.start(CRIME, actor="Budi")
    assert sops.runs() == [{k: v for k, v in run.items() if k not in ("passes", "procedure")}]
    p.to(at(8, 11))
    assert sops.runs()[0]["overdue"] is True
    assert sops.report(run["id"])["passes"][0]["result"] == "open"
    assert sops.report(run["id"])["totals"]["actual_minutes"] == 11.0


def test_the_crime_alarm_opens_the_crime_procedure_once_whichever_way_it_is_raised(kiosk):
    p, api = kiosk()
    alarm = api.call("POST", "/api/v1/alarms", 201, json={"code": "crime"})
    again = api.call("POST", "/api/v1/alarms", 201, json={"code": "crime"})  # a second tap
    assert again["id"] == alarm["id"]
    runs = api.call("GET", "/api/v1/sop-runs?open=true")["runs"]
    crime = [r for r in runs if r["sop_id"] == "penanganan-tindak-pidana"]
    assert len(crime) == 1 and crime[0]["title"] == f"Alarm #{alarm['id']} (crime)"
    assert crime[0]["current"]["id"] == "amankan-tkp"

    # Fire starts no procedure; a crime raised by holding the panic button opens one too.
    api.call("POST", f"/api/v1/alarms/{alarm['id']}/clear")
    api.call("POST", "/api/v1/alarms", 201, json={"code": "fire"})
    p.core._raise_from_button("crime")
    titles = [r["title"] for r in api.call("GET", "/api/v1/sop-runs?open=true")["runs"]]
    assert len(titles) == 2 and all("(crime)" in t for t in titles)


def test_starts_on_must_name_an_alarm_code(tmp_path):
    from kiosk.config import parse as parse_config

    folder = tmp_path / "sop"
    folder.mkdir()
    text = (default_sop_dir() / "pengamanan-kantor.toml").read_text()
    (folder / "x.toml").write_text(text.replace('starts_on = ["crime"]', 'starts_on = ["crim"]'))
    settings = parse_config(CONFIG + f'[sop]\ndir = "{folder}"\n')
    from kiosk.store import Store

    runs = SopRuns(Store(tmp_path / "k.db", now=lambda: at(8, 0)), settings, now=lambda: at(8, 0))
    (problem,) = runs.problems()
    assert "starts_on = 'crim' is not an alarm code" in problem and "crime" in problem
