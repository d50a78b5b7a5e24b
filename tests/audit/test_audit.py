"""The audit finds one planted instance of every rule in a copy of real data, and nothing new."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from spermlab.audit import RULES, audit_dataset
from spermlab.cli import main

N = 60


def _copy(data_dir: Path, dest: Path) -> Path:
    """Frames 0-59 of VISEM-Tracking video 11: labels copied, images linked."""
    src = data_dir / "visem_tracking" / "11"
    for sub in ("images", "labels", "labels_ftid"):
        (dest / sub).mkdir(parents=True)
    for f in range(N):
        (dest / "images" / f"11_frame_{f}.jpg").symlink_to(src / "images" / f"11_frame_{f}.jpg")
        shutil.copy(src / "labels" / f"11_frame_{f}.txt", dest / "labels")
        shutil.copy(src / "labels_ftid" / f"11_frame_{f}_with_ftid.txt", dest / "labels_ftid")
    return dest


class Frame:
    """Both label files of one frame, edited together line by line."""

    def __init__(self, root: Path, f: int) -> None:
        self.lab = root / "labels" / f"11_frame_{f}.txt"
        self.ftid = root / "labels_ftid" / f"11_frame_{f}_with_ftid.txt"
        self.rows = [ln.split() for ln in self.ftid.read_text().splitlines() if ln.strip()]

    def save(self) -> None:
        self.ftid.write_text("".join(" ".join(r) + "\n" for r in self.rows))
        self.lab.write_text("".join(" ".join(r[1:]) + "\n" for r in self.rows))


def _plant(root: Path) -> set[str]:
    def edit(f, fn):
        fr = Frame(root, f)
        fn(fr.rows)
        fr.save()

    edit(2, lambda r: r.__setitem__(0, [r[0][0], "0", "0.5", "0.5"]))                # F001
    edit(4, lambda r: r.append(["newB001", "0", "0.99", "0.5", "0.1", "0.03"]))      # B001
    edit(6, lambda r: r.append(["newB002", "0", "0.013", "0.5", "0.026", "0.0375"]))  # B002
    edit(8, lambda r: r.append(["newB003", "0", "0.5", "0.9", "0.0005", "0.0375"]))  # B003
    edit(10, lambda r: r.append(["newB004", *r[0][1:]]))                              # B004
    edit(12, lambda r: r.append(["newB006", "0", "0.5", "0.95", "0.3", "0.09"]))     # B006
    t = Frame(root, 20).rows[3][0]
    edit(20, lambda r: r.__setitem__(slice(None), [x for x in r if x[0] != t]))       # T001
    t2 = Frame(root, 30).rows[5][0]
    edit(30, lambda r: [x.__setitem__(2, "0.95" if float(x[2]) < 0.5 else "0.05")  # T002
                        for x in r if x[0] == t2])
    edit(1, lambda r: r.append(["newT003", "0", "0.7", "0.05", "0.0265625", "0.0375"]))  # T003
    edit(58, lambda r: r.append(["newT003", "0", "0.7", "0.05", "0.0265625", "0.0375"]))
    t4 = Frame(root, 32).rows[7][0]
    for f in range(32, 40, 2):                                                         # T004
        edit(f, lambda r: [x.__setitem__(slice(4, 6), ["0.09", "0.12"]) for x in r if x[0] == t4])
    t5 = Frame(root, 45).rows[2][0]
    edit(45, lambda r: [x.__setitem__(1, "2") for x in r if x[0] == t5])              # T005
    for sub, name in (("labels", "11_frame_60.txt"), ("labels_ftid", "11_frame_60_with_ftid.txt")):
        (root / sub / name).write_text("")                                            # C001
    from PIL import Image

    Image.open(root / "images" / "11_frame_59.jpg").save(root / "images" / "11_frame_60.jpg", quality=70)
    (root / "images" / "11_frame_40.jpg").unlink()                                     # I001
    (root / "images" / "11_frame_42.jpg").unlink()
    (root / "images" / "11_frame_42.jpg").write_bytes(b"\xff\xd8 not a jpeg")         # I002
    (root / "images" / "11_frame_44.jpg").unlink()
    (root / "images" / "11_frame_44.jpg").symlink_to((root / "images" / "11_frame_43.jpg").resolve())  # I003
    for sub, name in (("labels", "11_frame_50.txt"), ("labels_ftid", "11_frame_50_with_ftid.txt"),
                      ("images", "11_frame_50.jpg")):
        (root / sub / name).unlink()                                                    # I004
    # B005 (one size for most boxes) is in the copy already; C002 comes with the T005 plant:
    # the box given class 2 is the only one of its class, so that class is also rare
    return {r for r in RULES if r not in ("B005", "I005", "I006")}  # I005, I006: splits (YOLO test)


def _keys(result) -> set:
    """What identifies a finding; the class-level rules (B005, C002) by rule and class only,
    since their counts move with any planted box."""
    return {(f.rule, f.evidence.get("class")) if f.rule in ("B005", "C002") else
            (f.rule, Path(f.file).name if f.file else None, f.line, f.frame, f.track, f.message)
            for f in result.findings}  # fmt: skip


def test_every_planted_rule_is_found_and_nothing_else_new(data_dir, tmp_path):
    base = audit_dataset(_copy(data_dir, tmp_path / "base" / "v"))
    root = _copy(data_dir, tmp_path / "planted" / "v")
    planted = _plant(root)
    real = (data_dir / "visem_tracking" / "sperm_counts_per_frame.csv").read_text().splitlines()
    rows = [r for r in real[1:] if r.split(",")[0] in {f"11_frame_{f}" for f in range(N)}]
    (root.parent / "sperm_counts_per_frame.csv").write_text(
        "\n".join([real[0], *rows, "11_frame_60,0,0,0"]) + "\n")  # C003: the plants change counts
    res = audit_dataset(root)
    new = _keys(res) - _keys(base)
    new_rules = {k[0] for k in new}
    assert new_rules == planted, (sorted(planted - new_rules), sorted(new_rules - planted))
    f001 = [f for f in res.findings if f.rule == "F001" and f.frame is None and "11_frame_2" in (f.file or "")]
    assert f001 and f001[0].line == 1  # file and line of the malformed line


def test_real_video_11_and_svia(data_dir, tmp_path, capsys):
    v11 = audit_dataset(data_dir / "visem_tracking" / "11")
    c = v11.counts()
    assert v11.stats["frames"] == 1000 and v11.stats["boxes"] > 30000
    assert "F001" not in c and "B001" not in c  # the published files read cleanly
    svia = audit_dataset(data_dir / "videos" / "svia" / "subset_A" / "S_0004")
    assert svia.stats["frames"] == 82
    out = tmp_path / "a.json"
    code = main(["audit", str(data_dir / "visem_tracking" / "11"), "--json-file", str(out), "-q",
                 "--fail-on", "error"])  # fmt: skip
    data = json.loads(out.read_text())
    assert data[0]["counts"] == c
    assert code == (1 if any(RULES[r].severity == "error" for r in c) else 0)
    assert main(["audit", str(tmp_path), "-q"]) == 1  # not a dataset: a clear error
    assert "VISEM-Tracking" in capsys.readouterr().err
    assert main(["audit", str(data_dir / "visem_tracking" / "11"), "--fail-on", "fatal"]) == 2


def test_docs_table_lists_every_rule():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "audit.md").read_text()
    for r in RULES.values():
        assert f"| {r.id} | {r.severity} | {r.title} |" in doc


def test_yolo_dataset_leakage(data_dir, tmp_path):
    from spermlab.detect.learned.dataset import Split, export_yolo_dataset

    v = _copy(data_dir, tmp_path / "11")
    split = Split(train={"11": list(range(0, 5))}, val={"11": list(range(55, 60))}, rule="by hand")
    yaml = export_yolo_dataset([v], tmp_path / "ds", split=split)
    clean = audit_dataset(yaml).counts()
    assert "I005" not in clean and "I006" not in clean  # 51 frames (over 1 s) apart: no leak
    val = tmp_path / "ds" / "images" / "val"
    (val / "copy_of_3.jpg").symlink_to((tmp_path / "ds" / "images" / "train" / "11_frame_3.jpg").resolve())
    (val / "11_frame_6.jpg").symlink_to((v / "images" / "11_frame_6.jpg").resolve())  # 2 frames from train
    shutil.copy(v / "labels" / "11_frame_6.txt", tmp_path / "ds" / "labels" / "val" / "11_frame_6.txt")
    leaky = audit_dataset(tmp_path / "ds").counts()
    assert leaky.get("I005") == 1 and leaky.get("I006") == 1


def test_html_report_shows_every_rule_found_with_crops(data_dir, tmp_path):
    root = _copy(data_dir, tmp_path / "p")
    _plant(root)
    out = tmp_path / "audit.html"
    assert main(["audit", str(root), "--report", str(out), "-q"]) == 0
    html = out.read_text()
    res = audit_dataset(root)
    for rule in res.counts():
        assert f'data-rule="{rule}"' in html
    assert "Worst offenders" in html and html.count("data:image/jpeg") >= 3


def test_mot_file(tmp_path):
    # ground-truth layout: flag 1, class = cls + 1 (1 sperm, 2 cluster), visibility 1
    rows = [f"{f},1,{100 + f},100,16,17,1,1,1" for f in range(1, 8)]
    rows += [f"{f},2,{300 + f},200,16,17,1,1,1" for f in (1, 2, 5, 6)]  # T001: frames 3-4 missing
    rows[3] = "4,1,103,100,16,17,1,2,1"  # T005: track 1 turns cluster in frame 4
    rows.append("3,3,bad,200,16,17,1,1,1")  # F001
    path = tmp_path / "gt.txt"
    path.write_text("\n".join(rows) + "\n")
    res = audit_dataset(path)
    assert set(res.counts()) >= {"T001", "T005", "F001"}
    t5 = next(f for f in res.findings if f.rule == "T005")
    assert t5.track == 0 and t5.frame == 3  # read 0-based: MOT's id 1, frame 4
    assert "T002 (give --um-per-px and --fps)" in res.stats["not_applied"]


def test_box_size_histogram_per_class_counts_every_box(data_dir):
    res = audit_dataset(data_dir / "videos" / "svia" / "subset_A" / "S_0002")
    h = res.stats["box_area_histogram"]
    assert sum(h["sperm"]) == res.stats["boxes_per_class"]["sperm"]
    assert len(h["edges_px2"]) == len(h["sperm"]) + 1
