"""Audit one dataset: read it leniently, apply every rule, return the findings with evidence.

Layouts: a VISEM-Tracking video folder (``labels/``, ``labels_ftid/``, ``images/``) and a
Pascal VOC folder (SVIA's ``S_0004_0001.xml``; ``FOLDER/STEM`` for one video of several).
The readers run in collect mode, so a malformed line is a finding (F001, or the box rule it
breaks) instead of an error. Box line numbers are the box's position in its frame's file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spermlab.audit.findings import RULES, SEVERITIES, Finding
from spermlab.errors import FormatError
from spermlab.tables import CLASS_NAMES

__all__ = ["AuditParams", "AuditResult", "audit_dataset"]


@dataclass(frozen=True)
class AuditParams:
    """Thresholds of the rules (docs/audit.md gives the reasons)."""

    duplicate_iou: float = 0.9
    default_size_share: float = 0.2
    outlier_z: float = 4.0
    min_log_area_spread: float = 0.25
    rare_class_share: float = 0.05
    max_speed_um_s: float = 300.0
    reuse_gap_s: float = 1.0
    size_cv: float = 0.5
    border_px: float = 0.5


@dataclass
class AuditResult:
    """The findings on one dataset and the numbers that describe it."""

    dataset: str
    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Findings per rule id."""
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.rule] = out.get(f.rule, 0) + 1
        return dict(sorted(out.items()))

    def worst(self) -> str | None:
        """The highest severity found (None with no finding)."""
        return max((f.severity for f in self.findings), key=SEVERITIES.__getitem__, default=None)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "stats": self.stats, "counts": self.counts(),
                "findings": [f.to_dict() for f in self.findings]}  # fmt: skip


def audit_dataset(path: str | Path, *, um_per_px: float | None = None, fps: float | None = None,
                  params: AuditParams | None = None, counts: str | Path | None = None) -> AuditResult:  # fmt: skip
    """Audit a VISEM-Tracking video folder or a Pascal VOC folder.

    Parameters
    ----------
    path : str or Path
        The dataset: a VISEM-Tracking video folder, a folder of VOC XML files, or
        ``FOLDER/STEM`` for one video of a VOC folder.
    um_per_px, fps : float, optional
        Calibration for the speed rule (T002); VISEM-Tracking defaults to the ``visem``
        preset. Without it T002 is not applied (said in ``stats``).
    params : AuditParams, optional
    counts : str or Path, optional
        A per-frame counts CSV (VISEM-Tracking's ``sperm_counts_per_frame.csv``); default:
        the one beside a VISEM-Tracking video folder, when there is one.

    Returns
    -------
    AuditResult
    """
    p = Path(path)
    params = params or AuditParams()
    if p.name.endswith((".yaml", ".yml")) or (p.is_dir() and (p / "data.yaml").is_file()):
        from spermlab.audit.yolo import audit_yolo_dataset

        return audit_yolo_dataset(p if p.is_file() else p / "data.yaml", params, fps=fps or 50.0)
    if p.is_file() and p.suffix == ".txt":
        return _audit_mot(p, um_per_px, fps, params)
    if p.is_dir() and ((p / "labels").is_dir() or (p / "labels_ftid").is_dir()):
        counts = Path(counts) if counts is not None else p.parent / "sperm_counts_per_frame.csv"
        return _audit_visem(p, um_per_px, fps, params, counts if counts.is_file() else None)
    if (p.is_dir() and any(p.glob("*.xml"))) or (p.parent.is_dir() and any(p.parent.glob(f"{p.name}_*.xml"))):
        return _audit_voc(p, params)
    raise FormatError(p, "expected a VISEM-Tracking video folder (labels/, labels_ftid/), a YOLO "
                         "dataset (data.yaml) or a folder of Pascal VOC .xml files (FOLDER/STEM "
                         "for one video of several)")  # fmt: skip


def _reader_findings(problems: list[FormatError]) -> list[Finding]:
    out = []
    for e in problems:
        msg = e.message
        rule = "B001" if "outside the image" in msg or "expected a box inside" in msg else (
            "B003" if "width > 0" in msg else "F001")  # fmt: skip
        out.append(Finding(rule, e.path, e.line_no, message=msg, evidence={"line": e.line}))
    return out


