"""The video protocol end to end on tiny videos with a tiny network, in seconds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import require_module

require_module("torch", "pip install 'spermlab[deep]' (the test install has it)")
require_module("cv2", "pip install 'spermlab[deep]' (the test install has it)")

from spermlab.cli import main  # noqa: E402
from spermlab.predict.video_cv import build_network, match_targets  # noqa: E402
from tests.predict.test_video_features import _translating, write_video  # noqa: E402


@pytest.mark.needs_data
def test_match_targets_reads_the_visem_table_as_is_and_matches_stems(data_dir):
    from spermlab.errors import UsageError
    from spermlab.io.load import read_sample_table

    table = read_sample_table(data_dir / "visem" / "semen_analysis_data.csv")
    y = match_targets(["11", "1_2019", "999"], table, 3)
    assert y.loc["11"].tolist() == [11.0, 17.0, 72.0]  # the clinic's figures for video 11
    assert y.loc["1_2019"].tolist() == [51.0, 19.0, 30.0] and "999" not in y.index
    with pytest.raises(UsageError, match="no column for a"):
        match_targets(["11"], table, 4)


def test_match_targets_by_sample_id():
    from spermlab.errors import UsageError

    t = pd.DataFrame({"sample_id": ["v1", "v2"], "a": [1, 2], "b": [3, 4], "c": [5, 6], "d": [91, 88]})
    assert match_targets(["v2"], t, 4).loc["v2"].tolist() == [2.0, 4.0, 6.0, 88.0]
    with pytest.raises(UsageError, match="no video matches"):
        match_targets(["x"], pd.DataFrame({"sample_id": ["y"], "PR": [1], "NP": [2], "IM": [97]}), 3)


@pytest.mark.parametrize("arch", ["tiny", "resnet18", "resnet50", "inception_v3"])
def test_networks_predict_shares_that_sum_to_one(arch):
    import torch

    net = build_network(arch, 4).eval()
    with torch.no_grad():
        p = net(torch.randn(3, 3, 80, 80)).numpy()  # Inception needs at least 75 px
    assert p.shape == (3, 4) and np.allclose(p.sum(axis=1), 1, atol=1e-5) and (p >= 0).all()


def test_local_weights_must_fit_the_architecture(tmp_path):
    import torch
    import torchvision

    from spermlab.errors import UsageError

    good = tmp_path / "r18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), good)
    assert build_network("resnet18", 3, good) is not None
    with pytest.raises(UsageError, match="not a resnet50 state dict"):
        build_network("resnet50", 3, good)


def test_video_cv_protocol_runs_end_to_end(tmp_path, capsys):
    videos, rows = [], []
    for i in range(8):  # speed grows with the share of progressive cells
        speed = 0.5 * i
        v = tmp_path / "v" / f"s{i}.mp4"
        v.parent.mkdir(exist_ok=True)
        write_video(v, _translating(speed, 0.0, n=20, seed=i), fps=10)
        videos.append(str(v))
        rows.append({"sample_id": f"s{i}", "PR": 10.0 * i, "NP": 10.0, "IM": 90.0 - 10 * i})
    pd.DataFrame(rows).to_csv(tmp_path / "targets.csv", index=False)
    assert main(["predict", "video-features", *videos, "--out", str(tmp_path / "f"), "-q"]) == 0
    assert (tmp_path / "f" / "index.csv").is_file()
    args = ["predict", "video-cv", str(tmp_path / "f"), "--targets", str(tmp_path / "targets.csv"),
            "--arch", "tiny", "--input", "flow", "--folds", "4", "--epochs", "3", "--patience", "2",
            "--size", "32", "--batch-size", "4", "--predictions", str(tmp_path / "pred.csv"),
            "--report", str(tmp_path / "cv.html"), "--save", str(tmp_path / "m.pt"), "--json", "-q"]
    capsys.readouterr()
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    table = pd.DataFrame(out["table"])
    assert set(table["model"]) == {"zeror", "tiny"} and set(table["target"]) == {"PR", "NP", "IM"}
    assert out["samples"] == 8 and out["saved"]
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert np.allclose(pred[["PR", "NP", "IM"]].sum(axis=1), 100)
    assert pred[["PR", "NP", "IM"]].to_numpy().min() >= 0
    # ZeroR by hand on fold 1: the mean of the other samples' shares
    z = pred[pred["model"] == "zeror"].set_index("sample_id")
    assert ((z["PR"] > 0) & (z["PR"] < 70)).all()
    assert "<img" in (tmp_path / "cv.html").read_text()
    assert main(["predict", "video-apply", str(tmp_path / "m.pt"), str(tmp_path / "f"),
                 "--out", str(tmp_path / "applied.csv"), "-q"]) == 0
    applied = pd.read_csv(tmp_path / "applied.csv")
    assert len(applied) == 8 and np.allclose(applied[["PR", "NP", "IM"]].sum(axis=1), 100, atol=1e-3)


def test_video_cv_refuses_what_it_cannot_use(tmp_path, capsys):
    v = tmp_path / "s0.mp4"
    write_video(v, _translating(1.0, 0.0, n=12), fps=10)
    main(["predict", "video-features", str(v), "--out", str(tmp_path / "f"), "--kinds", "frame", "-q"])
    pd.DataFrame([{"sample_id": "s0", "PR": 1, "NP": 2, "IM": 97}]).to_csv(tmp_path / "t.csv", index=False)
    base = ["predict", "video-cv", str(tmp_path / "f"), "--targets", str(tmp_path / "t.csv"), "--arch", "tiny"]
    assert main([*base, "--input", "flow"]) == 2
    assert "no 'lk' images" in capsys.readouterr().err
    assert main([*base, "--input", "frame", "--folds", "3"]) == 2
    assert "3 folds need at least 3" in capsys.readouterr().err
    assert main([*base, "--arch", "vgg"]) == 2


def test_spread_keeps_first_and_last_second_of_each_sample():
    from spermlab.predict.video_cv import spread

    idx = pd.DataFrame({"sample_id": ["a"] * 10 + ["b"] * 3, "second": list(range(10)) + [0, 1, 2]})
    out = spread(idx.sample(frac=1, random_state=0), 4)
    assert out[out["sample_id"] == "a"]["second"].tolist() == [0, 3, 6, 9]
    assert out[out["sample_id"] == "b"]["second"].tolist() == [0, 1, 2]


def test_targets_may_be_semicolon_separated_with_decimal_commas(tmp_path):
    from spermlab.io.load import read_sample_table

    csv = tmp_path / "targets.csv"
    csv.write_text("sample_id;PR;NP;IM\nv1;10,5;20;69,5\n", encoding="utf-8")
    assert match_targets(["v1"], read_sample_table(csv), 3).loc["v1"].tolist() == [10.5, 20.0, 69.5]


def test_video_cv_on_a_folder_of_videos_makes_the_images_itself(tmp_path, capsys):
    rows = []
    (tmp_path / "v").mkdir()
    for i in range(6):
        write_video(tmp_path / "v" / f"s{i}.mp4", _translating(0.4 * i, 0.0, n=12, seed=i), fps=10)
        rows.append({"sample_id": f"s{i}", "PR": 10.0 * i, "NP": 10.0, "IM": 90.0 - 10 * i})
    pd.DataFrame(rows).to_csv(tmp_path / "t.csv", index=False)
    args = ["predict", "video-cv", str(tmp_path / "v"), "--targets", str(tmp_path / "t.csv"), "--arch", "tiny",
            "--folds", "3", "--epochs", "1", "--size", "32", "--batch-size", "4", "--json", "-q"]
    capsys.readouterr()
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 6
    assert (tmp_path / "v" / ".spermlab_video_features" / "s0" / "lk_0000.png").is_file()
    assert main(args) == 0  # the second run reuses the cached images
