"""The sample report and the annotated video, checked in a real browser and decoded back.

One simulated sample (2 s, ``spermlab demo``) is analysed once per module; its results
folder feeds every test. The browser tests run headless Chromium; under ``CI=true`` a
missing browser fails the test instead of skipping it (``make test`` installs it).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from spermlab.cli import main
from spermlab.io.video import open_video
from spermlab.report import (
    GRADE_COLOURS,
    UNGRADED_COLOUR,
    annotate_frame,
    write_annotated_video,
    write_report,
)
from spermlab.report.annotate import OTHER_COLOUR, hex_to_rgb
from spermlab.report.quality import assess, track_coverage, wilson_interval

# id in the page -> path in summary.json
RESULT_IDS = {
    "pct-rapid": ("percentages", "rapid"),
    "pct-slow": ("percentages", "slow"),
    "pct-non-progressive": ("percentages", "non_progressive"),
    "pct-immotile": ("percentages", "immotile"),
    "pct-progressive": ("percentages", "progressive"),
    "pct-total-motile": ("percentages", "total_motile"),
    "count-a": ("counts", "a"),
    "count-b": ("counts", "b"),
    "count-c": ("counts", "c"),
    "count-d": ("counts", "d"),
    "n-graded": ("n_graded",),
    "n-frames": ("n_frames",),
    "concentration": ("concentration_m_per_ml",),
    "mean-heads-per-frame": ("mean_heads_per_frame",),
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> dict:
    """A 2-s simulated sample, analysed: its results folder, video and summary."""
    root = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(root), "--duration", "2", "--quiet"]) == 0
    results = root / "results"
    summary = json.loads((results / "summary.json").read_text())
    return {"results": results, "video": root / "sample" / "sample.mp4", "summary": summary}


@pytest.fixture(scope="module")
def report(sample) -> Path:
    return write_report(sample["results"])


_VOID = {"img", "image", "br", "meta", "circle", "rect", "path", "link", "input"}


class _Elements(HTMLParser):
    """Every element's tag and attributes, and the text of elements with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.text: dict[str, str] = {}
        self._open: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a))
        if tag not in _VOID:
            self._open.append(a.get("id"))
            if a.get("id"):
                self.text[a["id"]] = ""

    def handle_endtag(self, tag):
        if tag not in _VOID and self._open:
            self._open.pop()

    def handle_data(self, data):
        for i in self._open:
            if i:
                self.text[i] += data

    def by_id(self, ident: str) -> dict:
        found = [a for _, a in self.elements if a.get("id") == ident]
        assert len(found) == 1, f"expected one element with id {ident!r}, got {len(found)}"
        return found[0]


def _parse(html: str) -> _Elements:
    p = _Elements()
    p.feed(html)
    return p


def _summary_value(summary: dict, path: tuple[str, ...]):
    v = summary
    for key in path:
        v = v[key]
    return v


def _check_numbers(page: _Elements, summary: dict) -> None:
    """Every result number in the page equals summary.json, exactly and as displayed."""
    for ident, path in RESULT_IDS.items():
        want = _summary_value(summary, path)
        got = page.by_id(ident)["data-value"]
        if want is None:
            assert got == "", ident
            continue
        assert float(got) == pytest.approx(float(want), rel=1e-12, abs=0), ident
        shown = page.text[ident].strip()
        expected = str(want) if isinstance(want, int) else f"{want:.1f}"
        assert shown == expected, f"{ident}: shown {shown!r}, summary {want!r}"


# -- the page itself ----------------------------------------------------------------