def _audit_visem(folder: Path, um_per_px, fps, params: AuditParams, counts: Path | None) -> AuditResult:
    from spermlab.calibration import preset
    from spermlab.io.visem import read_visem_detections, read_visem_tracks

    res = AuditResult(str(folder))
    problems: list[FormatError] = []
    det = read_visem_detections(folder, problems=problems)
    tr_problems: list[FormatError] = []
    tracks, id_map = (read_visem_tracks(folder, problems=tr_problems) if (folder / "labels_ftid").is_dir()
                      else (None, {}))  # fmt: skip
    seen = {(e.path, e.line_no, e.message) for e in problems}
    res.findings += _reader_findings(problems + [e for e in tr_problems if (e.path, e.line_no, e.message) not in seen])
    files = _label_files(folder / "labels")
    stem = next(iter(files.values())).name.rsplit("_frame_", 1)[0] if files else folder.name
    w, h = _image_size(folder, files)
    where = _where(det, lambda f: str(folder / "labels" / f"{stem}_frame_{f}.txt"))
    res.findings += _box_rules(det, where, w, h, params)
    res.findings += _class_rules(det, sorted(files), lambda f: str(files[f]), params)
    res.findings += _image_rules(folder, files, stem)
    if counts is not None:
        res.findings += _count_rule(det, files, stem, counts)
    cal = preset("visem")
    um = um_per_px if um_per_px is not None else cal.um_per_px
    rate = fps if fps is not None else cal.fps
    if tracks is not None:
        res.findings += _track_rules(tracks, id_map, um, rate, params,
                                     lambda f: str(folder / "labels_ftid" / f"{stem}_frame_{f}_with_ftid.txt"))
    res.stats = _stats(det, tracks, files) | {
        "calibration_for_speed": {"um_per_px": um, "fps": rate,
                                  "source": "user" if um_per_px or fps else "preset:visem"}}
    return res


def _audit_mot(path: Path, um_per_px, fps, params: AuditParams) -> AuditResult:
    """A MOTChallenge file: no frame size or images, so box rules that need them are not applied
    (B001, B002 need the frame size; said in ``stats``)."""
    from spermlab.io.load import _mot_kind
    from spermlab.io.mot import read_mot

    res = AuditResult(str(path))
    problems: list[FormatError] = []
    tracks = read_mot(path, kind=_mot_kind(path), problems=problems)
    res.findings += _reader_findings(problems)
    lines = _mot_lines(path)
    where = pd.DataFrame({"file": str(path), "line": [lines.get((int(f), int(t)), 0) for f, t in
                                                       zip(tracks["frame"], tracks["track_id"], strict=True)]})
    huge = 10**9  # no frame size: nothing is outside or at the border
    res.findings += [f for f in _box_rules(tracks, where, huge, huge, params) if f.rule not in ("B001", "B002")]
    res.findings += _class_rules(tracks, [], str, params)
    if um_per_px and fps:
        res.findings += _track_rules(tracks, {}, um_per_px, fps, params, lambda f: str(path))
    else:
        from dataclasses import replace

        no_speed = replace(params, max_speed_um_s=float("inf"))  # no scale: no speed rule
        res.findings += _track_rules(tracks, {}, 1.0, fps or 50.0, no_speed, lambda f: str(path))
    res.stats = _stats(tracks, tracks, {}) | {"not_applied": ["B001", "B002", "images"] +
                                              ([] if um_per_px and fps else ["T002 (give --um-per-px and --fps)"])}
    return res


def _mot_lines(path: Path) -> dict[tuple[int, int], int]:
    """(0-based frame, 0-based track id) -> 1-based line of a MOT file."""
    out = {}
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        parts = line.split(",")
        try:
            out[(int(parts[0]) - 1, int(parts[1]) - 1)] = n  # read as 0-based frame and id
        except (ValueError, IndexError):
            continue
    return out


def _audit_voc(path: Path, params: AuditParams) -> AuditResult:
    from spermlab.io.voc import read_voc_folder

    folder, stem = (path, None) if path.is_dir() else (path.parent, path.name)
    res = AuditResult(str(path))
    problems: list[FormatError] = []
    det = read_voc_folder(folder, stem=stem, problems=problems)
    res.findings += _reader_findings(problems)
    xmls = {int(m.group(2)) - 1: x for x in sorted(folder.glob("*.xml"))
            if (m := re.fullmatch(r"(.+)_(\d+)\.xml", x.name)) and (stem is None or m.group(1) == stem)}
    w, h = _voc_size(next(iter(xmls.values()))) if xmls else (0, 0)
    where = _where(det, lambda f: str(xmls.get(f, folder)))
    from dataclasses import replace as _replace

    # in XML the box's position is its <object> number, not a line: said as such
    res.findings += [_replace(f, line=None, evidence={**f.evidence, "object": f.line})
                     for f in _box_rules(det, where, w, h, params)]  # fmt: skip
    res.findings += _class_rules(det, sorted(xmls), lambda f: str(xmls[f]), params)
    res.findings += _gap_rule(sorted(xmls), lambda f: str(xmls[f]))
    res.stats = _stats(det, None, xmls) | {"calibration_for_speed": None}
    return res


