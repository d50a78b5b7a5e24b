"""Train SpermNet from annotated frames and export it as one ``.onnx`` file.

Needs ``pip install 'spermlab[train]'`` (PyTorch, onnx); the result runs in the core
install (:class:`spermlab.detect.learned.spermnet.SpermNetDetector`, onnxruntime).

Recipe (CenterNet, Zhou et al. 2019): Gaussian heat targets at 1/4 resolution
(sigma = box's shorter side / 24 px, at least 0.6 cell: a few cells for a head, so that
two touching heads stay two peaks), penalty-reduced focal loss (alpha 2, beta 4), L1 loss
on the sub-cell offset and on log box size at the centre cells. Cells inside *ignore*
boxes (VISEM clusters) carry no heat loss.

Augmentation, each range chosen to cover what differs between microscopes (not fitted to a
score): random crops of 192 px from a region 0.7-1.45x that size (apparent head size),
flips and 90° turns, gamma 0.7-1.4, Gaussian blur sigma up to 1.2 px (focus), added noise up to 4 grey levels,
JPEG re-compression at quality 35-95 (codec artefacts). Sources are sampled so that each
*group* (by default: each input) has the same weight, however many frames it has.

Polarity: SpermNet sees heads bright. Each source's polarity is read from its annotations
(:func:`spermlab.detect.learned.annotated.dark_heads`) and dark-head sources are negated;
at inference the detector decides the polarity itself
(:meth:`spermlab.detect.learned.spermnet.SpermNetDetector.choose_polarity`).

The score threshold is learned with the weights: best F1 (one-to-one matching within
8 px) on up to ``threshold_frames`` training frames per group, written into the model's
metadata.
"""

from __future__ import annotations

import io
import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageFilter

from spermlab.detect.learned.annotated import AnnotatedFrame, dark_heads
from spermlab.detect.learned.net import build_net, require_torch
from spermlab.detect.learned.preprocess import normalise
from spermlab.detect.learned.spermnet import INPUT_VERSION, SIZE_UNIT, decode

__all__ = ["TrainConfig", "best_threshold", "export_onnx", "make_targets", "train_spermnet"]

log = logging.getLogger(__name__)

STRIDE = 4
CROP = 192


@dataclass
class TrainConfig:
    """Training settings (defaults: spermlab's shipped model).

    Parameters
    ----------
    steps : int
        Optimiser steps (batches).
    minutes : float, optional
        Stop early after this many minutes (the learning-rate schedule still assumes
        ``steps``); ``None`` runs every step.
    batch : int
        Crops per batch.
    lr : float
        Peak AdamW learning rate (cosine decay to 2 % of it, 100 warm-up steps).
    width, depth : int
        Network channel width and depth at 1/8 resolution
        (:func:`spermlab.detect.learned.net.build_net`).
    seed : int
        Seeds the crop sampler and the weights.
    threads : int
        Torch CPU threads.
    threshold_frames : int
        Training frames per group used to choose the score threshold.
    """

    steps: int = 6000
    minutes: float | None = None
    batch: int = 16
    lr: float = 3e-3
    width: int = 16
    depth: int = 4
    seed: int = 0
    threads: int = 2
    threshold_frames: int = 40


