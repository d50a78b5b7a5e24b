"""WHO 2021 motility grades, the sample's percentages and its concentration.

Grades (WHO laboratory manual, 6th ed., 2021, section 3.5.2):

=====  ======================  ===================================================
grade  name                    rule in spermlab
=====  ======================  ===================================================
a      rapid progressive       progression >= 25 µm/s
b      slow progressive        5 µm/s <= progression < 25 µm/s
c      non-progressive         progression < 5 µm/s and the cell moves: the head
                               (VAP >= ``immotile_vap_um_s`` or ALH >=
                               ``active_alh_um``) or the flagellum (beat
                               probability >= ``flagellum_p``)
d      immotile                progression < 5 µm/s, no movement of head or flagellum
=====  ======================  ===================================================

*Progression* is the WHO "space gained": the mean straight-line displacement per second
over sliding 1-s windows (:func:`spermlab.analysis.kinematics.progression`), so a cell
that circles in place has low progression even when its VCL is high.

*Immotile versus non-progressive* for head-only tracks: without the flagellum, activity
is judged from the head, by two signs of a beating flagellum. (1) The head moves along
its average path: VAP >= ``immotile_vap_um_s`` (default 4 µm/s, the order of the VAP
cut-off commercial CASA systems use for "static" cells); VCL cannot serve, since
localisation noise inflates it in proportion to the frame rate, while the average path
removes most of the noise. (2) The head swings sideways: ALH >= ``active_alh_um``
(default 0.75 µm). A cell beating in place has a VAP near zero but swings its head:
simulated beating-in-place cells have ALH 1-3.4 µm, and with VAP alone 56 % of them were
graded immotile (``benchmarks/simulated_grades.py``); the still heads of VISEM-Tracking
video 11 (VAP < 4 µm/s and progression < 5 µm/s in ``spermlab analyze``'s
kinematics.csv) have ALH of 0.015 µm median and 0.23 µm at the 99th percentile, so
0.75 µm sits between localisation noise and a weak beat.
Drift must be removed first (:mod:`spermlab.analysis.drift`), or a drifting dead cell
is graded motile.

*The flagellum.* WHO 2021 counts "a flagellar beat that hardly displaces the head" as
non-progressive, so a cell stuck by its head but beating is c, not d. The head path
cannot see it; the ``flagellum`` column (:mod:`spermlab.analysis.flagellum`: the
probability, 0-1, that the image beside a still head shows a beating flagellum, averaged
over the track's 1-s windows, from a classifier trained on simulated recordings with exact
truth) can. ``flagellum_p`` = 0.5 calls a beat when the classifier finds it at least as
likely as not, which weighs a missed beat and a false one alike; it was not chosen from any
score. Tracks with no measurement (NaN: crowded, at the border, a head that moved, or a
table from positions alone) are graded by the head path as before. ``use_flagellum=False``
grades by the head path only (for comparison, and for recordings where the flagellum is not
visible).

Concentration (10^6/mL) = mean sperm heads per frame / (field area x chamber depth),
with area = width x height x um_per_px^2 (µm^2), depth in µm, and 1 mL = 10^12 µm^3:
``C = N / (W * H * s**2 * d) * 1e12 / 1e6``.

References
----------
World Health Organization. WHO laboratory manual for the examination and processing of
human semen, 6th ed. Geneva, 2021. Lower reference limits (5th centiles), Table 8.2.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from spermlab.calibration import Calibration
from spermlab.tables import KINEMATICS, validate

__all__ = ["GRADES", "WHO_2021_LOWER_LIMITS", "GradingParams", "SampleResult", "concentration",
           "grade", "summarise"]  # fmt: skip

GRADES: dict[str, str] = {
    "a": "rapid progressive",
    "b": "slow progressive",
    "c": "non-progressive",
    "d": "immotile",
}

#: WHO 2021 lower reference limits (5th centile, 6th ed. Table 8.2).
WHO_2021_LOWER_LIMITS: dict[str, float] = {
    "progressive_pct": 30.0,
    "total_motile_pct": 42.0,
    "concentration_m_per_ml": 16.0,
}


@dataclass(frozen=True)
class GradingParams:
    """Thresholds of :func:`grade` (µm/s). Defaults are WHO 2021's."""

    rapid_um_s: float = 25.0
    progressive_um_s: float = 5.0
    immotile_vap_um_s: float = 4.0
    active_alh_um: float = 0.75
    flagellum_p: float = 0.5
    use_flagellum: bool = True
    min_graded_cells: int = 200
    min_fps: float = 50.0

    def __post_init__(self) -> None:
        if not 0 < self.progressive_um_s < self.rapid_um_s:
            raise ValueError(
                "need 0 < progressive_um_s < rapid_um_s, got "
                f"{self.progressive_um_s} and {self.rapid_um_s}"
            )
        if self.immotile_vap_um_s < 0:
            raise ValueError(f"immotile_vap_um_s must be >= 0, got {self.immotile_vap_um_s}")
        if self.active_alh_um <= 0:
            raise ValueError(f"active_alh_um must be > 0 µm, got {self.active_alh_um}")
        if not 0 < self.flagellum_p <= 1:
            raise ValueError(f"flagellum_p must be in (0, 1], got {self.flagellum_p}")