def test_report_numbers_equal_summary_and_page_is_self_contained(sample, report):
    html = report.read_text(encoding="utf-8")
    page = _parse(html)
    _check_numbers(page, sample["summary"])
    # self-contained: no external script, style, font or image; figures are data URIs
    assert not [a for t, a in page.elements if t in ("link", "iframe", "object")]
    assert not [a for t, a in page.elements if t == "script" and a.get("src")]
    refs = [a.get("src") or a.get("href") for t, a in page.elements if t in ("img", "image")]
    assert len(refs) >= 6 and all(r.startswith("data:image/") for r in refs)
    assert "@import" not in html and "url(http" not in html and "@media print" in html
    # the WHO 2021 lower limits are shown beside the numbers
    assert page.by_id("card-pct-progressive")["class"].split()[0] == "card"
    limits = [a["data-limit"] for _, a in page.elements if "data-limit" in a]
    assert limits == ["30.0", "42.0", "16.0"]
    # one track-map group per sperm track, graded ones carrying their grade
    tracks = pd.read_parquet(sample["results"] / "tracks.parquet")
    kin = pd.read_parquet(sample["results"] / "kinematics.parquet")
    groups = {int(a["data-track"]): a["data-grade"] for t, a in page.elements
              if t == "g" and "data-track" in a}  # fmt: skip
    assert set(groups) == set(tracks.loc[tracks["cls"] == 0, "track_id"])
    assert {t: groups[t] for t in kin["track_id"]} == dict(zip(kin["track_id"], kin["grade"],
                                                                strict=True))
    # the trust badge lists the analysis warnings and the provenance shows the input hash
    assert page.by_id("trust")["data-level"] in ("caution", "fail")
    for w in sample["summary"]["warnings"]:
        assert w in html
    assert page.text["input-sha256"].strip() == sample["summary"]["input"]["sha256"]
    rows = [a for t, a in page.elements if t == "tr" and a.get("id", "").startswith("track-")]
    assert len(rows) == len(kin)


def test_report_without_the_recording_uses_a_blank_canvas(sample, tmp_path):
    folder = tmp_path / "moved"
    shutil.copytree(sample["results"], folder)
    summary = json.loads((folder / "summary.json").read_text())
    summary["input"]["path"] = str(tmp_path / "gone.mp4")
    (folder / "summary.json").write_text(json.dumps(summary))
    out = write_report(folder, out=tmp_path / "r.html")
    page = _parse(out.read_text(encoding="utf-8"))
    assert not [a for t, a in page.elements if t == "image"]
    blank = [a for t, a in page.elements if t == "rect" and a.get("class") == "blank"]
    assert blank and (blank[0]["width"], blank[0]["height"]) == ("640", "480")
    with pytest.raises(FileNotFoundError):
        write_report(folder, source=tmp_path / "missing.mp4")


def test_report_refuses_a_source_of_another_size(sample, tmp_path):
    class Small:
        path, fps, width, height, n_frames = "small", 50.0, 32, 24, 1

        def __iter__(self):
            from spermlab.io.source import Frame

            yield Frame(0, np.zeros((24, 32), np.uint8), 0.0)

    with pytest.raises(ValueError, match="32x24"):
        write_report(sample["results"], source=Small(), out=tmp_path / "r.html")


def test_library_import_selects_no_matplotlib_backend():
    code = ("import sys, spermlab.report, spermlab.cli; "
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- quality checks -----------------------------------------------------------------


def test_wilson_interval():
    lo, hi = wilson_interval(60, 200)
    assert (lo, hi) == pytest.approx((24.07, 36.68), abs=0.01)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(100.0)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_quality_levels(sample):
    s = json.loads(json.dumps(sample["summary"]))
    det = pd.read_parquet(sample["results"] / "detections.parquet")
    trk = pd.read_parquet(sample["results"] / "tracks.parquet")
    drift = pd.read_csv(sample["results"] / "drift.csv")
    q = assess(s, detections=det, tracks=trk, drift=drift)
    assert q.level == "fail"  # 2 s and ~30 cells: too few cells to use
    assert any("rest on" in c.message for c in q.checks if c.level == "fail")
    s.update(n_graded=400, counts={"a": 100, "b": 100, "c": 100, "d": 100}, warnings=[])
    assert assess(s, detections=det, tracks=trk, drift=drift).level in ("ok", "caution")
    moving = drift.assign(dx=drift["frame"] * 2.0)  # 2 px/frame = 25 µm/s at 0.25 µm/px, 50 fps
    q = assess(s, detections=det, tracks=trk, drift=moving)
    assert q.level == "caution" and any("drifts" in c.message for c in q.checks)
    # graded tracks seen in only every other frame: their speeds rest on bridged gaps
    kin = pd.read_parquet(sample["results"] / "kinematics.parquet")
    full = track_coverage(trk)
    kin = kin[kin["track_id"].isin(full.index[full == 1.0])].reset_index(drop=True)
    assert len(kin) >= 5
    assert "graded tracks with gaps" in " ".join(assess(s, detections=det, tracks=trk, drift=drift,
                                                        kinematics=kin).passed)  # fmt: skip
    # an automatic polarity chosen on weak evidence is named, with the flag that settles it
    s["parameters"]["detector"].update(polarity="dark", polarity_evidence={"bright": 8.4, "dark": 14.5})
    q = assess(s, detections=det, tracks=trk, drift=drift)
    assert any("--polarity bright or dark" in c.message and "bright 8.4, dark 14.5" in c.message
               for c in q.checks if c.level == "caution")  # fmt: skip
    s["parameters"]["detector"].update(polarity="bright", polarity_evidence={"bright": 9.9, "dark": 24.1})
    assert any("saw more heads read the other way" in c.message
               for c in assess(s, detections=det, tracks=trk, drift=drift).checks)  # fmt: skip
    s["parameters"]["detector"].update(polarity="dark", polarity_evidence={"bright": 0.0, "dark": 25.6})
    assert not any("--polarity" in c.message for c in assess(s, detections=det, tracks=trk, drift=drift).checks)
    gappy = trk[trk["frame"] % 2 == 0].reset_index(drop=True)
    q = assess(s, detections=det, tracks=gappy, drift=drift, kinematics=kin)
    assert q.metrics["gappy_share"] > 0.9
    assert any("bridges over gaps" in c.message for c in q.checks)


# -- in a real browser --------------------------------------------------------------


def _chromium() -> str:
    from tests.conftest import chromium_path

    return chromium_path()


def _browser(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}", *args,
           page.resolve().as_uri()]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=True)