# ----------------------------------------------------------------------------- targets
def make_targets(boxes: np.ndarray, ignore: np.ndarray, height: int, width: int) -> np.ndarray:
    """Training targets of one (crop of a) frame: array (7, height/4, width/4).

    Channels: heat (0-1), weight of the heat loss (0 in ignore boxes), dx, dy, log w,
    log h (valid where channel 6 is 1), centre mask.
    """
    gh, gw = height // STRIDE, width // STRIDE
    t = np.zeros((7, gh, gw), dtype=np.float32)
    t[1] = 1.0
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32) + 0.5
    for x, y, w, h in ignore:
        x0, x1 = (x - w / 2) / STRIDE, (x + w / 2) / STRIDE
        y0, y1 = (y - h / 2) / STRIDE, (y + h / 2) / STRIDE
        t[1][(xx >= x0) & (xx <= x1) & (yy >= y0) & (yy <= y1)] = 0.0
    for x, y, w, h in boxes:
        px, py = x / STRIDE, y / STRIDE
        j, i = int(math.floor(px)), int(math.floor(py))
        if not (0 <= i < gh and 0 <= j < gw):
            continue
        sigma = max(0.6, min(w, h) / (6 * STRIDE))
        r = int(3 * sigma) + 1
        i0, i1, j0, j1 = max(0, i - r), min(gh, i + r + 1), max(0, j - r), min(gw, j + r + 1)
        g = np.exp(-((xx[i0:i1, j0:j1] - (j + 0.5)) ** 2 + (yy[i0:i1, j0:j1] - (i + 0.5)) ** 2)
                   / (2 * sigma**2))  # fmt: skip
        np.maximum(t[0, i0:i1, j0:j1], g, out=t[0, i0:i1, j0:j1])
        t[0, i, j] = 1.0
        t[1, i, j] = 1.0
        t[2, i, j], t[3, i, j] = px - j, py - i
        t[4, i, j] = math.log(max(w, 1.0) / SIZE_UNIT)
        t[5, i, j] = math.log(max(h, 1.0) / SIZE_UNIT)
        t[6, i, j] = 1.0
    return t


# ------------------------------------------------------------------------ augmentation
def _augment(frame: AnnotatedFrame, rng: np.random.Generator,
             dark: bool = False) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """One augmented crop: (normalised image (CROP, CROP), targets (7, CROP/4, CROP/4));
    ``dark``: the source has dark heads, negated to SpermNet's bright-head polarity."""
    img = frame.image
    H, W = img.shape
    scale = float(np.exp(rng.uniform(np.log(0.7), np.log(1.45))))  # region side / CROP
    side = min(int(round(CROP * scale)), H, W)
    scale = side / CROP
    y0 = int(rng.integers(0, H - side + 1))
    x0 = int(rng.integers(0, W - side + 1))
    pil = Image.fromarray(np.ascontiguousarray(img[y0:y0 + side, x0:x0 + side]))
    if side != CROP:
        pil = pil.resize((CROP, CROP), Image.BILINEAR)
    if rng.random() < 0.3:
        pil = pil.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.2))))
    if rng.random() < 0.3:
        buf = io.BytesIO()
        pil.save(buf, format="JPEG", quality=int(rng.integers(35, 96)))
        buf.seek(0)
        pil = Image.open(buf).convert("L")
    a = np.asarray(pil, dtype=np.float32)
    gamma = float(np.exp(rng.uniform(np.log(0.7), np.log(1.4))))
    a = 255.0 * (a / 255.0) ** gamma
    if rng.random() < 0.5:
        a = a + rng.normal(0, rng.uniform(0.5, 4.0), a.shape).astype(np.float32)

    def shift(b: np.ndarray) -> np.ndarray:
        b = b.copy()
        b[:, 0] = (b[:, 0] - x0) / scale
        b[:, 1] = (b[:, 1] - y0) / scale
        b[:, 2:] /= scale
        return b

    boxes, ignore = shift(frame.boxes), shift(frame.ignore)
    k = int(rng.integers(0, 4))
    flip = rng.random() < 0.5
    a, boxes, ignore = _turn(a, boxes, ignore, k, flip)
    return normalise(a, invert=dark), make_targets(boxes, ignore, CROP, CROP)


def _turn(a: np.ndarray, boxes: np.ndarray, ignore: np.ndarray, k: int, flip: bool):
    """Rotate by k·90° (counter-clockwise) and flip left-right, boxes with the image."""
    n = a.shape[0]  # square crops

    def tb(b: np.ndarray) -> np.ndarray:
        b = b.copy()
        for _ in range(k):  # np.rot90: new (x, y) = (y, n - x); w and h swap
            b[:, [0, 1, 2, 3]] = np.stack([b[:, 1], n - b[:, 0], b[:, 3], b[:, 2]], axis=1)
        if flip:
            b[:, 0] = n - b[:, 0]
        return b

    a = np.rot90(a, k)
    if flip:
        a = a[:, ::-1]
    return np.ascontiguousarray(a), tb(boxes), tb(ignore)


