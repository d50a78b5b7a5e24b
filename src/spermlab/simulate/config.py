"""The parameters of a simulation: one frozen, validated :class:`SimulationConfig`.

Every physical parameter is in micrometres and seconds; the conversion to pixels and
frames goes through a :class:`spermlab.Calibration`. The default calibration is the
``visem`` preset (0.2475 µm/px, 50 fps, 20 µm deep wet preparation) with every value
sourced as ``"simulation"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from spermlab.calibration import Calibration, preset

__all__ = ["GRADES", "LOOKS", "SimulationConfig", "default_calibration"]

#: WHO 2021 motility grades, in the order of :attr:`SimulationConfig.mix`.
GRADES: tuple[str, str, str, str] = ("a", "b", "c", "d")

#: The two image styles the renderer knows.
LOOKS: tuple[str, str] = ("phase", "brightfield")


def default_calibration() -> Calibration:
    """The simulation's default calibration: the ``visem`` preset, sourced ``"simulation"``.

    Examples
    --------
    >>> cal = default_calibration()
    >>> cal.um_per_px, cal.fps, cal.chamber_depth_um, cal.sources["fps"]
    (0.2475, 50.0, 20.0, 'simulation')
    """
    cal = preset("visem")
    return cal.with_values(
        source="simulation",
        um_per_px=cal.um_per_px,
        fps=cal.fps,
        chamber_depth_um=cal.chamber_depth_um,
    )


_FLOAT_FIELDS = (
    "duration_s",
    "concentration",
    "head_length_um",
    "head_width_um",
    "tail_length_um",
    "blur_um",
    "noise",
    "background",
    "debris_density",
    "blob_density",
    "round_cell_concentration",
    "circling_fraction",
    "max_progression_um_s",
    "stuck_fraction",
    "brownian_debris_density",
)
_OPTIONAL_FIELDS = ("background", "debris_density", "blob_density")


def _check(name: str, value: float, lo: float, hi: float, *, lo_open: bool = False) -> None:
    ok = math.isfinite(value) and (lo < value if lo_open else lo <= value) and value <= hi
    if not ok:
        left = "(" if lo_open else "["
        raise ValueError(
            f"SimulationConfig.{name}: expected a value in {left}{lo}, {hi}], got {value!r}"
        )


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate: sample, optics and image style.

    Parameters
    ----------
    duration_s : float
        Length of the clip in seconds, in (0, 600]. The clip has
        ``round(duration_s * fps)`` frames (at least one).
    calibration : Calibration
        µm per pixel, frames per second and chamber depth (needed for concentration).
        Default: :func:`default_calibration`.
    width, height : int
        Image size in pixels, 16-4096 each. Default 640x480 (VISEM).
    concentration : float
        Sperm concentration in 10⁶/mL, in [0, 1000]. The expected number of heads in
        the field is ``concentration·1e6 /mL × width·height·um_per_px² µm² ×
        chamber_depth_um µm × 1e-12 mL/µm³`` (see :attr:`expected_in_field`).
    mix : tuple of 4 floats
        Fractions of WHO 2021 grades a (rapid progressive), b (slow progressive),
        c (non-progressive) and d (immotile); each in [0, 1], summing to 1 (± 1e-6).
    drift_um_s : tuple of 2 floats
        Fluid drift (x, y) in µm/s added to every object; magnitude at most 200.
    head_length_um, head_width_um : float
        Head ellipse axes in µm (0.5-20; width not above length). WHO 2021 normal
        heads are 4.0-5.5 µm long and 2.5-3.5 µm wide.
    tail_length_um : float
        Flagellum length in µm, 0-120 (0 draws no tail).
    blur_um : float
        Standard deviation of the Gaussian point-spread function in µm, 0-5.
    noise : float
        Standard deviation of the temporal (per-frame) Gaussian noise in grey levels, 0-100.
    background : float or None
        Mean background grey level (0-255); ``None`` takes the look's measured default
        (phase 89, brightfield 155).
    debris_density : float or None
        Static debris particles per 1000 µm² of image, 0-1000; ``None`` takes the
        look's default (phase 60, about VISEM video 11; brightfield 15).
    blob_density : float or None
        Static out-of-focus blobs per 1000 µm², 0-100; ``None``: phase 0.3,
        brightfield 0.1.
    round_cell_concentration : float
        Round non-sperm cells (leukocytes, immature germ cells) in 10⁶/mL, 0-1000; they
        are drawn but never labelled.
    crossings : int
        Number of pairs of progressive cells made to cross: both heads are at the same
        point in the field at the same frame. 0-1000.
    circling_fraction : float
        Fraction of progressive (a, b) cells that swim in circles of 12-60 µm radius
        instead of nearly straight paths, in [0, 1].
    max_progression_um_s : float
        Upper end of the progression speed of grade a cells (µm/s), 25-300.
    stuck_fraction : float
        Fraction of the non-progressive (c) cells whose head is stuck to the glass while
        the flagellum beats (2-15 Hz, tip amplitude 0.3-10 µm, log-uniform, from barely
        visible to large): the head does not move at all, only the tail shows that the
        cell is alive (WHO 2021 grade c). In [0, 1]; 0 draws nothing extra, so the
        default keeps every earlier seed's video identical.
    brownian_debris_density : float
        Small particles (0.4-1 µm radius) diffusing with D = 0.4 µm²/s (Stokes-Einstein
        for a 0.5-µm particle in water at room temperature), per 1000 µm² of field,
        0-100; never labelled. 0 draws nothing extra.
    look : {"phase", "brightfield"}
        ``"phase"``: VISEM-like negative phase contrast (bright heads with a glow, dark
        tails, grey background). ``"brightfield"``: SVIA-like dark heads on a light
        background.

    Raises
    ------
    ValueError
        On any value out of its range; the message states the range.
    """

    duration_s: float = 5.0
    calibration: Calibration = field(default_factory=default_calibration)
    width: int = 640
    height: int = 480
    concentration: float = 60.0
    mix: tuple[float, float, float, float] = (0.30, 0.15, 0.10, 0.45)
    drift_um_s: tuple[float, float] = (0.0, 0.0)
    head_length_um: float = 4.5
    head_width_um: float = 3.0
    tail_length_um: float = 45.0
    blur_um: float = 0.15
    noise: float = 1.2
    background: float | None = None
    debris_density: float | None = None
    blob_density: float | None = None
    round_cell_concentration: float = 10.0
    crossings: int = 0
    circling_fraction: float = 0.1
    max_progression_um_s: float = 60.0
    look: str = "phase"
    stuck_fraction: float = 0.0
    brownian_debris_density: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.calibration, Calibration):
            raise TypeError(
                f"SimulationConfig.calibration: expected a spermlab.Calibration, "
                f"got {type(self.calibration).__name__}"
            )
        if self.calibration.chamber_depth_um is None:
            raise ValueError(
                "SimulationConfig.calibration: chamber_depth_um is needed to turn a "
                "concentration into a cell count, got None"
            )
        for name in _FLOAT_FIELDS:
            value = getattr(self, name)
            if value is None and name in _OPTIONAL_FIELDS:
                continue
            if isinstance(value, bool) or not isinstance(
                value, (int, float, np.integer, np.floating)
            ):
                raise TypeError(f"SimulationConfig.{name}: expected a number, got {value!r}")
            object.__setattr__(self, name, float(value))
        object.__setattr__(self, "mix", tuple(float(m) for m in self.mix))
        object.__setattr__(self, "drift_um_s", tuple(float(d) for d in self.drift_um_s))
        self._validate_numbers()
        self._validate_choices()

    def _validate_numbers(self) -> None:
        _check("duration_s", self.duration_s, 0.0, 600.0, lo_open=True)
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"SimulationConfig.{name}: expected an int, got {value!r}")
            _check(name, value, 16, 4096)
        _check("concentration", self.concentration, 0.0, 1000.0)
        _check("head_length_um", self.head_length_um, 0.5, 20.0)
        _check("head_width_um", self.head_width_um, 0.5, self.head_length_um)
        _check("tail_length_um", self.tail_length_um, 0.0, 120.0)
        _check("blur_um", self.blur_um, 0.0, 5.0)
        _check("noise", self.noise, 0.0, 100.0)
        if self.background is not None:
            _check("background", self.background, 0.0, 255.0)
        if self.debris_density is not None:
            _check("debris_density", self.debris_density, 0.0, 1000.0)
        if self.blob_density is not None:
            _check("blob_density", self.blob_density, 0.0, 100.0)
        _check("stuck_fraction", self.stuck_fraction, 0.0, 1.0)
        _check("brownian_debris_density", self.brownian_debris_density, 0.0, 100.0)
        _check("round_cell_concentration", self.round_cell_concentration, 0.0, 1000.0)
        _check("circling_fraction", self.circling_fraction, 0.0, 1.0)
        _check("max_progression_um_s", self.max_progression_um_s, 25.0, 300.0)
        if not isinstance(self.crossings, int) or isinstance(self.crossings, bool):
            raise TypeError(f"SimulationConfig.crossings: expected an int, got {self.crossings!r}")
        _check("crossings", self.crossings, 0, 1000)

    def _validate_choices(self) -> None:
        if len(self.mix) != 4:
            raise ValueError(
                f"SimulationConfig.mix: expected 4 fractions (a, b, c, d), got {len(self.mix)}"
            )
        for grade, m in zip(GRADES, self.mix, strict=True):
            _check(f"mix[{grade}]", m, 0.0, 1.0)
        if abs(sum(self.mix) - 1.0) > 1e-6:
            raise ValueError(
                f"SimulationConfig.mix: expected fractions summing to 1, got {sum(self.mix)}"
            )
        if len(self.drift_um_s) != 2:
            raise ValueError(
                f"SimulationConfig.drift_um_s: expected (x, y), got {self.drift_um_s!r}"
            )
        _check("|drift_um_s|", math.hypot(*self.drift_um_s), 0.0, 200.0)
        if self.look not in LOOKS:
            raise ValueError(
                f"SimulationConfig.look: expected one of {list(LOOKS)}, got {self.look!r}"
            )

    @property
    def n_frames(self) -> int:
        """Number of frames, ``max(1, round(duration_s · fps))``."""
        return max(1, round(self.duration_s * self.calibration.fps))

    @property
    def field_um(self) -> tuple[float, float]:
        """Width and height of the imaged field in µm."""
        u = self.calibration.um_per_px
        return self.width * u, self.height * u

    @property
    def expected_in_field(self) -> float:
        """Expected number of sperm heads in the field at any instant.

        ``N = C·1e6 mL⁻¹ × A µm² × depth µm × 1e-12 mL/µm³`` with ``A`` the field area.

        Examples
        --------
        >>> round(SimulationConfig(concentration=97.0).expected_in_field, 1)
        36.5
        """
        w, h = self.field_um
        depth = float(self.calibration.chamber_depth_um or 0.0)
        return self.concentration * 1e6 * w * h * depth * 1e-12

    def to_dict(self) -> dict[str, Any]:
        """Every parameter, JSON-ready (the calibration as :meth:`Calibration.to_dict`)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["calibration"] = self.calibration.to_dict()
        out["mix"] = list(self.mix)
        out["drift_um_s"] = list(self.drift_um_s)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SimulationConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"SimulationConfig: unknown parameter(s) {unknown}; "
                f"expected some of {sorted(known)}"
            )
        kw = dict(d)
        if isinstance(kw.get("calibration"), dict):
            kw["calibration"] = Calibration.from_dict(kw["calibration"])
        if "mix" in kw:
            kw["mix"] = tuple(kw["mix"])
        if "drift_um_s" in kw:
            kw["drift_um_s"] = tuple(kw["drift_um_s"])
        return cls(**kw)
