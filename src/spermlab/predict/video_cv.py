"""Motility shares from per-second video images by a CNN, cross-validated beside ZeroR.

The protocol of Haugen et al. (Sci Rep 13, 14777, 2023): one optical-flow image per second of
video (:mod:`spermlab.predict.video_features`) into a ResNet-50 with global average pooling and
a regression head, trained with the mean absolute error (L1) loss, Adam (lr 4e-4), early
stopping after 15 epochs without improvement, ten-fold cross-validation; a three-category (PR,
NP, IM) and a four-category (a, b, c, d) model, judged by MAE against ZeroR, Pearson r and
difference plots with the median bias and 95 % limits of agreement. The VISEM dataset paper's
experiment 1 (single frames into a CNN) is ``input="frame"``.

Choices this module makes where the paper is silent, each stated:

* The head ends in a softmax, so every prediction is a set of shares in [0, 100] summing to 100.
* Folds are over **samples** (grouped further by ``groups``, a participant, when given): the
  images of one video are never on both sides. A sample's prediction is the mean over its
  images. ZeroR predicts the training folds' mean shares, on the same folds.
* Early stopping watches the L1 loss on a validation tenth of the training samples (at least one),
  and the weights of the best epoch are kept.
* Training images are flipped at random (left-right, up-down): motility does not depend on the
  field's orientation.
* No pretrained weights can be downloaded here: networks start from torchvision's definitions
  with random weights, or from a local ``weights`` file (a torchvision state dict; the final
  layer is replaced).

torch and torchvision are the ``deep`` extra: ``pip install 'spermlab[deep]'``. A GPU is used when
torch sees one.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spermlab.predict.train import CVResult, folds, score_rows, summarise

__all__ = ["ARCHS", "CATEGORIES", "TrainParams", "cross_validate_video", "fit_video_model",
           "load_images", "match_targets", "spread", "predict_video_model", "save_video_model"]

ARCHS = ("resnet50", "resnet18", "inception_v3", "tiny")
CATEGORIES = {3: ("PR", "NP", "IM"), 4: ("a", "b", "c", "d")}
# target column names accepted for each category, first match wins (the VISEM semen-analysis table
# as read by spermlab.io.visem, and plain short names)
_ALIASES = {"PR": ("PR", "progressive_pct", "Progressive motility (%)"),
            "NP": ("NP", "non_progressive_pct", "Non progressive sperm motility (%)"),
            "IM": ("IM", "immotile_pct", "Immotile sperm (%)"),
            "a": ("a", "pct_a", "rapid"), "b": ("b", "pct_b", "slow"),
            "c": ("c", "pct_c", "non_progressive"), "d": ("d", "pct_d", "immotile")}  # fmt: skip


def _torch():
    from spermlab._optional import require

    require("torchvision", "deep", "the video models")
    return require("torch", "deep", "the video models")


@dataclass(frozen=True)
class TrainParams:
    """How a network is trained (defaults: the paper's protocol).

    Parameters
    ----------
    arch : {"resnet50", "resnet18", "inception_v3", "tiny"}
        ``tiny`` (two convolutions and global pooling) is for tests and smoke runs.
    size : int
        Input images are resized to ``size`` x ``size`` (224 for ResNet; at least 75 for Inception).
    epochs, patience : int
        At most ``epochs``; stop after ``patience`` epochs without a better validation loss.
    lr, batch_size : float, int
        Adam's learning rate; images per batch.
    weights : path, optional
        A local torchvision state dict to start from (the final layer is replaced).
    seed : int
    """

    arch: str = "resnet50"
    size: int = 224
    epochs: int = 200
    patience: int = 15
    lr: float = 4e-4
    batch_size: int = 32
    weights: str | None = None
    seed: int = 0


def match_targets(samples: Sequence[str], targets: pd.DataFrame, categories: int,
                  id_column: str | None = None) -> pd.DataFrame:  # fmt: skip
    """The target shares of each sample, matched by id: an id equals a video's stem, or (VISEM)
    the first number in the stem equals a numeric id (video ``11`` or ``11_2019`` is participant 11).

    Returns
    -------
    DataFrame
        Index: the samples that have targets; columns :data:`CATEGORIES` [categories] (percent).

    Raises
    ------
    spermlab.UsageError
        When a category has no column, or no sample matches an id.
    """
    import re

    from spermlab.errors import UsageError

    if categories not in CATEGORIES:
        raise UsageError(f"--categories {categories}: expected 3 (PR, NP, IM) or 4 (a, b, c, d)")
    cols = {}
    for cat in CATEGORIES[categories]:
        found = [c for c in _ALIASES[cat] if c in targets.columns]
        if not found:
            raise UsageError(f"the targets table has no column for {cat} (tried {', '.join(_ALIASES[cat])}; "
                             f"columns: {', '.join(map(str, targets.columns))})")  # fmt: skip
        cols[cat] = found[0]
    idc = id_column_of(targets, id_column)
    by_id = {str(v).strip(): i for i, v in enumerate(targets[idc])}
    rows = {}
    for s in samples:
        i = by_id.get(str(s))
        if i is None and (m := re.search(r"\d+", str(s))):
            i = next((j for k, j in by_id.items() if k.isdigit() and int(k) == int(m.group())), None)
        if i is not None:
            rows[s] = [float(targets[cols[c]].iloc[i]) for c in CATEGORIES[categories]]
    if not rows:
        raise UsageError(f"no video matches an id of the targets table (column {idc!r}: e.g. "
                         f"{list(by_id)[:3]}; videos: {list(samples)[:3]})")  # fmt: skip
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(CATEGORIES[categories])).dropna()


def spread(index: pd.DataFrame, n: int) -> pd.DataFrame:
    """At most ``n`` rows per sample, evenly spread over its seconds (first and last included)."""
    index = index.sort_values(["sample_id", "second"])
    pos = index.groupby("sample_id").cumcount().to_numpy()
    size = index.groupby("sample_id")["second"].transform("size").to_numpy()
    keep = np.zeros(len(index), bool)
    for m in np.unique(size):
        want = np.unique(np.linspace(0, m - 1, min(n, m)).round().astype(int))
        keep |= (size == m) & np.isin(pos, want)
    return index[keep]


def id_column_of(targets: pd.DataFrame, id_column: str | None = None) -> str:
    """The id column of a targets table: ``id_column``, else the first of ``sample_id``,
    ``participant_id``, ``ID``, ``id``, else the first column."""
    return id_column or next((c for c in ("sample_id", "participant_id", "ID", "id") if c in targets.columns),
                             targets.columns[0])  # fmt: skip


def load_images(paths: Sequence[str | PathLike[str]], size: int) -> np.ndarray:
    """Images as one uint8 array (n, 3, size, size), resized bilinearly (grey becomes 3 channels)."""
    from PIL import Image

    out = np.empty((len(paths), 3, size, size), np.uint8)
    for i, p in enumerate(paths):
        with Image.open(p) as im:
            out[i] = np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR)).transpose(2, 0, 1)
    return out


def build_network(arch: str, n_out: int, weights: str | PathLike[str] | None = None):
    """A torchvision network (random weights, or a local state dict) with an ``n_out`` softmax head."""
    torch = _torch()
    import torchvision

    from spermlab.errors import UsageError

    nn = torch.nn
    if arch == "tiny":
        body = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                             nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, n_out))  # fmt: skip
        return nn.Sequential(body, nn.Softmax(dim=1))
    if arch not in ARCHS:
        raise UsageError(f"--arch {arch}: expected one of {', '.join(ARCHS)}")
    kw = {"aux_logits": False, "init_weights": True} if arch == "inception_v3" else {}
    net = getattr(torchvision.models, arch)(weights=None, **kw)
    if weights is not None:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("fc.") and not k.startswith("AuxLogits.")}
        try:
            missing, _ = net.load_state_dict(state, strict=False)
        except RuntimeError:  # shapes that do not fit
            missing = ["(layer shapes differ)"]
        if [k for k in missing if not k.startswith("fc.")]:
            raise UsageError(f"--weights {weights}: not a {arch} state dict (missing {missing[:3]} ...)")
    net.fc = nn.Linear(net.fc.in_features, n_out)  # global average pooling, then a regression head
    return nn.Sequential(net, nn.Softmax(dim=1))


def _device():
    torch = _torch()
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _to_float(batch: np.ndarray, torch, device):
    x = torch.from_numpy(batch).to(device).float().div_(255.0)
    return (x - 0.45) / 0.225  # ImageNet-like scaling, so a local ImageNet state dict fits


def fit_video_model(images: np.ndarray, y: np.ndarray, sample_of: np.ndarray, params: TrainParams,
                    progress: Callable[[str], None] | None = None):  # fmt: skip
    """Train a network on ``images`` (uint8, n x 3 x s x s) with targets ``y`` (n x k, fractions
    summing to 1), early-stopped on a validation tenth of the samples in ``sample_of``.

    Returns
    -------
    torch.nn.Module
        In eval mode, on the device, with the best epoch's weights.
    """
    torch = _torch()
    torch.manual_seed(params.seed)
    rng = np.random.default_rng(params.seed)
    device = _device()
    uniq = rng.permutation(np.unique(sample_of))
    n_val = max(1, len(uniq) // 10) if len(uniq) > 1 else 0
    val = np.isin(sample_of, uniq[:n_val])
    tr_idx, va_idx = np.flatnonzero(~val), np.flatnonzero(val)
    net = build_network(params.arch, y.shape[1], params.weights).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=params.lr)
    yt = torch.from_numpy(np.asarray(y, np.float32)).to(device)
    best, best_state, since = np.inf, copy.deepcopy(net.state_dict()), 0
    for epoch in range(params.epochs):
        net.train()
        order = tr_idx[rng.permutation(len(tr_idx))]
        for start in range(0, len(order), params.batch_size):
            b = order[start:start + params.batch_size]
            if len(b) < 2 and len(order) > 1:
                continue  # batch normalisation cannot train on one image
            x = _to_float(images[b], torch, device)
            if rng.random() < 0.5:
                x = x.flip(3)
            if rng.random() < 0.5:
                x = x.flip(2)
            loss = torch.nn.functional.l1_loss(net(x), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        check = va_idx if len(va_idx) else tr_idx
        v = float(np.mean(np.abs(_predict(net, images[check], params.batch_size) - y[check])))
        if progress is not None:
            progress(f"epoch {epoch + 1}: validation L1 {v:.4f}")
        if v < best - 1e-6:
            best, best_state, since = v, copy.deepcopy(net.state_dict()), 0
        else:
            since += 1
            if since >= params.patience:
                break
    net.load_state_dict(best_state)
    return net.eval()


def _predict(net, images: np.ndarray, batch_size: int) -> np.ndarray:
    torch = _torch()
    device = next(net.parameters()).device
    was = net.training
    net.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            out.append(net(_to_float(images[start:start + batch_size], torch, device)).cpu().numpy())
    net.train(was)
    return np.concatenate(out) if out else np.empty((0, 0))


def predict_video_model(net, images: np.ndarray, sample_of: np.ndarray, batch_size: int = 32) -> pd.DataFrame:
    """Each sample's shares (percent): the mean of its images' predictions."""
    p = _predict(net, images, batch_size) * 100.0
    return pd.DataFrame(p).groupby(np.asarray(sample_of)).mean()


@dataclass(frozen=True)
class VideoSet:
    """The images of the samples that have targets, loaded once for cross-validation and fit.

    ``images`` (n, 3, size, size) uint8; ``sample_of`` the sample of each image; ``y`` the
    targets (percent), one row per sample, sorted by id.
    """

    images: np.ndarray
    sample_of: np.ndarray
    y: pd.DataFrame

    @property
    def samples(self) -> np.ndarray:
        return self.y.index.to_numpy()

    def per_image(self) -> np.ndarray:
        """Each image's targets as fractions (what the network is trained on)."""
        return self.y.loc[self.sample_of].to_numpy(float) / 100.0


def video_set(index: pd.DataFrame, targets: pd.DataFrame, *, kind: str = "lk", size: int = 224,
              images_per_sample: int | None = None) -> VideoSet:  # fmt: skip
    """Load the ``kind`` images of the samples in ``targets``.

    Parameters
    ----------
    index : DataFrame
        :func:`spermlab.predict.video_features.read_index` (``sample_id, second, kind, path``).
    targets : DataFrame
        :func:`match_targets`: index sample ids, one column per category, percent.
    kind : {"lk", "dense", "frame"}
    size : int
        Images are resized to ``size`` x ``size``.
    images_per_sample : int, optional
        Only this many images per sample, evenly spread over the video (a smaller run).

    Raises
    ------
    spermlab.UsageError
        When no sample with targets has images of that kind.
    """
    from spermlab.errors import UsageError

    sel = index[(index["kind"] == kind) & index["sample_id"].isin(targets.index)]
    if sel.empty:
        raise UsageError(f"no {kind!r} images for the samples with targets; make them with "
                         f"'spermlab predict video-features --kinds {kind}'")  # fmt: skip
    if images_per_sample:
        sel = spread(sel, images_per_sample)
    samples = sorted(sel["sample_id"].unique())
    return VideoSet(load_images(sel["path"].tolist(), size), sel["sample_id"].to_numpy(), targets.loc[samples])


def cross_validate_video(data: VideoSet, *, params: TrainParams = TrainParams(), k: int = 10,
                         seeds: int = 1, groups: dict[str, Any] | None = None,
                         progress: Callable[[str], None] | None = None) -> CVResult:  # fmt: skip
    """Cross-validate the network and ZeroR on the same folds of samples (module docstring).

    Parameters
    ----------
    data : VideoSet
        :func:`video_set`.
    params : TrainParams
    k : int
        Folds over samples (0: leave one out).
    seeds : int
        Repeats with other fold shuffles and network seeds.
    groups : dict, optional
        Sample id -> group (participant): a group is never on both sides.

    Returns
    -------
    CVResult
        Models ``zeror`` and ``params.arch``; metrics per category (percentage points), as
        :func:`spermlab.predict.train.cross_validate`.
    """
    from spermlab.errors import UsageError

    samples, y, images, sample_of = data.samples, data.y, data.images, data.sample_of
    if k and len(samples) < k:
        raise UsageError(f"{len(samples)} samples have images and targets; {k} folds need at least {k}")
    y_img = data.per_image()
    g = np.array([groups.get(s, s) for s in samples]) if groups else None
    rows, preds = [], []
    for seed in range(seeds):
        split = folds(len(samples), g, k, seed)
        pred = {"zeror": np.zeros(y.shape), params.arch: np.zeros(y.shape)}
        for f, (train, test) in enumerate(split):
            pred["zeror"][test] = y.iloc[train].to_numpy(float).mean(axis=0)
            tr = np.isin(sample_of, samples[train])
            if progress is not None:
                progress(f"seed {seed}, fold {f + 1}/{len(split)}: {int(tr.sum())} training images")
            net = fit_video_model(images[tr], y_img[tr], sample_of[tr],
                                  TrainParams(**{**params.__dict__, "seed": params.seed + 100 * seed + f}),
                                  progress)  # fmt: skip
            te = np.isin(sample_of, samples[test])
            p = predict_video_model(net, images[te], sample_of[te], params.batch_size)
            pred[params.arch][test] = p.loc[samples[test]].to_numpy()
        for name, p in pred.items():
            rows += score_rows(p, y, model=name, seed=seed)
            preds.append(pd.DataFrame(p, columns=y.columns).assign(seed=seed, model=name,
                                                                  row=np.arange(len(samples)),
                                                                  sample_id=samples))  # fmt: skip
    return summarise(rows, preds)


def save_video_model(net, path: str | PathLike[str], *, params: TrainParams, kind: str,
                     categories: Sequence[str], cv: CVResult | None = None) -> Path:  # fmt: skip
    """Save the network's weights with its card (arch, input kind, image size, categories,
    versions, cross-validation figures) as one torch file."""
    torch = _torch()
    import torchvision

    from spermlab import __version__
    from spermlab.io.atomic import atomic_path

    card = {"arch": params.arch, "kind": kind, "size": params.size, "categories": list(categories),
            "train": params.__dict__, "spermlab": __version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "cv": cv.table.to_dict("records") if cv is not None else None}  # fmt: skip
    state = {k: v.cpu() for k, v in net.state_dict().items()}
    return atomic_path(path, lambda p: torch.save({"card": card, "state": state}, p))


def load_video_model(path: str | PathLike[str]):
    """A saved network (eval mode) and its card."""
    torch = _torch()
    saved = torch.load(path, map_location=_device(), weights_only=False)
    card = saved["card"]
    net = build_network(card["arch"], len(card["categories"])).to(_device())
    net.load_state_dict(saved["state"])
    return net.eval(), card


def threads() -> int:
    """Torch intra-op threads: every core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