# ------------------------------------------------------------------------------ losses
def _loss(torch: Any, out: Any, t: Any) -> Any:
    heat = out[:, 0].clamp(1e-4, 1 - 1e-4)
    gt, wmask, centre = t[:, 0], t[:, 1], t[:, 6]
    pos = centre * torch.log(heat) * (1 - heat) ** 2
    neg = (1 - centre) * (1 - gt) ** 4 * heat**2 * torch.log(1 - heat) * wmask
    n = centre.sum().clamp(min=1.0)
    focal = -(pos.sum() + neg.sum()) / n
    m = centre[:, None]
    reg = (torch.abs(out[:, 1:5] - t[:, 2:6]) * m).sum() / n
    return focal + reg, focal, reg


# ---------------------------------------------------------------------------- training
def train_spermnet(frames: Sequence[AnnotatedFrame], out: str | PathLike[str],
                   config: TrainConfig | None = None, *,
                   group_of: Callable[[AnnotatedFrame], str] | None = None,
                   progress: Callable[[int, int, float], None] | None = None,
                   description: dict[str, Any] | None = None) -> Path:  # fmt: skip
    """Train a SpermNet on annotated frames and write it as an ``.onnx`` file.

    Parameters
    ----------
    frames : sequence of AnnotatedFrame
        Training frames (any sizes of at least 64 px; mixed sources and polarities).
    out : path
        The ``.onnx`` file to write (atomically).
    config : TrainConfig, optional
    group_of : callable, optional
        Group name of a frame; each group is sampled with equal weight. Default: its
        ``source``.
    progress : callable, optional
        Called as ``progress(step, steps, loss)`` after each step.
    description : dict, optional
        Recorded in the model's ``spermlab_training`` metadata (data, command).

    Returns
    -------
    Path
        ``out``.
    """
    torch = require_torch()
    cfg = config or TrainConfig()
    if not frames:
        raise ValueError("no training frames")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    group_of = group_of or (lambda f: f.source)
    groups: dict[str, list[int]] = {}
    for i, f in enumerate(frames):
        groups.setdefault(group_of(f), []).append(i)
    names = sorted(groups)
    dark = dark_heads(frames)
    log.info("dark-head (negated) sources: %s", sorted(k for k, v in dark.items() if v) or "none")
    net = build_net(cfg.width, cfg.depth)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    warm = min(100, cfg.steps // 10 + 1)

    def lr_at(step: int) -> float:
        if step < warm:
            return cfg.lr * (step + 1) / warm
        q = (step - warm) / max(1, cfg.steps - warm)
        return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * q)))

    t0 = time.monotonic()
    net.train()
    step = 0
    for step in range(cfg.steps):
        xs, ts = [], []
        for _ in range(cfg.batch):
            g = names[int(rng.integers(len(names)))]
            f = frames[groups[g][int(rng.integers(len(groups[g])))]]
            x, t = _augment(f, rng, dark[f.source])
            xs.append(x)
            ts.append(t)
        x = torch.from_numpy(np.stack(xs)[:, None])
        t = torch.from_numpy(np.stack(ts))
        for pg in opt.param_groups:
            pg["lr"] = lr_at(step)
        loss, focal, reg = _loss(torch, net(x), t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress(step + 1, cfg.steps, loss.item())
        if step % 100 == 0:
            log.info("step %d/%d loss %.3f (heat %.3f, box %.3f) %.0f s", step, cfg.steps,
                     loss.item(), focal.item(), reg.item(), time.monotonic() - t0)  # fmt: skip
        if cfg.minutes is not None and time.monotonic() - t0 > 60 * cfg.minutes:
            log.info("time box of %.1f min reached at step %d", cfg.minutes, step + 1)
            break
    net.eval()
    pick = []
    for g in names:
        idx = groups[g]
        sel = np.linspace(0, len(idx) - 1, min(cfg.threshold_frames, len(idx))).round().astype(int)
        pick += [frames[idx[k]] for k in sorted(set(sel))]
    threshold, f1 = best_threshold(lambda f: _torch_maps(torch, net, f.image, dark[f.source]), pick)
    meta = {
        "spermlab_input": INPUT_VERSION,
        "spermlab_stride": str(STRIDE),
        "spermlab_threshold": f"{threshold:.4f}",
        "spermlab_training": json.dumps({
            **(description or {}), "config": asdict(cfg), "steps_run": step + 1,
            "minutes": round((time.monotonic() - t0) / 60, 2), "frames": len(frames),
            "groups": {g: len(groups[g]) for g in names},
            "dark_head_sources": sorted(k for k, v in dark.items() if v),
            "threshold_f1_on_training_frames": round(f1, 4),
        }),
    }  # fmt: skip
    return export_onnx(net, out, meta)


def _torch_maps(torch: Any, net: Any, image: np.ndarray, invert: bool = False) -> np.ndarray:
    from spermlab.detect.learned.preprocess import pad_to_multiple

    x = torch.from_numpy(pad_to_multiple(normalise(image, invert=invert))[None, None])
    with torch.no_grad():
        return net(x)[0].numpy()


def best_threshold(maps_of: Callable[[AnnotatedFrame], np.ndarray],
                   frames: Sequence[AnnotatedFrame], max_distance: float = 8.0) -> tuple[float, float]:  # fmt: skip
    """The heat threshold of best F1 over ``frames`` (``maps_of(frame)``: the network's maps)
    and that F1, clipped to 0.05-0.95; 0.3 when there is nothing to match.

    Scored by :func:`spermlab.evaluate.evaluate_detections` (centre distance within
    ``max_distance`` px; its PR curve and best-F1 threshold). Detections centred in an ignore
    box are left out before scoring (neither right nor wrong).
    """
    from spermlab.detect.learned.annotated import truth_table
    from spermlab.evaluate import evaluate_detections

    parts = []
    for k, f in enumerate(frames):
        h, w = f.image.shape
        parts.append(drop_ignored(decode(maps_of(f), 0.05, stride=STRIDE, frame=k, height=h,
                                         width=w), f.ignore))  # fmt: skip
    pred = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    truth = truth_table(frames)
    if pred.empty or truth.empty:
        return 0.3, 0.0
    r = evaluate_detections(pred, truth, match="distance", max_distance=max_distance).overall
    return min(max(float(r.best_f1_threshold), 0.05), 0.95), float(r.best_f1)


def drop_ignored(det: pd.DataFrame, ignore: np.ndarray) -> pd.DataFrame:
    """Detections whose centre is not inside any ignore box."""
    from spermlab.detect.learned.annotated import inside_any

    if len(ignore) == 0 or len(det) == 0:
        return det
    return det[~inside_any(det[["x", "y"]].to_numpy(), ignore)].reset_index(drop=True)


def export_onnx(net: Any, out: str | PathLike[str], metadata: dict[str, str]) -> Path:
    """Write ``net`` as an ONNX file (input ``image`` (N, 1, H, W), output ``maps``) with
    ``metadata`` in its ``metadata_props``; atomic."""
    torch = require_torch()
    try:
        import onnx
    except ImportError as e:
        raise ImportError("exporting a detector needs onnx: pip install 'spermlab[train]'") from e
    from spermlab.io.atomic import atomic_path

    out = Path(out)
    net = net.eval()
    buf = io.BytesIO()
    dummy = torch.zeros(1, 1, 64, 64)
    # The TorchScript exporter (dynamo=False): a plain conv net needs nothing more, and it
    # needs no onnxscript; torch 2.14 (spermlab's pin) warns that it is deprecated.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (dummy,), buf, input_names=["image"], output_names=["maps"],
                          dynamic_axes={"image": {0: "n", 2: "h", 3: "w"},
                                        "maps": {0: "n", 2: "gh", 3: "gw"}},
                          opset_version=17, dynamo=False)  # fmt: skip
    model = onnx.load_from_string(buf.getvalue())
    for k, v in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    return atomic_path(out, lambda tmp: onnx.save(model, str(tmp)))