# -- rules ----------------------------------------------------------------------------------

def _where(det: pd.DataFrame, file_of) -> pd.DataFrame:
    """File and line (position in its frame's file) of every box."""
    return pd.DataFrame({"file": [file_of(int(f)) for f in det["frame"]],
                         "line": det.groupby("frame").cumcount().to_numpy() + 1})  # fmt: skip


def _box_rules(det: pd.DataFrame, where: pd.DataFrame, width: int, height: int,
               p: AuditParams) -> list[Finding]:  # fmt: skip
    out: list[Finding] = []
    if det.empty:
        return out
    x0, x1 = det["x"] - det["w"] / 2, det["x"] + det["w"] / 2
    y0, y1 = det["y"] - det["h"] / 2, det["y"] + det["h"] / 2

    def add(rule, i, message, **ev):
        ev["xy"] = [float(det["x"][i]), float(det["y"][i])]  # where to look in the image
        out.append(Finding(rule, where["file"][i], int(where["line"][i]), frame=int(det["frame"][i]),
                           message=message, evidence=ev))  # fmt: skip

    for i in np.flatnonzero(((x0 < -1) | (y0 < -1) | (x1 > width + 1) | (y1 > height + 1)).to_numpy()):
        add("B001", i, "box outside the frame", box=[x0[i], y0[i], x1[i], y1[i]], frame_size=[width, height])
    edge = ((x0.abs() <= p.border_px) | (y0.abs() <= p.border_px) | ((x1 - width).abs() <= p.border_px)
            | ((y1 - height).abs() <= p.border_px)).to_numpy()  # fmt: skip
    for i in np.flatnonzero(edge):
        add("B002", i, "box clipped at the border", box=[x0[i], y0[i], x1[i], y1[i]])
    for i in np.flatnonzero(((det["w"] < 1) | (det["h"] < 1)).to_numpy()):
        add("B003", i, "degenerate box", size_px=[det["w"][i], det["h"][i]])
    for _, g in det.groupby("frame"):
        idx = g.index.to_numpy()
        if len(idx) < 2:
            continue
        iou = _iou(g[["x", "y", "w", "h"]].to_numpy())
        a, b = np.nonzero(np.triu(iou > p.duplicate_iou, 1))
        for i, j in zip(a, b, strict=True):
            add("B004", idx[j], f"duplicate of line {int(where['line'][idx[i]])}", iou=float(iou[i, j]))
    for cls, g in det.groupby("cls"):
        sizes = (g["w"].round(1).astype(str) + "x" + g["h"].round(1).astype(str)).value_counts()
        if len(g) >= 20 and sizes.iloc[0] / len(g) > p.default_size_share:
            out.append(Finding("B005", message=f"{sizes.iloc[0]} of {len(g)} {_name(cls)} boxes are "
                                               f"exactly {sizes.index[0]} px",
                               evidence={"class": _name(cls), "size_px": sizes.index[0],
                                         "share": float(sizes.iloc[0] / len(g))}))  # fmt: skip
        la = np.log(np.maximum(g["w"] * g["h"], 1e-6)).to_numpy()
        # floor 0.25: when most boxes share one size (B005) the MAD is ~0 and any hand-drawn
        # box would be an "outlier"; z > 4 then means an area over e (2.7x) from the median
        mad = max(1.4826 * float(np.median(np.abs(la - np.median(la)))), p.min_log_area_spread)
        if len(g) >= 20:
            z = (la - np.median(la)) / mad
            for k in np.flatnonzero(np.abs(z) > p.outlier_z):
                i = g.index[k]
                add("B006", i, f"{_name(cls)} box area {det['w'][i] * det['h'][i]:.0f} px² is an outlier",
                    robust_z=float(z[k]), median_area_px2=float(np.exp(np.median(la))))
    return out


