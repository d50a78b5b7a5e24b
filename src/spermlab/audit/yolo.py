"""Audit a YOLO dataset (``data.yaml`` with its splits), leakage between splits included.

Each split (``train``, ``val``, ``test``) is read from its ``images/`` folder and the
``labels/`` folder beside it (Ultralytics' convention); boxes and classes are checked as in
any dataset. Between splits: the same pixels in two splits (I005) and frames of one video that
sit within ``near_s`` of each other in two splits (I006: near-identical neighbours, the leak
that a split by frame makes).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from spermlab.audit.findings import Finding
from spermlab.errors import FormatError
from spermlab.io.frames import IMAGE_SUFFIXES, frame_number, pil_open

__all__ = ["audit_yolo_dataset", "read_data_yaml"]


def read_data_yaml(path: Path) -> dict[str, Path]:
    """The split folders a ``data.yaml`` names (``path``, ``train``, ``val``, ``test``).

    Read line by line (``key: value``), the subset of YAML these files use, so the audit needs
    no YAML library.
    """
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^(path|train|val|test)\s*:\s*(.+?)\s*$", line)
        if m:
            values[m.group(1)] = m.group(2).strip("'\"")
    if "train" not in values and "val" not in values:
        raise FormatError(path, "expected 'train:' and 'val:' lines naming the image folders")
    root = Path(values.get("path", "."))
    root = root if root.is_absolute() else path.parent / root
    return {k: (Path(v) if Path(v).is_absolute() else root / v) for k, v in values.items()
            if k in ("train", "val", "test")}  # fmt: skip


def audit_yolo_dataset(data_yaml: Path, params, *, fps: float = 50.0, near_s: float = 1.0):
    """Findings and per-split tables of a YOLO dataset (used by :func:`audit_dataset`)."""
    from spermlab.audit.run import AuditResult, _box_rules, _class_rules, _stats, _where
    from spermlab.io.yolo import read_yolo

    res = AuditResult(str(data_yaml))
    splits = read_data_yaml(data_yaml)
    hashes: dict[str, tuple[str, Path]] = {}
    frames_by_split: dict[str, dict[str, list[int]]] = {}
    all_det = []
    for split, images in splits.items():
        labels = Path(str(images).replace(f"{images.parent.name}/{images.name}", f"labels/{images.name}")) \
            if images.parent.name == "images" else images.parent.parent / "labels" / images.name
        files = sorted(f for f in images.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES) if images.is_dir() else []
        if not files:
            res.findings.append(Finding("I001", str(images), message=f"split {split}: no images"))
            continue
        dets = []
        for k, img in enumerate(files):
            try:
                with pil_open(img) as im:
                    w, h = im.size
                    digest = hashlib.sha256(np.asarray(im.convert("L")).tobytes()).hexdigest()
            except Exception as e:  # an unreadable image is the finding
                res.findings.append(Finding("I002", str(img), message=f"unreadable: {e}"))
                continue
            if digest in hashes and hashes[digest][0] != split:
                other_split, other = hashes[digest]
                res.findings.append(Finding("I005", str(img), message=f"same pixels as {other.name} in "
                                            f"split {other_split}", evidence={"splits": [other_split, split]}))
            hashes.setdefault(digest, (split, img))
            stem = re.sub(r"_?(frame_)?\d+$", "", img.stem)
            n = frame_number(img.name)
            if n is not None:
                frames_by_split.setdefault(split, {}).setdefault(stem, []).append(n)
            label = labels / f"{img.stem}.txt"
            if not label.is_file():
                continue  # an image without labels: an empty frame in YOLO's convention
            problems: list[FormatError] = []
            det = read_yolo(label, width=w, height=h, frame=k, problems=problems)
            res.findings += [Finding("F001", e.path, e.line_no, message=e.message) for e in problems]
            dets.append((det, label))
        if dets:
            det = pd.concat([d for d, _ in dets], ignore_index=True)
            names = {int(d["frame"].iloc[0]): str(p) for d, p in dets if len(d)}
            where = _where(det, lambda f, names=names: names.get(f, str(labels)))
            res.findings += _box_rules(det, where, w, h, params)
            all_det.append(det)
    res.findings += _near_leaks(frames_by_split, fps * near_s)
    det = pd.concat(all_det, ignore_index=True) if all_det else pd.DataFrame(columns=["frame", "cls"])
    res.findings += [f for f in _class_rules(det, [], str, params) if f.rule == "C002"]
    res.stats = _stats(det, None, {}) | {"splits": {k: str(v) for k, v in splits.items()}}
    return res


def _near_leaks(frames: dict[str, dict[str, list[int]]], window: float) -> list[Finding]:
    """Frames of one video in two splits closer than ``window`` frames."""
    out = []
    names = sorted(frames)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            for stem in set(frames[a]) & set(frames[b]):
                fa, fb = np.sort(frames[a][stem]), np.sort(frames[b][stem])
                j = np.searchsorted(fa, fb)
                near = [int(x) for x, k in zip(fb, j, strict=True)
                        if (k < len(fa) and fa[k] - x < window) or (k > 0 and x - fa[k - 1] < window)]
                if near:
                    out.append(Finding("I006", None, message=f"video {stem}: {len(near)} frame(s) of split "
                                       f"{b} within {window:g} frames of split {a}",
                                       evidence={"video": stem, "splits": [a, b], "examples": near[:5]}))
    return out
