"""The web app through FastAPI's TestClient: every page, the API, bad input as a message, review."""

from __future__ import annotations

import html
import io
import json
import shutil
import sys

import pandas as pd
import pytest

from spermlab.web import create_app

from fastapi.testclient import TestClient  # Starlette >= 1.10 uses httpx2 (the test extra)

LIMIT = 2_000_000  # the app's upload limit in these tests (bytes)


@pytest.fixture(scope="module")
def data(tmp_path_factory, sim_video):
    root = tmp_path_factory.mktemp("web") / "data"
    (root / "videos").mkdir(parents=True)
    shutil.copy(sim_video, root / "videos" / "sim.mp4")
    return root


@pytest.fixture(scope="module")
def client(data):
    app = create_app(data, max_upload_bytes=LIMIT, workers=1)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture(scope="module")
def done(client, sim_video):
    """One sample analysed through the page: an upload, calibrated by hand."""
    with open(sim_video, "rb") as f:
        r = client.post("/new", data={"um_per_px": "0.25", "depth_um": "20", "detector": "classical", "video": "1"},
                        files={"files": ("clip.mp4", f, "video/mp4")}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/queue?new=clip"
    assert client.app.state.jobs.wait_idle(120)
    return "clip"


def _message(r) -> str:
    i = r.text.find('id="message"')
    assert i >= 0, r.text[:500]
    return html.unescape(r.text[i: r.text.find("</p>", i)])


def test_import_without_fastapi_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a))
    for name in [m for m in sys.modules if m == "spermlab.web" or m.startswith("spermlab.web.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=r"pip install 'spermlab\[web\]'"):
        importlib.import_module("spermlab.web")


def test_pages_answer(client):
    assert client.get("/", follow_redirects=False).headers["location"] == "/new"
    page = client.get("/new")
    assert page.status_code == 200 and "videos/sim.mp4" in page.text and "visem" in page.text
    assert 'data-fps="' in page.text and 'id="src-um_per_px"' in page.text
    assert client.get("/queue").status_code == 200
    assert client.get("/study").status_code == 200
    assert client.get("/static/web.js").status_code == 200 and client.get("/static/web.css").status_code == 200
    assert client.get("/api/sources").json()["sources"][0]["relative"] == "videos/sim.mp4"
    missing = client.get("/samples/nothing-here")
    assert missing.status_code == 404 and "no finished sample" in _message(missing)
    assert client.get("/api/samples/nothing-here").json()["error"].startswith("no finished sample")


@pytest.mark.parametrize(("form", "words"), [
    ({"paths": "videos/sim.mp4"}, "calibration missing: the image scale is unknown"),
    ({"paths": "videos/sim.mp4", "um_per_px": "abc"}, "µm per pixel: expected a number"),
    ({"paths": "videos/sim.mp4", "um_per_px": "40"}, "expected 0.05-3 µm/px"),
    ({"paths": "videos/sim.mp4", "um_per_px": "0.3", "preset": "nope"}, "unknown calibration preset"),
    ({"paths": "videos/sim.mp4", "um_per_px": "0.3", "detector": "magic"}, "detector: expected one of"),
    ({"paths": "../../etc/passwd", "um_per_px": "0.3"}, "outside the data folder"),
    ({"paths": "videos/none.mp4", "um_per_px": "0.3"}, "no such file"),
    ({"um_per_px": "0.3"}, "choose a recording"),
])  # fmt: skip
def test_bad_submissions_say_why_in_the_page(client, form, words):
    r = client.post("/new", data={"detector": "classical", **form})
    assert r.status_code == 400 and words in _message(r)
    assert 'id="new-form"' in r.text  # the form again, with the values typed
    if form.get("um_per_px"):
        assert f'value="{form["um_per_px"]}"' in r.text


def test_a_text_file_named_mp4_is_refused_by_content_and_not_kept(client, data):
    r = client.post("/new", data={"um_per_px": "0.3"},
                    files={"files": ("notes.mp4", b"these are my notes, not a video\n", "video/mp4")})
    assert r.status_code == 400 and "notes.mp4: not a video spermlab can read" in _message(r)
    assert not any((data / "uploads").glob("notes*"))


def test_traversal_in_an_upload_name_is_refused(client, data, sim_video):
    r = client.post("/new", data={"um_per_px": "0.3"},
                    files={"files": ("../../evil.mp4", sim_video.read_bytes(), "video/mp4")})
    assert r.status_code == 400 and "path traversal refused" in _message(r)
    assert not (data.parent / "evil.mp4").exists() and not any(data.rglob("evil*"))


def test_a_2_gb_upload_is_refused_before_it_is_read(client):
    body = b"--x\r\nContent-Disposition: form-data; name=\"um_per_px\"\r\n\r\n0.3\r\n--x--\r\n"
    r = client.post("/new", content=body, headers={"content-type": "multipart/form-data; boundary=x",
                                                   "content-length": str(2 << 30)})  # fmt: skip
    assert r.status_code == 413
    assert "too large: 2.0 GB; uploads are limited to 1.9 MB" in _message(r)


def test_an_upload_over_the_limit_without_a_length_is_cut_off(client):
    def chunks():
        yield b"--x\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.mp4\"\r\n\r\n"
        for _ in range(30):
            yield bytes(100_000)
        yield b"\r\n--x--\r\n"

    r = client.post("/new", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 413 and "uploads are limited to 1.9 MB" in _message(r)


def test_other_hosts_and_other_sites_are_refused(data):
    app = create_app(data, max_upload_bytes=LIMIT)
    with TestClient(app, base_url="http://evil.example") as c:
        assert c.get("/new").status_code == 400  # a DNS-rebinding page
    with TestClient(app, base_url="http://127.0.0.1") as c:
        r = c.post("/new", data={"um_per_px": "0.3"}, headers={"origin": "http://evil.example"})
        assert r.status_code == 403 and "cross-site request refused" in r.text


def test_the_sample_is_done_with_its_report_and_downloads(client, done):
    jobs = client.get("/api/jobs").json()["jobs"]
    row = next(j for j in jobs if j["sample_id"] == done)
    assert row["state"] == "done" and row["fraction"] == 1.0 and row["path"] == "uploads/clip.mp4"
    page = client.get(f"/samples/{done}")
    assert page.status_code == 200
    for marker in ('id="pct-progressive"', 'id="review-form"', 'id="track-map"', "/static/web.css",
                   'id="nav-study"', f'/samples/{done}/files/kinematics.csv'):
        assert marker in page.text
    assert 'id="review-result"' not in page.text  # not reviewed yet
    kin = pd.read_csv(io.BytesIO(client.get(f"/samples/{done}/files/kinematics.csv").content))
    assert len(kin) > 0 and set(kin["grade"]) <= set("abcd")
    assert client.get(f"/samples/{done}/files/kinematics.parquet").status_code == 200
    assert client.get(f"/samples/{done}/files/annotated.mp4").headers["content-type"] == "video/mp4"
    assert client.get(f"/samples/{done}/files/report.html").text.startswith("<!DOCTYPE html>")
    assert client.get(f"/samples/{done}/files/ledger.json").status_code == 404
    assert client.get(f"/samples/{done}/files/..%2F..%2Fledger.json").status_code == 404
    assert client.get("/samples/..%2Fledger.json").status_code == 404
    summary = client.get(f"/api/samples/{done}").json()
    assert summary["calibration"]["sources"] == {"um_per_px": "user", "fps": "file", "chamber_depth_um": "user"}


def test_a_second_analysis_of_the_same_file_is_a_new_sample(client, done):
    ids = client.app.state.jobs.new_ids([done, done, "other"])
    assert ids == [f"{done}-2", f"{done}-3", "other"]


def test_review_through_the_page_recomputes_and_keeps_the_machine(client, done, data):
    folder = data / "spermlab-study" / "samples" / done
    machine = json.loads((folder / "summary.json").read_text())
    kin = pd.read_csv(folder / "kinematics.csv")
    tid = int(kin["track_id"].iloc[0])
    new = "d" if kin["grade"].iloc[0] in "abc" else "a"
    r = client.post(f"/samples/{done}/review", data={"track_id": str(tid), "change": new, "reviewer": "A. Tech",
                                                    "reason": "no beat in the gallery"}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == f"/samples/{done}#review"
    assert "spermlab_reviewer=" in r.headers["set-cookie"] and "A. Tech" in r.headers["set-cookie"]
    after = json.loads((folder / "summary.json").read_text())
    assert after["percentages"] == machine["percentages"]  # the machine's call stays
    rev = after["review"]
    assert rev["status"] == "reviewed" and rev["changes"][0]["machine_grade"] == kin["grade"].iloc[0]
    assert rev["changes"][0]["reviewer"] == "A. Tech" and rev["changes"][0]["reason"] == "no beat in the gallery"
    assert rev["percentages"]["progressive"] != machine["percentages"]["progressive"]
    page = client.get(f"/samples/{done}").text
    assert 'id="review-result"' in page and "REVIEWED" in page
    assert f'id="rev-pct-progressive" data-value="{rev["percentages"]["progressive"]!r}"' in page
    # the JSON API: exclude another track; its answer is the new review block
    other = int(kin["track_id"].iloc[1])
    api = client.post(f"/api/samples/{done}/review", json={"track_id": other, "action": "exclude",
                                                          "reviewer": "B", "reason": "debris"})  # fmt: skip
    assert api.status_code == 200 and api.json()["review"]["n_excluded"] == 1
    # the store has both: the machine's row and the reviewed one, and the change log
    study = client.get("/study?reviewed=yes")
    assert f'id="study-{done}"' in study.text and "reviewed" in study.text
    reviews = pd.read_csv(io.BytesIO(client.get("/study/download/reviews.csv").content))
    assert reviews[["track_id", "action", "reviewer"]].values.tolist() == [[tid, "grade", "A. Tech"],
                                                                          [other, "exclude", "B"]]
    rk = pd.read_csv(io.BytesIO(client.get(f"/samples/{done}/files/kinematics_reviewed.csv").content))
    assert other not in set(rk["track_id"]) and "machine_grade" in rk
    # the cohort page shows the reviewed shares beside the machine's
    final = api.json()["review"]["percentages"]
    cohort = client.get("/study/cohort").text
    assert 'class="badge reviewed"' in cohort and f"{final['progressive']:.1f} / " in cohort


@pytest.mark.parametrize(("form", "words"), [
    ({"track_id": "99999", "change": "a", "reviewer": "A", "reason": "x"}, "track 99999 is not a graded track"),
    ({"track_id": "first", "change": "a", "reviewer": "A", "reason": "x"}, "expected a track number"),
    ({"change": "b", "reviewer": "", "reason": "x"}, "reviewer's name is required"),
    ({"change": "b", "reviewer": "A", "reason": ""}, "a reason is required"),
    ({"change": "z", "reviewer": "A", "reason": "x"}, "expected one of grade, exclude, restore"),
])  # fmt: skip
def test_a_bad_review_says_why_and_changes_nothing(client, done, data, form, words):
    folder = data / "spermlab-study" / "samples" / done
    before = (folder / "summary.json").read_text()
    tid = str(int(pd.read_csv(folder / "kinematics.csv")["track_id"].iloc[0]))
    r = client.post(f"/samples/{done}/review", data={"track_id": tid, **form})
    assert r.status_code == 400 and words in _message(r)
    assert (folder / "summary.json").read_text() == before
    api = client.post(f"/api/samples/{done}/review", json={"track_id": 99999, "action": "grade", "grade": "a",
                                                          "reviewer": "A", "reason": "x"})  # fmt: skip
    assert api.status_code == 400 and "not a graded track" in api.json()["error"]


def test_study_table_sorts_filters_and_downloads(client, done):
    page = client.get("/study?sort=progressive&order=desc")
    assert page.status_code == 200 and f'id="study-{done}"' in page.text and "▼" in page.text
    assert f'id="study-{done}"' not in client.get("/study?state=failed").text
    assert f'id="study-{done}"' not in client.get("/study?q=zzz").text
    assert f'id="study-{done}"' in client.get("/study?min_pr=0&max_pr=100").text
    rows = client.get("/api/study").json()["samples"]
    assert rows[0]["sample_id"] == done and "reviewed_progressive" in rows[0]
    samples = pd.read_parquet(io.BytesIO(client.get("/study/download/samples.parquet").content))
    assert samples["sample_id"].tolist() == [done]
    assert client.get("/study/download/kinematics.csv").status_code == 200
    assert client.get("/study/download/secrets.csv").status_code == 404
    cohort = client.get("/study/cohort")
    assert cohort.status_code == 200 and "Cohort" in cohort.text
    assert client.get(f"/study/samples/{done}/report.html", follow_redirects=False).headers["location"] == f"/samples/{done}"