def _iou(b: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
    iw = np.clip(np.minimum(x1[:, None], x1) - np.maximum(x0[:, None], x0), 0, None)
    ih = np.clip(np.minimum(y1[:, None], y1) - np.maximum(y0[:, None], y0), 0, None)
    inter = iw * ih
    area = b[:, 2] * b[:, 3]
    return inter / np.maximum(area[:, None] + area - inter, 1e-12)


def _class_rules(det: pd.DataFrame, frames: list[int], file_of, p: AuditParams) -> list[Finding]:
    out = []
    with_boxes = set(det["frame"].tolist())
    for f in frames:
        if f not in with_boxes:
            out.append(Finding("C001", file_of(f), frame=f, message="no objects in this frame"))
    counts = det["cls"].value_counts()
    total = int(counts.sum())
    for cls, n in counts.items():
        if total and n / total < p.rare_class_share:
            out.append(Finding("C002", message=f"class {_name(cls)}: {n} of {total} boxes "
                                               f"({100 * n / total:.1f} %)",
                               evidence={"class": _name(cls), "boxes": int(n), "share": n / total,
                                         "advice": "weigh the class in the loss, or set its own "
                                                   "decision threshold; resampling changes the "
                                                   "predicted probabilities (miscalibration). "
                                                   "The data is not changed by the audit."}))  # fmt: skip
    return out


def _track_rules(tracks: pd.DataFrame, id_map: dict, um: float, fps: float, p: AuditParams,
                 file_of) -> list[Finding]:  # fmt: skip
    out = []
    for tid, t in tracks.sort_values(["track_id", "frame"]).groupby("track_id"):
        fr = t["frame"].to_numpy()
        name = id_map.get(int(tid), str(tid))
        missing = int(fr[-1] - fr[0] + 1 - len(fr))
        if missing:
            out.append(Finding("T001", file_of(int(fr[0])), frame=int(fr[0]), track=int(tid),
                               message=f"track {name}: {missing} frame(s) missing between "
                                       f"{int(fr[0])} and {int(fr[-1])}",
                               evidence={"track": name, "missing": missing}))  # fmt: skip
        if len(fr) > 1:
            dt = np.diff(fr) / fps
            d = np.hypot(np.diff(t["x"].to_numpy()), np.diff(t["y"].to_numpy())) * um
            speed = d / dt
            for k in np.flatnonzero(speed > p.max_speed_um_s):
                out.append(Finding("T002", file_of(int(fr[k + 1])), frame=int(fr[k + 1]), track=int(tid),
                                   message=f"track {name} jumps {d[k]:.1f} µm in {dt[k]:.3f} s",
                                   evidence={"track": name, "speed_um_s": float(speed[k]),
                                             "limit_um_s": p.max_speed_um_s}))  # fmt: skip
            for k in np.flatnonzero(dt > p.reuse_gap_s):
                out.append(Finding("T003", file_of(int(fr[k + 1])), frame=int(fr[k + 1]), track=int(tid),
                                   message=f"track {name} reappears after {dt[k]:.2f} s",
                                   evidence={"track": name, "absent_s": float(dt[k])}))  # fmt: skip
        area = (t["w"] * t["h"]).to_numpy()
        if len(area) >= 5 and area.std() / area.mean() > p.size_cv:
            out.append(Finding("T004", file_of(int(fr[0])), frame=int(fr[0]), track=int(tid),
                               message=f"track {name}: box area varies by {100 * area.std() / area.mean():.0f} %",
                               evidence={"track": name, "area_cv": float(area.std() / area.mean())}))  # fmt: skip
        classes = t["cls"].unique()
        if len(classes) > 1:
            k = int(np.flatnonzero(t["cls"].to_numpy() != t["cls"].to_numpy()[0])[0])
            out.append(Finding("T005", file_of(int(fr[k])), frame=int(fr[k]), track=int(tid),
                               message=f"track {name} changes class: {[_name(c) for c in classes]}",
                               evidence={"track": name, "classes": [_name(c) for c in classes]}))  # fmt: skip
    return out


def _count_rule(det: pd.DataFrame, files: dict[int, Path], stem: str, counts: Path) -> list[Finding]:
    """Boxes per frame and class (the boxes already read) against the counts file's rows."""
    from spermlab.io.visem import read_frame_counts

    table = read_frame_counts(counts, problems=[])
    mine = table[table["video_id"].astype(str) == stem]
    if mine.empty:
        return []
    got = det.groupby(["frame", "cls"]).size().unstack(fill_value=0)
    out = []
    for row in mine.itertuples():
        for cls, col in ((0, "sperm"), (1, "cluster"), (2, "small_or_pinhead")):
            n = int(got.loc[row.frame, cls]) if row.frame in got.index and cls in got.columns else 0
            want = int(getattr(row, col))
            if n != want and row.frame in files:
                out.append(Finding("C003", str(files[row.frame]), frame=int(row.frame),
                                   message=f"{n} {col} boxes, the counts file says {want}",
                                   evidence={"class": col, "boxes": n, "counts_file": want,
                                             "file": str(counts)}))  # fmt: skip
    return out


def _image_rules(folder: Path, files: dict[int, Path], stem: str) -> list[Finding]:
    from spermlab.io.frames import pil_open

    out = []
    images = folder / "images"
    if not images.is_dir():
        return [Finding("I001", str(folder / "labels"), message="no images/ folder for the labels")]
    hashes: dict[str, Path] = {}
    for f, label in sorted(files.items()):
        img = next((images / f"{stem}_frame_{f}{s}" for s in (".jpg", ".png", ".jpeg")
                    if (images / f"{stem}_frame_{f}{s}").is_file()), None)  # fmt: skip
        if img is None:
            out.append(Finding("I001", str(label), frame=f, message=f"no image for {label.name}"))
            continue
        try:
            with pil_open(img) as im:
                digest = hashlib.sha256(np.asarray(im.convert("L")).tobytes()).hexdigest()
        except Exception as e:  # any decoding failure is the finding
            out.append(Finding("I002", str(img), frame=f, message=f"unreadable: {e}"))
            continue
        if digest in hashes:
            out.append(Finding("I003", str(img), frame=f, message=f"same pixels as {hashes[digest].name}",
                               evidence={"same_as": str(hashes[digest])}))  # fmt: skip
        else:
            hashes[digest] = img
    return out + _gap_rule(sorted(files), lambda f: str(files[f]))


def _gap_rule(frames: list[int], file_of) -> list[Finding]:
    out = []
    for a, b in zip(frames, frames[1:], strict=False):
        if b != a + 1:
            out.append(Finding("I004", file_of(b), frame=b, message=f"frames {a + 1}-{b - 1} missing",
                               evidence={"after": a, "next": b}))  # fmt: skip
    return out


# -- helpers ----------------------------------------------------------------------------------

def _label_files(labels: Path) -> dict[int, Path]:
    out = {}
    for f in sorted(labels.glob("*.txt")) if labels.is_dir() else []:
        m = re.fullmatch(r"(.+)_frame_(\d+)\.txt", f.name)
        if m:
            out[int(m.group(2))] = f
    return out


def _image_size(folder: Path, files: dict[int, Path]) -> tuple[int, int]:
    from spermlab.io.frames import pil_open
    from spermlab.io.visem import DEFAULT_SIZE

    for img in sorted((folder / "images").glob("*")) if (folder / "images").is_dir() else []:
        try:
            with pil_open(img) as im:
                return im.size
        except Exception:  # an unreadable image is reported by I002; try the next
            continue
    return DEFAULT_SIZE


def _voc_size(xml: Path) -> tuple[int, int]:
    text = xml.read_text(encoding="utf-8", errors="replace")
    w = re.search(r"<width>\s*(\d+)", text)
    h = re.search(r"<height>\s*(\d+)", text)
    return (int(w.group(1)), int(h.group(1))) if w and h else (0, 0)


def _name(cls: Any) -> str:
    return CLASS_NAMES.get(int(cls), str(cls))


#: Bin edges of the box-area histograms (px², log-spaced from 4 to 40,000).
AREA_BINS = np.geomspace(4, 40000, 41)


def _area_histogram(det: pd.DataFrame) -> dict[str, Any]:
    """Box areas per class, counted in :data:`AREA_BINS` (for the report's histograms)."""
    if det.empty or "w" not in det:
        return {}
    area = (det["w"] * det["h"]).to_numpy()
    return {"edges_px2": AREA_BINS.round(2).tolist(),
            **{_name(c): np.histogram(area[(det["cls"] == c).to_numpy()], AREA_BINS)[0].tolist()
               for c in sorted(det["cls"].unique())}}  # fmt: skip


def _stats(det: pd.DataFrame, tracks: pd.DataFrame | None, files: dict) -> dict[str, Any]:
    per_frame = det.groupby("frame").size().reindex(sorted(files), fill_value=0) if files else pd.Series([])
    return {
        "frames": len(files), "boxes": int(len(det)),
        "boxes_per_class": {_name(c): int(n) for c, n in det["cls"].value_counts().sort_index().items()},
        "boxes_per_frame": {"median": float(per_frame.median()) if len(per_frame) else None,
                            "min": int(per_frame.min()) if len(per_frame) else None,
                            "max": int(per_frame.max()) if len(per_frame) else None},
        "box_area_histogram": _area_histogram(det),
        "tracks": int(tracks["track_id"].nunique()) if tracks is not None else None,
        "tracks_per_class": ({_name(c): int(n) for c, n in tracks.groupby("cls")["track_id"].nunique().items()}
                             if tracks is not None else None),
        "rules": {k: RULES[k].severity for k in RULES},
    }  # fmt: skip