def grade(kinematics: pd.DataFrame, *, params: GradingParams | None = None) -> pd.DataFrame:
    """Assign each track its WHO 2021 motility grade (a, b, c or d).

    Parameters
    ----------
    kinematics : DataFrame
        A Kinematics table (:func:`spermlab.analysis.kinematics.measure`).
    params : GradingParams, optional
        Thresholds; WHO 2021 defaults.

    Returns
    -------
    DataFrame
        A copy with the ``grade`` column filled. A track whose progression, VAP, ALH or
        flagellar beat is undefined (NaN) is graded from what is defined, and
        immotile if none is.
    """
    p = params or GradingParams()
    k = validate(kinematics, KINEMATICS, name="Kinematics")
    prog = k["progression"].fillna(0.0).to_numpy()
    active = (k["vap"].fillna(0.0).to_numpy() >= p.immotile_vap_um_s) | (
        k["alh"].fillna(0.0).to_numpy() >= p.active_alh_um
    )
    if p.use_flagellum:
        fla = k["flagellum"].to_numpy(dtype=float)
        bad = np.isfinite(fla) & ((fla < 0) | (fla > 1))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"Kinematics: column 'flagellum' row {row}: {fla[row]:g} is not a probability "
                "(0-1); a table from an older spermlab held flagellar activity in µm² there: "
                "re-run the analysis, or set the column to NaN to grade by the head path")
        active |= np.nan_to_num(fla, nan=0.0) >= p.flagellum_p
    grades = np.where(
        prog >= p.rapid_um_s, "a",
        np.where(prog >= p.progressive_um_s, "b", np.where(active, "c", "d")),
    )  # fmt: skip
    return k.assign(grade=pd.Series(grades, dtype=object))


def concentration(mean_count: float, calibration: Calibration, width: int, height: int) -> float:
    """Sperm concentration in 10^6/mL from the mean number of heads per frame.

    Raises
    ------
    CalibrationError
        When the calibration has no chamber depth.
    """
    from spermlab.calibration import CalibrationError

    if calibration.chamber_depth_um is None:
        raise CalibrationError(
            "concentration needs the chamber depth: pass --depth-um or a preset (--preset visem)"
        )
    volume_um3 = width * height * calibration.um_per_px**2 * calibration.chamber_depth_um
    return float(mean_count / volume_um3 * 1e12 / 1e6)


@dataclass(frozen=True)
class SampleResult:
    """The motility result of one sample, with everything needed to trace it.

    Attributes
    ----------
    counts : dict
        Number of graded tracks per grade ``a b c d``.
    percentages : dict
        ``rapid``, ``slow``, ``non_progressive``, ``immotile``, ``progressive`` (a+b),
        ``total_motile`` (a+b+c), in percent of graded tracks.
    percentages_frame_weighted : dict
        The same shares with each track weighted by its number of detections: the mean
        of per-frame snapshots, as a manual count of the cells in view at one instant.
        Per-track shares count a swimmer once per crossing of the field and a still cell
        once for the whole recording, so they favour motile cells in long recordings.
    concentration_m_per_ml : float or None
        10^6 sperm/mL (None when no chamber depth was given).
    mean_heads_per_frame : float
        Mean sperm detections per frame, the concentration's numerator.
    n_graded : int
        Tracks graded.
    calibration : dict
        ``Calibration.to_dict()``: values and their sources.
    parameters : dict
        Every parameter of every stage.
    warnings : list of str
        Quality warnings (few cells, low frame rate, preset calibration...).
    quality : dict
        The one verdict on the result (:func:`spermlab.report.quality.assess`): ``level``
        (ok, caution or fail), every finding in ``checks``, the numbers behind them, and
        what passed. The console, ``--json`` and the report all show this.
    reference_limits : dict
        WHO 2021 lower reference limits.
    """

    counts: dict[str, int]
    percentages: dict[str, float]
    percentages_frame_weighted: dict[str, float]
    concentration_m_per_ml: float | None
    mean_heads_per_frame: float
    n_graded: int
    n_frames: int
    calibration: dict[str, Any]
    parameters: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    reference_limits: dict[str, float] = field(default_factory=lambda: dict(WHO_2021_LOWER_LIMITS))
    input: dict[str, Any] = field(default_factory=dict)
    software: dict[str, str] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SampleResult:
        """Inverse of :meth:`to_dict`."""
        return cls(**d)


