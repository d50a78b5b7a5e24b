"""One run of ``spermlab analyze``: nothing lost or mixed, one verdict, checks before work.

Each test reproduces a defect found by running the tool as a new user would (issue 13)
on the real files of ``../shared/data`` or a small simulated video.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spermlab.cli import main

VISEM_IMAGES = "visem_tracking/11/images"


def _frames(data_dir: Path, folder: Path, numbers, name=lambda n: f"11_frame_{n}.jpg", first=0):
    """A frame folder of VISEM video 11's frames first.., renumbered (links, no copies)."""
    folder.mkdir(parents=True)
    for i, n in enumerate(numbers):
        (folder / name(n)).symlink_to(data_dir / VISEM_IMAGES / f"11_frame_{first + i}.jpg")
    return folder


@pytest.fixture(scope="module")
def sim_video(tmp_path_factory) -> Path:
    from spermlab.simulate import SimulationConfig, simulate, write_simulation

    out = tmp_path_factory.mktemp("sim")
    sim = simulate(SimulationConfig(duration_s=1.2, concentration=40, width=320, height=240), rng=3)
    return write_simulation(sim, out, stem="s").video


@pytest.mark.parametrize("numbers, name", [
    (range(1050, 1080), lambda n: f"11_frame_{n}.jpg"),  # a VISEM-Tracking folder cut at 1050
    (range(1, 31), lambda n: f"{n:04d}.png".replace(".png", ".jpg")),  # ffmpeg's 0001.jpg
    (range(500, 530), lambda n: f"frame{n}.jpg"),
])  # fmt: skip
def test_frame_numbers_are_the_sources_own_end_to_end(data_dir, tmp_path, numbers, name):
    src = _frames(data_dir, tmp_path / "in" / "images", numbers, name)
    out = tmp_path / "r"
    assert main(["analyze", str(src.parent), "--preset", "visem", "--out", str(out), "-q"]) == 0
    s = json.loads((out / "summary.json").read_text())
    first, last = numbers[0], numbers[-1]
    assert (s["input"]["first_frame"], s["input"]["last_frame"]) == (first, last)
    for table in ("detections", "tracks"):
        frames = json.loads(json.dumps(sorted(set(
            __import__("pandas").read_parquet(out / f"{table}.parquet")["frame"]))))
        assert frames[0] >= first and frames[-1] <= last
    labels = sorted(int(p.stem.split("_")[-3]) for p in (out / "labels_ftid").iterdir())
    assert labels == list(numbers)  # one file per source frame, named by its number
    mot_frames = {int(line.split(",")[0]) for line in (out / "mot.txt").read_text().splitlines()}
    assert min(mot_frames) >= first + 1 and max(mot_frames) <= last + 1  # MOT: frame + 1
    assert s["input"]["mot_frame"] == "frame + 1"
    # and evaluate scores it against the annotations of the same frames, renumbered
    assert main(["evaluate", "detection", "--pred", str(out), "--gt", str(out), "-q", "--json"]) == 0


def test_a_second_run_replaces_the_first_whole(sim_video, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["analyze", str(sim_video), "--um-per-px", "0.25", "--out", str(out), "-q",
                 "--report"]) == 0  # fmt: skip
    assert (out / "report.html").is_file()
    assert main(["analyze", str(sim_video), "--um-per-px", "0.3", "--out", str(out), "-q"]) == 0
    assert not (out / "report.html").exists()  # nothing of the first run is left mixed in
    assert json.loads((out / "summary.json").read_text())["calibration"]["um_per_px"] == 0.3
    assert not list(tmp_path.glob(".r.*"))  # no partial folder or lock left behind


def test_a_failed_run_leaves_the_previous_result_and_says_so(sim_video, tmp_path, capsys, monkeypatch):
    out = tmp_path / "r"
    assert main(["analyze", str(sim_video), "--um-per-px", "0.25", "--out", str(out), "-q"]) == 0
    before = (out / "summary.json").read_text()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device", str(out / "tracks.csv"))

    monkeypatch.setattr("spermlab.io.results.write_table", broken)
    assert main(["analyze", str(sim_video), "--um-per-px", "0.3", "--out", str(out), "-q"]) == 1
    assert "no space left on device" in capsys.readouterr().err
    assert (out / "summary.json").read_text() == before  # the complete earlier result
    assert not list(tmp_path.glob(".r.partial-*"))