def test_report_renders_in_headless_chromium(sample, report, tmp_path):
    shot = tmp_path / "shot.png"
    _browser(report, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000")
    image = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
    assert image.shape == (2000, 1280, 3)
    assert image.std() > 20  # not a blank page
    # the track map (upper right of the first screen) shows the frame and coloured tracks
    top_right = image[100:600, 680:1240]
    assert top_right.std() > 20
    palette = np.array([hex_to_rgb(c) for c in GRADE_COLOURS.values()], dtype=float)
    near = np.min(np.linalg.norm(top_right[:, :, None, :] - palette[None, None], axis=-1), axis=-1)
    assert (near < 30).sum() > 200
    dom = _browser(report, tmp_path / "profile", "--dump-dom").stdout
    page = _parse(dom)
    _check_numbers(page, sample["summary"])
    assert page.by_id("trust")["data-level"] in ("ok", "caution", "fail")


# -- the annotated video ------------------------------------------------------------


def test_annotate_frame_draws_box_trail_and_id_in_grade_colour():
    image = np.full((60, 80), 100, np.uint8)
    tracks = pd.DataFrame({"frame": [3, 4, 5, 5], "x": [20.0, 25.0, 30.0, 60.0], "y": [30.0] * 4,
                           "w": [8.0] * 4, "h": [8.0] * 4, "cls": [0, 0, 0, 1],
                           "score": [1.0] * 4, "track_id": [7, 7, 7, 8]})  # fmt: skip
    out = annotate_frame(image, tracks, frame=5, grades={7: "b"}, legend=False)
    assert out.shape == (60, 80, 3) and (image == 100).all()  # the input is not modified
    b, other = hex_to_rgb(GRADE_COLOURS["b"]), hex_to_rgb(OTHER_COLOUR)
    assert tuple(out[30, 23]) == b  # left edge of the box: 30 - 4 - 3 = 23
    assert tuple(out[30, 20]) == b  # trail from frame 3
    assert tuple(out[30, 53]) == other  # the cluster's thin box
    assert tuple(out[55, 5]) == (100, 100, 100)  # untouched background
    ungraded = annotate_frame(image, tracks, frame=5, grades={}, legend=False)
    assert tuple(ungraded[30, 23]) == hex_to_rgb(UNGRADED_COLOUR)


def test_annotated_video_decodes_back_to_source_plus_drawing(sample, tmp_path):
    out = write_annotated_video(sample["results"], sample["video"], tmp_path / "a.mp4")
    source = open_video(sample["video"])
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(stream)]
    assert len(decoded) == source.n_frames == sample["summary"]["n_frames"]
    index = 50
    frame = source.read_frame(index).image
    tracks = pd.read_parquet(sample["results"] / "tracks.parquet")
    kin = pd.read_parquet(sample["results"] / "kinematics.parquet")
    grades = dict(zip(kin["track_id"], kin["grade"], strict=True))
    expected = annotate_frame(frame, tracks, frame=index, grades=grades, trail_frames=25)
    got = decoded[index].astype(float)
    drawn = (expected != frame[:, :, None]).any(axis=2)
    halo = np.zeros_like(drawn)  # drawn pixels and their neighbours carry codec ringing
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            halo |= np.roll(np.roll(drawn, dy, 0), dx, 1)
    rest = np.abs(got.mean(axis=2) - frame)[~halo]
    assert rest.mean() < 2.0 and np.percentile(rest, 99) < 10  # the source, within codec error
    # at each graded head in this frame, the drawn box has the grade's colour
    here = tracks[(tracks["frame"] == index) & tracks["track_id"].isin(grades.keys())]
    palette = {g: np.array(hex_to_rgb(c), float) for g, c in GRADE_COLOURS.items()}
    checked = 0
    for r in here.itertuples():
        hw, hh = max(r.w, 6) / 2 + 4, max(r.h, 6) / 2 + 4
        rows = slice(max(int(r.y - hh), 0), int(r.y + hh) + 2)
        cols = slice(max(int(r.x - hw), 0), int(r.x + hw) + 2)
        box = (expected[rows, cols] == palette[grades[r.track_id]]).all(axis=2)
        if box.sum() < 40:  # mostly outside the frame
            continue
        mean = got[rows, cols][box].mean(axis=0)
        nearest = min(palette, key=lambda g: np.linalg.norm(mean - palette[g]))
        assert nearest == grades[r.track_id], (r.track_id, mean)
        checked += 1
    assert checked >= 5


