"""Can this sample's grades be trusted? The one quality verdict of a result.

:class:`spermlab.pipeline.Pipeline` runs :func:`assess` once per analysis and stores its
result in ``summary.json`` (``quality``); the console, ``--json`` and the report all show
that same verdict. It holds the analysis warnings (few graded cells, low frame rate,
calibration from a preset, no chamber depth) and the checks that need the tables: many short tracks, graded tracks made largely of bridged gaps, frames
without heads, an unstable head count, strong drift, a recording shorter than the
progression window, and the sampling uncertainty of the percentages (a Wilson 95 %
interval on the number of graded cells).

Each finding is a :class:`Check` with a level: ``"caution"`` (read the result with the
reason in mind) or ``"fail"`` (the result is not usable as it stands). The sample's
overall level is the worst of them, ``"ok"`` when there is none.

References
----------
.. [1] Wilson EB (1927). Probable inference, the law of succession, and statistical
   inference. J Am Stat Assoc 22(158):209-212.
.. [2] World Health Organization. WHO laboratory manual for the examination and
   processing of human semen, 6th ed. Geneva, 2021, section 3.5 (at least 200 cells).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["VERDICTS", "Check", "Quality", "assess", "track_coverage", "verdict_of",
           "wilson_interval"]

Level = Literal["ok", "caution", "fail"]
#: The level in words, as the console, the report and ``--json`` say it.
VERDICTS: dict[str, str] = {"ok": "trustworthy", "caution": "usable with caution",
                            "fail": "not reliable"}
_ORDER: dict[str, int] = {"ok": 0, "caution": 1, "fail": 2}

#: Fewer graded cells than this make the result unusable (95 % CI wider than ±14 points).
MIN_USABLE_CELLS = 50
#: Share of sperm tracks too short to grade above which the graded cells may be biased.
MAX_SHORT_TRACK_SHARE = 0.5
#: Median drift speed (µm/s) above which the slow/non-progressive boundary is fragile.
MAX_DRIFT_UM_S = 5.0
#: A track seen in fewer than this share of its frames is mostly bridged gaps.
MIN_COVERAGE = 0.8
#: Share of graded tracks below MIN_COVERAGE above which the grades lean on bridged gaps.
MAX_GAPPY_SHARE = 0.1
#: Coefficient of variation of heads per frame above which the field is unstable.
MAX_COUNT_CV = 0.35
#: The automatic polarity is doubtful when, by the detector's count, the reading it rejected
#: shows more than this share of the heads of the one it chose: on a clear field the wrong
#: reading shows next to none (the first frames of VISEM video 11 and the SVIA clips: none),
#: so more than half means the detector and the intensity rule disagree, or nearly.
AMBIGUOUS_POLARITY = 0.5


@dataclass(frozen=True)
class Check:
    """One quality finding.

    Attributes
    ----------
    level : {"caution", "fail"}
        How much it undermines the result.
    message : str
        What was found and why it matters, in one sentence.
    origin : {"analysis", "report"}
        ``"analysis"`` for the warnings in summary.json, ``"report"`` for the checks
        computed here.
    """

    level: Level
    message: str
    origin: Literal["analysis", "report"]


@dataclass(frozen=True)
class Quality:
    """All quality findings of one sample and their overall level.

    Attributes
    ----------
    level : {"ok", "caution", "fail"}
        The worst level among ``checks`` (``"ok"`` when there is none).
    checks : list of Check
        The findings, analysis warnings first.
    metrics : dict
        The numbers the checks were computed from (``short_track_share``,
        ``drift_um_s``, ``count_cv``, ``empty_frames``, ``duration_s``,
        ``ci_progressive``, ``ci_total_motile``).
    passed : list of str
        The checks that found nothing, each with its number (``"frame rate 50 fps"``).
    """

    level: Level
    checks: list[Check]
    metrics: dict[str, Any]
    passed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Quality:
        """Inverse of :meth:`to_dict` (``summary.json``'s ``quality``)."""
        metrics = dict(d.get("metrics", {}))
        for key in ("ci_progressive", "ci_total_motile"):  # JSON: null for NaN, lists for tuples
            if key in metrics:
                metrics[key] = tuple(math.nan if v is None else v for v in metrics[key])
        metrics = {k: (math.nan if v is None else v) for k, v in metrics.items()}
        return cls(level=d["level"], checks=[Check(**c) for c in d.get("checks", [])],
                   metrics=metrics, passed=list(d.get("passed", [])))  # fmt: skip

    @property
    def verdict(self) -> str:
        """The level in words: "trustworthy", "usable with caution" or "not reliable"."""
        return VERDICTS[self.level]


def wilson_interval(k: int, n: int, *, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n``, in percent [1]_.

    Parameters
    ----------
    k, n : int
        Successes and trials (``0 <= k <= n``).
    z : float, default 1.959964
        Normal quantile (95 % two-sided).

    Returns
    -------
    (float, float)
        Lower and upper bound in percent; ``(nan, nan)`` when ``n == 0``.

    Examples
    --------
    >>> lo, hi = wilson_interval(60, 200)
    >>> round(lo, 1), round(hi, 1)
    (24.1, 36.7)
    """
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (100 * max(0.0, centre - half), 100 * min(1.0, centre + half))


def assess(
    summary: dict[str, Any],
    *,
    detections: pd.DataFrame,
    tracks: pd.DataFrame,
    drift: pd.DataFrame,
    kinematics: pd.DataFrame | None = None,
) -> Quality:
    """Check one sample's result: the analysis warnings plus the report's own checks.

    Parameters
    ----------
    summary : dict
        The content of ``summary.json``.
    detections, tracks : DataFrame
        The Detections and Tracks tables of the sample.
    drift : DataFrame
        ``drift.csv``: columns ``frame``, ``dx``, ``dy`` (px).
    kinematics : DataFrame, optional
        The graded Kinematics table; without it the gap check of graded tracks is skipped.

    Returns
    -------
    Quality
        Findings, their overall level and the metrics behind them.
    """
    metrics = _metrics(summary, detections, tracks, drift)
    graded = None if kinematics is None else kinematics["track_id"].to_numpy()
    coverage = track_coverage(tracks)
    metrics["gappy_share"] = (
        float((coverage.reindex(graded).fillna(1.0) < MIN_COVERAGE).mean())
        if graded is not None and len(graded) else math.nan
    )
    checks = [Check("caution", str(w), "analysis") for w in summary.get("warnings", [])]
    checks += _own_checks(summary, metrics)
    level: Level = max((c.level for c in checks), key=_ORDER.__getitem__, default="ok")
    return Quality(level=level, checks=checks, metrics=metrics, passed=_passed(summary, metrics))


def verdict_of(
    summary: dict[str, Any],
    *,
    detections: pd.DataFrame,
    tracks: pd.DataFrame,
    drift: pd.DataFrame,
    kinematics: pd.DataFrame | None = None,
) -> Quality:
    """The verdict stored in ``summary.json`` by the analysis; :func:`assess` for results
    folders written before it was stored (same checks, same answer)."""
    if summary.get("quality"):
        return Quality.from_dict(summary["quality"])
    return assess(summary, detections=detections, tracks=tracks, drift=drift, kinematics=kinematics)


def track_coverage(tracks: pd.DataFrame) -> pd.Series:
    """Share of the frames between a sperm track's first and last that hold a detection.

    Parameters
    ----------
    tracks : DataFrame
        A Tracks table (only ``cls == 0`` rows count).

    Returns
    -------
    Series
        Indexed by ``track_id``; 1.0 for a track seen in every frame, lower where the
        tracker bridged gaps of missed frames.
    """
    g = tracks.loc[tracks["cls"] == 0].groupby("track_id")["frame"].agg(["min", "max", "size"])
    return (g["size"] / (g["max"] - g["min"] + 1)).rename("coverage")


def _metrics(summary: dict[str, Any], detections: pd.DataFrame, tracks: pd.DataFrame,
             drift: pd.DataFrame) -> dict[str, Any]:  # fmt: skip
    cal, counts = summary["calibration"], summary["counts"]
    n_frames, n = int(summary["n_frames"]), int(summary["n_graded"])
    min_points = int(summary.get("parameters", {}).get("kinematics", {}).get("min_points", 10))
    lengths = tracks.loc[tracks["cls"] == 0].groupby("track_id").size().to_numpy()
    frames = detections.loc[detections["cls"] == 0, "frame"].to_numpy(dtype=np.int64)
    first = int(summary.get("input", {}).get("first_frame", frames.min() if frames.size else 0))
    per_frame = (np.bincount((frames - first).clip(0, n_frames - 1), minlength=n_frames)
                 if n_frames else np.zeros(0))  # fmt: skip
    mean = float(per_frame.mean()) if per_frame.size else 0.0
    return {
        "duration_s": n_frames / float(cal["fps"]),
        "n_tracks": int(lengths.size),
        "short_track_share": float((lengths < min_points).mean()) if lengths.size else math.nan,
        "min_points": min_points,
        "empty_frames": int((per_frame == 0).sum()),
        "count_cv": float(per_frame.std() / mean) if mean > 0 else math.nan,
        "drift_um_s": _drift_speed(drift, float(cal["um_per_px"]), float(cal["fps"])),
        "ci_progressive": wilson_interval(counts["a"] + counts["b"], n),
        "ci_total_motile": wilson_interval(counts["a"] + counts["b"] + counts["c"], n),
    }


def _drift_speed(drift: pd.DataFrame, um_per_px: float, fps: float) -> float:
    """Median speed of the field's drift, µm/s (nan when unknown)."""
    if len(drift) < 2:
        return math.nan
    d = drift.sort_values("frame")
    steps = np.hypot(np.diff(d["dx"].to_numpy()), np.diff(d["dy"].to_numpy()))
    steps /= np.maximum(np.diff(d["frame"].to_numpy()), 1)
    return float(np.median(steps) * um_per_px * fps)


def _own_checks(summary: dict[str, Any], m: dict[str, Any]) -> list[Check]:
    out: list[Check] = []

    def add(level: Level, message: str) -> None:
        out.append(Check(level, message, "report"))

    n = int(summary["n_graded"])
    params = summary.get("parameters", {})
    window = float(params.get("kinematics", {}).get("progression_window_s", 1.0))
    if n == 0:
        add("fail", "no cell could be graded: there is no motility result")
    elif n < MIN_USABLE_CELLS:
        lo, hi = m["ci_progressive"]
        add("fail", f"the percentages rest on {n} cells: progressive motility is only known to "
                    f"lie between {lo:.0f} and {hi:.0f} % (95 % CI)")  # fmt: skip
    if m["duration_s"] < window:
        add("fail", f"the recording lasts {m['duration_s']:.2f} s, shorter than the {window:g}-s "
                    "progression window")  # fmt: skip
    if m["short_track_share"] > MAX_SHORT_TRACK_SHARE:
        add("caution", f"{100 * m['short_track_share']:.0f} % of sperm tracks are shorter than "
                       f"{m['min_points']} frames and were not graded; fast cells are lost more "
                       "often, so grades may lean towards slow")  # fmt: skip
    if m["gappy_share"] > MAX_GAPPY_SHARE:
        add("caution", f"{100 * m['gappy_share']:.0f} % of graded tracks miss more than "
                       f"{100 * (1 - MIN_COVERAGE):.0f} % of their frames: their speeds partly "
                       "come from straight bridges over gaps (dashed on the map)")  # fmt: skip
    if m["empty_frames"] > 0 and n > 0:
        add("caution", f"{m['empty_frames']} frame(s) with no sperm head found (focus lost, "
                       "blank or damaged frames?)")  # fmt: skip
    if m["count_cv"] > MAX_COUNT_CV:
        add("caution", f"the number of heads per frame varies by {100 * m['count_cv']:.0f} % "
                       "(focus drift or flow): the concentration is uncertain")  # fmt: skip
    evidence = params.get("detector", {}).get("polarity_evidence")
    if evidence:
        chosen = params["detector"].get("polarity", "")
        other = "dark" if chosen == "bright" else "bright"
        mine, theirs = float(evidence.get(chosen, 0)), float(evidence.get(other, 0))
        if theirs > AMBIGUOUS_POLARITY * mine:
            add("caution", f"the video was read with {chosen} heads (the first frame's brightest and "
                           f"darkest pixels), but the detector saw "
                           f"{'more' if theirs > mine else 'nearly as many'} heads read the other "
                           f"way (bright {evidence.get('bright', 0):.1f}, dark "
                           f"{evidence.get('dark', 0):.1f}). If the heads are brighter than the "
                           "background (phase contrast) or darker (bright field), say so with "
                           "--polarity bright or dark")  # fmt: skip
    if m["drift_um_s"] > MAX_DRIFT_UM_S:
        done = "subtracted" if params.get("drift_correction", True) else "NOT subtracted"
        add("caution", f"the field drifts at {m['drift_um_s']:.1f} µm/s ({done}); the slow "
                       "progressive / non-progressive boundary (5 µm/s) is sensitive "
                       "to it")  # fmt: skip
    return out


def _passed(summary: dict[str, Any], m: dict[str, Any]) -> list[str]:
    """The checks that found nothing, as short phrases with their numbers."""
    grading = summary.get("parameters", {}).get("grading", {})
    fps, n = float(summary["calibration"]["fps"]), int(summary["n_graded"])
    sources = summary["calibration"].get("sources", {}).values()
    tests = [
        (n >= grading.get("min_graded_cells", 200), f"{n} cells graded"),
        (fps >= grading.get("min_fps", 50.0), f"frame rate {fps:g} fps"),
        (not any(str(v).startswith("preset:") for v in sources), "calibration not from a preset"),
        (m["short_track_share"] <= MAX_SHORT_TRACK_SHARE,
         f"{100 * m['short_track_share']:.0f} % short tracks"),
        (m["empty_frames"] == 0, "no frame without heads"),
        (m["gappy_share"] <= MAX_GAPPY_SHARE,
         f"{100 * m['gappy_share']:.0f} % of graded tracks with gaps"),
        (m["count_cv"] <= MAX_COUNT_CV, f"heads per frame stable (CV {100 * m['count_cv']:.0f} %)"),
        (m["drift_um_s"] <= MAX_DRIFT_UM_S, f"drift {m['drift_um_s']:.1f} µm/s"),
    ]  # fmt: skip
    return [text for ok, text in tests if ok]