def test_outputs_and_options_are_checked_before_the_first_frame(sim_video, tmp_path, capsys):
    afile = tmp_path / "f.txt"
    afile.write_text("mine")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_text("mine")
    cases = [
        (["--out", str(afile)], "is a file"),
        (["--out", str(mine)], "spermlab did not write"),
        (["--out", str(tmp_path / "r"), "--weights", str(afile)], "--weights"),
        (["--out", str(tmp_path / "r"), "--um-per-px", "30"], "--um-per-px 30"),
        (["--out", str(tmp_path / "r"), "--polarity", "sideways"], "--polarity: expected one of"),
        (["--out", str(tmp_path / "r"), "--polarity", "dark", "--detector", "yolo"], "YOLO was trained"),
    ]
    for extra, message in cases:
        t0 = time.perf_counter()
        args = ["analyze", str(sim_video), "-q"] + extra
        if "--um-per-px" not in extra:
            args += ["--um-per-px", "0.25"]
        assert main(args) == 2, extra
        assert message in capsys.readouterr().err
        assert time.perf_counter() - t0 < 5  # refused up front, not after the analysis
    assert afile.read_text() == "mine" and (mine / "thesis.docx").read_text() == "mine"
    assert main(["detect", str(sim_video), "--um-per-px", "0.25", "--out", str(tmp_path / "d.txt")]) == 2
    assert ".csv or .parquet" in capsys.readouterr().err


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_runs(sim_video, tmp_path, capsys):
    out = tmp_path / "r"
    lock = tmp_path / ".r.lock"
    lock.write_text(str(os.getppid()))  # a live process holds it
    assert main(["analyze", str(sim_video), "--um-per-px", "0.25", "--out", str(out), "-q"]) == 2
    assert "another spermlab run" in capsys.readouterr().err and not out.exists()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(str(dead.pid))  # left by a run that died: taken over
    assert main(["analyze", str(sim_video), "--um-per-px", "0.25", "--out", str(out), "-q"]) == 0
    assert not lock.exists()


def test_a_killed_run_leaves_no_folder_that_looks_complete(sim_video, tmp_path):
    out = tmp_path / "r"
    entry = "import sys; from spermlab.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", entry, "analyze", str(sim_video),
                             "--um-per-px", "0.25", "--out", str(out), "-q", "--video"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 60
    while not list(tmp_path.glob(".r.partial-*")) and time.time() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob(".r.partial-*")), "the run never started writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()
    assert all(not (p / "summary.json").exists() for p in tmp_path.glob(".r.partial-*"))
    assert main(["analyze", str(sim_video), "--um-per-px", "0.25", "--out", str(out), "-q"]) == 0
    assert not list(tmp_path.glob(".r.partial-*"))  # the next run clears the leftovers


def test_one_verdict_on_a_short_clip_everywhere(data_dir, tmp_path, capsys):
    clip = data_dir / "videos" / "svia" / "S_0002.mp4"  # 0.63 s, about 20 cells
    out = tmp_path / "r"
    assert main(["analyze", str(clip), "--um-per-px", "0.3", "--out", str(out), "--report"]) == 0
    cap = capsys.readouterr()
    s = json.loads((out / "summary.json").read_text())
    q = s["quality"]
    assert q["level"] == "fail"
    assert "verdict: not reliable" in cap.out
    assert "CAUTION" not in cap.out and "warning" not in cap.out.lower()  # findings: stderr only
    for c in q["checks"]:  # every finding on the console too
        assert c["message"] in " ".join(cap.err.split())
    html = (out / "report.html").read_text()
    assert 'data-level="fail"' in html
    assert "at or above the lower reference limit" not in html  # no pass mark under "not reliable"
    assert main(["analyze", str(clip), "--um-per-px", "0.3", "--out", str(out), "--json", "-q"]) == 0
    js = json.loads(capsys.readouterr().out)  # strictly valid JSON (no NaN)
    assert js["quality"]["level"] == "fail"


