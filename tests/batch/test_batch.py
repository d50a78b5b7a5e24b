"""spermlab batch: good samples done, bad ones reported, resumable, the same on Dask."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from spermlab.batch import query
from spermlab.cli import main

ENTRY = "import sys; from spermlab.cli import main; sys.exit(main(sys.argv[1:]))"
VOLATILE = ["seconds", "finished_at"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Four 1-s simulated videos, a corrupt, a truncated and an empty file, an empty folder."""
    from spermlab.simulate import SimulationConfig, simulate, write_simulation

    root = tmp_path_factory.mktemp("batch")
    folder = root / "in"
    folder.mkdir()
    for i in range(4):
        sim = simulate(SimulationConfig(duration_s=1.0, concentration=40, width=320, height=240), rng=i)
        files = write_simulation(sim, root / f"sim{i}", stem=f"s{i}")
        shutil.copy(files.video, folder / f"s{i}.mp4")
    (folder / "cut.mp4").write_bytes((folder / "s0.mp4").read_bytes()[:3000])
    data = bytearray((folder / "s1.mp4").read_bytes())
    data[len(data) // 3: len(data) // 3 + 2000] = bytes(2000)  # damaged in the middle
    (folder / "bad.mp4").write_bytes(bytes(data))
    (folder / "zero.mp4").write_bytes(b"")
    (folder / "nothing").mkdir()
    return folder


def _samples(out: Path) -> pd.DataFrame:
    t = query(out, "SELECT * FROM samples ORDER BY sample_id")
    return t.drop(columns=VOLATILE).reset_index(drop=True)


def _batch(inputs: Path, out: Path, *extra: str) -> int:
    return main(["batch", str(inputs), "--um-per-px", "0.25", "--depth-um", "20", "--out", str(out),
                 "-q", *extra])  # fmt: skip


@pytest.fixture(scope="module")
def clean(inputs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean") / "study"
    assert _batch(inputs, out, "--workers", "2") == 1  # some samples failed
    return out


def test_good_samples_are_done_and_bad_ones_reported(clean):
    ledger = json.loads((clean / "ledger.json").read_text())
    states = {k: v["state"] for k, v in ledger.items()}
    assert states == {"s0": "done", "s1": "done", "s2": "done", "s3": "done", "cut": "failed",
                      "zero": "failed", "nothing": "failed", "bad": "failed"}  # fmt: skip
    assert "bad.mp4" in ledger["bad"]["error"] and "decoding stopped" in ledger["bad"]["error"]
    assert "0-byte" in ledger["zero"]["error"] and "cut.mp4" in ledger["cut"]["error"]
    for sid in ("s0", "s3"):
        assert (clean / "samples" / sid / "summary.json").is_file()
    assert not (clean / "samples" / "cut").exists()  # a failed sample leaves no result
    t = _samples(clean)
    assert t["state"].tolist().count("done") == 4 and t["sample_id"].is_unique
    done = t[t["state"] == "done"]
    s0 = json.loads((clean / "samples" / "s0" / "summary.json").read_text())
    row = done.set_index("sample_id").loc["s0"]
    assert row["progressive"] == pytest.approx(s0["percentages"]["progressive"])
    assert row["n_graded"] == s0["n_graded"] and row["um_per_px"] == 0.25
    k = query(clean, "SELECT sample_id, count(*) AS n FROM kinematics GROUP BY 1 ORDER BY 1")
    assert dict(zip(k["sample_id"], k["n"], strict=True))["s0"] == len(
        pd.read_parquet(clean / "samples" / "s0" / "kinematics.parquet"))
    tr = query(clean, "SELECT count(*) AS n FROM tracks WHERE sample_id = 's1'")
    assert tr["n"][0] == len(pd.read_parquet(clean / "samples" / "s1" / "tracks.parquet"))
    assert len(pd.read_csv(clean / "summary.csv")) == 8


def test_a_rerun_skips_what_is_done_and_redoes_what_changed(inputs, clean, tmp_path, capsys):
    out = tmp_path / "study"
    shutil.copytree(clean, out)
    before = json.loads((out / "ledger.json").read_text())
    assert _batch(inputs, out, "--json") == 1
    res = json.loads(capsys.readouterr().out)
    assert res["done"] == [] and sorted(res["skipped"]) == sorted(before)
    assert json.loads((out / "ledger.json").read_text()) == before  # nothing rerun
    changed = tmp_path / "in"
    shutil.copytree(inputs, changed)
    shutil.copy(changed / "s1.mp4", changed / "s0.mp4")  # s0's input changed
    assert main(["batch", str(changed), "--um-per-px", "0.25", "--depth-um", "20", "--out", str(out),
                 "-q", "--json"]) == 1  # fmt: skip
    assert json.loads(capsys.readouterr().out)["done"] == ["s0"]
    (changed / "cut.mp4").write_bytes((changed / "s2.mp4").read_bytes())  # repaired
    assert main(["batch", str(changed), "--um-per-px", "0.25", "--depth-um", "20", "--out", str(out),
                 "-q", "--json", "--retry-failed"]) == 1  # fmt: skip
    res = json.loads(capsys.readouterr().out)
    assert res["done"] == ["cut"] and sorted(res["failed"]) == ["bad", "nothing", "zero"]
    t = _samples(out)
    assert (t["sample_id"] == "cut").sum() == 1 and t.set_index("sample_id").loc["cut", "state"] == "done"


def test_a_manifest_overrides_per_sample(inputs, tmp_path):
    m = tmp_path / "m.csv"
    m.write_text(f"path,sample_id,um_per_px\n{inputs / 's0.mp4'},a,0.3\n{inputs / 's1.mp4'},b,\n")
    out = tmp_path / "study"
    assert main(["batch", str(m), "--um-per-px", "0.25", "--out", str(out), "-q"]) == 0
    t = _samples(out).set_index("sample_id")
    assert (t.loc["a", "um_per_px"], t.loc["b", "um_per_px"]) == (0.3, 0.25)
    bad = tmp_path / "bad.csv"
    bad.write_text("path,um_per_px\nx.mp4,thin\n")
    assert main(["batch", str(bad), "--out", str(tmp_path / "o"), "-q"]) == 1


def test_killed_halfway_then_rerun_gives_the_clean_store(inputs, clean, tmp_path):
    out = tmp_path / "study"
    cmd = [sys.executable, "-c", ENTRY, "batch", str(inputs), "--um-per-px", "0.25", "--depth-um", "20",
           "--out", str(out), "-q", "--workers", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        ledger = out / "ledger.json"
        if ledger.is_file() and sum(v["state"] == "done" for v in json.loads(ledger.read_text()).values()) >= 1:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the batch and its workers
    proc.wait()
    half = json.loads((out / "ledger.json").read_text())
    assert 1 <= len(half) < 8, "killed too late to test anything"
    assert _batch(inputs, out) == 1
    pd.testing.assert_frame_equal(_samples(out), _samples(clean))
    assert not list((out / "samples").glob(".*partial*"))


def test_dask_local_cluster_gives_the_same_store(inputs, clean, tmp_path):
    from tests.conftest import require_module

    require_module("dask.distributed", "pip install 'spermlab[dask]' (make test installs it)")
    out = tmp_path / "study"
    assert _batch(inputs, out, "--dask", "local", "--workers", "2") == 1
    pd.testing.assert_frame_equal(_samples(out), _samples(clean))


def test_a_real_dask_cluster_with_a_worker_killed_midway(inputs, clean, tmp_path):
    from tests.conftest import require_module

    require_module("dask.distributed", "pip install 'spermlab[dask]' (make test installs it)")
    sched_file = tmp_path / "scheduler.json"
    bindir = Path(sys.executable).parent
    procs = [subprocess.Popen([str(bindir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(sched_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]  # fmt: skip
    try:
        deadline = time.time() + 60
        while not sched_file.is_file() and time.time() < deadline:
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        for _ in range(2):
            procs.append(subprocess.Popen([str(bindir / "dask"), "worker", address, "--nworkers", "1",
                                           "--nthreads", "1", "--no-dashboard"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        out = tmp_path / "study"
        cmd = [sys.executable, "-c", ENTRY, "batch", str(inputs), "--um-per-px", "0.25", "--depth-um",
               "20", "--out", str(out), "-q", "--scheduler", address]  # fmt: skip
        batch = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ledger = out / "ledger.json"
        while time.time() < deadline + 120 and not ledger.is_file():
            time.sleep(0.05)
        procs[1].kill()  # one worker dies in the middle of the batch
        _, err = batch.communicate(timeout=300)
        assert batch.returncode == 1, err.decode()
        rows = json.loads(ledger.read_text())
        assert len(rows) == 8 and sum(v["state"] == "done" for v in rows.values()) == 4
        pd.testing.assert_frame_equal(_samples(out), _samples(clean))
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_cohort_page_and_query(clean, tmp_path, capsys):
    out = tmp_path / "study"
    shutil.copytree(clean, out)
    assert main(["report", str(out), "-q"]) == 0
    html = (out / "report.html").read_text()
    assert html.count('data-state="done"') == 4 and html.count('data-state="failed"') == 4
    assert "0-byte" in html and "WHO 2021 lower limit" in html or "lower reference limits" in html
    assert main(["query", str(out), "SELECT count(*) AS n FROM samples WHERE state = 'done'", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 4}]
    assert main(["query", str(out), "SELEC"]) == 2
    assert main(["query", str(tmp_path), "SELECT 1"]) == 1