# -- command line -------------------------------------------------------------------


def test_cli_report_and_annotate(sample, tmp_path, capsys):
    html = tmp_path / "r.html"
    assert main(["report", str(sample["results"]), "--out", str(html), "--json", "--quiet"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["report"] == str(html) and html.stat().st_size > 50_000
    assert info["quality"] in ("ok", "caution", "fail") and isinstance(info["warnings"], list)
    video = tmp_path / "a.mp4"
    assert main(["annotate", str(sample["results"]), "--source", str(sample["video"]), "--out",
                 str(video), "--quiet"]) == 0  # fmt: skip
    assert video.stat().st_size > 10_000
    assert main(["report", str(tmp_path / "nothing")]) == 1
    assert "summary.json" in capsys.readouterr().err
    assert main(["report", "--help"]) == 0 and "Example" in capsys.readouterr().out


def test_report_of_a_sample_without_any_cell(tmp_path):
    """An empty field (azoospermia, a blank video) still gets a report that says so."""
    from spermlab.analysis.motility import summarise
    from spermlab.calibration import Calibration
    from spermlab.io.results import write_results
    from spermlab.tables import DETECTIONS, KINEMATICS, TRACKS, empty

    cal = Calibration(0.25, 50.0, 20.0, sources={"um_per_px": "user", "fps": "user",
                                                 "chamber_depth_um": "user"})  # fmt: skip
    result = summarise(empty(KINEMATICS), cal, mean_heads_per_frame=0.0, n_frames=60, width=64,
                       height=48, input_info={"path": str(tmp_path / "gone.mp4"), "width": 64,
                                              "height": 48})  # fmt: skip
    drift = pd.DataFrame({"frame": np.arange(60), "dx": 0.0, "dy": 0.0})
    folder = write_results(tmp_path / "r", detections=empty(DETECTIONS), tracks=empty(TRACKS),
                           kinematics=empty(KINEMATICS), drift=drift, summary=result.to_dict(),
                           width=64, height=48, n_frames=60)  # fmt: skip
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["percentages"]["progressive"] is None  # NaN is written as null
    page = _parse(write_report(folder).read_text(encoding="utf-8"))
    _check_numbers(page, summary)
    assert page.text["pct-progressive"].strip() == "—"
    assert page.by_id("trust")["data-level"] == "fail"
    assert "no cell could be graded" in page.text["trust"]