def test_provenance_says_what_the_file_said_and_what_won(data_dir, tmp_path, capsys):
    clip = data_dir / "videos" / "svia" / "S_0002.mp4"  # a 30-fps file
    out = tmp_path / "r"
    assert main(["analyze", str(clip), "--um-per-px", "0.3", "--fps", "50", "--out", str(out), "-q"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["input"]["fps_in_file"] == pytest.approx(30.0, abs=0.01)
    assert s["calibration"]["fps"] == 50.0 and s["calibration"]["sources"]["fps"] == "user"
    assert s["input"]["calibration_offered"]["fps"]["file"] == pytest.approx(30.0, abs=0.01)
    capsys.readouterr()
    assert main(["analyze", str(clip), "--preset", "visem", "--um-per-px", "0.3", "--out", str(out),
                 "-q", "--json"]) == 0  # fmt: skip
    s = json.loads(capsys.readouterr().out)
    assert s["calibration"]["sources"]["um_per_px"] == "user"
    assert not any("image scale" in w for w in s["warnings"])  # the scale is the user's
    assert any("chamber depth" in w and "preset:visem" in w for w in s["warnings"])


def test_nothing_graded_is_a_dash_a_sentence_and_a_hint(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    folder = tmp_path / "blank"
    folder.mkdir()
    for i in range(12):
        Image.fromarray(np.full((120, 160), 90, np.uint8)).save(folder / f"f_{i}.png")
    assert main(["analyze", str(folder), "--preset", "visem", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out.lower() and "—" in out and "Hint" in out
    assert "verdict: not reliable" in out
    assert main(["analyze", str(folder), "--preset", "visem", "--out", str(tmp_path / "r"),
                 "--json", "-q"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["percentages"]["rapid"] is None


def test_messages_name_cli_flags_and_exit_codes_are_fixed(tmp_path, capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("spermlab ")
    (tmp_path / "a.csv").write_text("id,x\n1,2\n")
    (tmp_path / "b.csv").write_text("id,x\n2,3\n")
    assert main(["evaluate", "agreement", "--pred", str(tmp_path), "--ref", str(tmp_path / "b.csv")]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["evaluate", "agreement", "--pred", str(tmp_path / "a.csv"), "--ref",
                 str(tmp_path / "b.csv")]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert "--only-shared" in err and "Traceback" not in err
    assert main(["analyze", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "nope.mp4" in err and "Errno" not in err
    assert main(["analyze", str(tmp_path), "--out", str(tmp_path / "r"), "--bogus"]) == 2


def test_gaps_in_a_frame_folder_are_named_and_allowed_on_request(data_dir, tmp_path, capsys):
    src = _frames(data_dir, tmp_path / "in", [n for n in range(30) if n not in (10, 11)])
    out = tmp_path / "r"
    assert main(["analyze", str(src), "--preset", "visem", "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert "frames 10-11 missing" in err and "--allow-gaps" in err and not out.exists()
    assert main(["analyze", str(src), "--preset", "visem", "--out", str(out), "-q", "--allow-gaps"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert (s["input"]["missing_frames"], s["n_frames"]) == (2, 28)


def test_convert_uses_the_frame_size_the_results_record(sim_video, tmp_path):
    out = tmp_path / "r"
    assert main(["analyze", str(sim_video), "--um-per-px", "0.25", "--out", str(out), "-q"]) == 0
    assert main(["convert", str(out), "--to", "visem", "--out", str(tmp_path / "v"), "-q"]) == 0
    import pandas as pd

    tracks = pd.read_parquet(out / "tracks.parquet")
    f = int(tracks["frame"].iloc[0])
    line = next((tmp_path / "v" / "labels_ftid").glob(f"*_frame_{f}_with_ftid.txt")).read_text().split()
    x = float(line[2]) * 320  # the simulated clip is 320x240, not VISEM's 640x480
    assert min(abs(tracks.loc[tracks["frame"] == f, "x"] - x)) < 0.01


def test_evaluate_tables_are_labelled_and_a_near_empty_prediction_gets_a_hint(data_dir, tmp_path, capsys):
    gt = data_dir / "visem_tracking/11"
    few = tmp_path / "few.csv"
    few.write_text("frame,x,y,w,h,cls,score\n0,100,100,16,17,0,0.9\n1,100,100,16,17,0,0.9\n")
    assert main(["evaluate", "detection", "--pred", str(few), "--gt", str(gt / "labels")]) == 0
    cap = capsys.readouterr()
    assert "misses almost everything" in " ".join(cap.err.split())
    assert "sperm" in cap.out and "row 0" not in cap.out
    empty = tmp_path / "empty.csv"
    empty.write_text("frame,x,y,w,h,cls,score\n")
    assert main(["evaluate", "detection", "--pred", str(empty), "--gt", str(gt)]) == 1
    assert "holds no boxes" in capsys.readouterr().err


def test_a_polarity_given_by_the_user_is_used_and_recorded(sim_video, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["analyze", str(sim_video), "-q", "--um-per-px", "0.25", "--polarity", "bright",
                 "--out", str(out)]) == 0  # fmt: skip
    det = json.loads((out / "summary.json").read_text())["parameters"]["detector"]
    assert (det["polarity"], det["polarity_source"]) == ("bright", "user")
    assert "polarity_evidence" not in det  # nothing was chosen automatically