def summarise(
    kinematics: pd.DataFrame,
    calibration: Calibration,
    *,
    mean_heads_per_frame: float,
    n_frames: int,
    width: int,
    height: int,
    params: GradingParams | None = None,
    parameters: dict[str, Any] | None = None,
    input_info: dict[str, Any] | None = None,
) -> SampleResult:
    """Percentages per WHO grade, concentration and quality warnings of one sample.

    Parameters
    ----------
    kinematics : DataFrame
        Graded Kinematics table (:func:`grade`).
    calibration : Calibration
        Used for the concentration and recorded with its sources.
    mean_heads_per_frame : float
        Mean number of sperm detections per frame.
    n_frames, width, height : int
        Frames analysed and image size in pixels.
    """
    from spermlab import __version__

    p = params or GradingParams()
    k = validate(kinematics, KINEMATICS, name="Kinematics")
    counts = {g: int((k["grade"] == g).sum()) for g in GRADES}
    n = sum(counts.values())
    frames = {g: int(k.loc[k["grade"] == g, "n_points"].sum()) for g in GRADES}
    percentages = _shares(counts)
    weighted = _shares(frames)
    conc = None
    if calibration.chamber_depth_um is not None:
        conc = concentration(mean_heads_per_frame, calibration, width, height)
    return SampleResult(
        counts=counts,
        percentages=percentages,
        percentages_frame_weighted=weighted,
        concentration_m_per_ml=conc,
        mean_heads_per_frame=float(mean_heads_per_frame),
        n_graded=n,
        n_frames=int(n_frames),
        calibration=calibration.to_dict(),
        parameters={"grading": asdict(p), **(parameters or {})},
        warnings=_warnings(n, calibration, p, conc),
        input=dict(input_info or {}),
        software={"spermlab": __version__},
    )


def _shares(amount: dict[str, int]) -> dict[str, float]:
    total = sum(amount.values())

    def pct(*gs: str) -> float:
        return 100.0 * sum(amount[g] for g in gs) / total if total else float("nan")

    return {
        "rapid": pct("a"), "slow": pct("b"), "non_progressive": pct("c"), "immotile": pct("d"),
        "progressive": pct("a", "b"), "total_motile": pct("a", "b", "c"),
    }  # fmt: skip


def _warnings(n: int, cal: Calibration, p: GradingParams, conc: float | None) -> list[str]:
    out = []
    if n < p.min_graded_cells:
        out.append(f"only {n} cells graded; WHO 2021 asks for at least {p.min_graded_cells}")
    if cal.fps < p.min_fps:
        out.append(f"frame rate {cal.fps:g} fps is below {p.min_fps:g} fps: VCL, ALH and BCF "
                   "are underestimated")  # fmt: skip
    scale = cal.sources.get("um_per_px", "")
    if scale.startswith("preset:"):
        out.append(f"image scale (um_per_px) from {scale}: velocities and grades scale with it; "
                   "measure your own microscope's scale (--um-per-px) if you can")  # fmt: skip
    others = [k for k, v in cal.sources.items() if k != "um_per_px" and str(v).startswith("preset:")]
    if others:
        names = {"fps": "frame rate (fps)", "chamber_depth_um": "chamber depth (chamber_depth_um)"}
        out.append(f"{' and '.join(names.get(k, k) for k in others)} from "
                   f"{cal.sources[others[0]]}, not from you or the file")  # fmt: skip
    if conc is None:
        out.append("no chamber depth: concentration not computed")
    return out
