r"""Swimming models: how each simulated spermatozoon moves, in µm and seconds.

Every motile cell follows one analytic model. Its **average path** (the centreline) is
an arc of a circle of radius ``R`` travelled at constant speed ``v``; the head
oscillates about it:

.. math::

    \theta(t) = \theta_0 + s\,v t / R, \qquad
    \mathbf{c}(t) = \mathbf{c}_0 + \int_0^t v\,\mathbf{u}(\theta)\,dt, \qquad
    \mathbf{h}(t) = \mathbf{c}(t)
        + \tfrac{A}{2}\sin(2\pi f t + \varphi)\,\mathbf{n}(\theta)

with ``u`` the unit heading, ``n`` its left normal and ``s = ±1`` the turning sense.
By construction:

* **ALH** (amplitude of lateral head displacement) is the peak-to-peak lateral
  excursion of the head about its average path, ``A`` µm. The WHO manual's CASA
  terminology allows ALH as "a maximum or an average" of the lateral displacement; here
  the amplitude is constant, so both equal ``A``. Instruments that report the
  half-amplitude (displacement from the average path) would give ``A/2``.
* **BCF** (beat-cross frequency), the rate at which the head path crosses the average
  path, is ``2f`` Hz: a head swinging at ``f`` Hz crosses twice per beat cycle. This is
  the convention of :mod:`spermlab.analysis.kinematics`; the beat frequency ``f``
  itself is kept as ``beat_hz``.
* **Progression** is the straight-line distance covered by the average path in one
  second, ``p = 2R·sin(v/(2R))`` (WHO 2021 grades: a if ``p ≥ 25`` µm/s, b if
  ``5 ≤ p < 25``, c if motile with ``p < 5``, d immotile). A cell's grade is drawn first,
  then ``p`` within the grade's range, and ``v`` follows from ``p`` and ``R``.

**Stuck** cells (grade c, a share ``stuck_fraction`` of them) have their head fixed to
the glass: speed, progression and ALH are 0 and the head only rocks about its axis
(yaw up to 0.15 rad), while the flagellum beats at 2-15 Hz with a tip amplitude drawn
log-uniformly from 0.3 µm (barely visible) to 10 µm. WHO 2021 counts such a cell as
non-progressive ("a flagellar beat that hardly displaces the head"), so only the tail
tells it from a dead cell.

Immotile cells (grade d) diffuse: Brownian translation with ``D = 0.1 µm²/s`` and
rotational diffusion ``D_r = 1.4e-4 rad²/s`` (a 50-µm rod); they carry no beat
(ALH = BCF = beat_hz = 0).

References
----------
World Health Organization. *WHO laboratory manual for the examination and processing of
human semen*, 6th ed., 2021 (sperm motility grades a-d; CASA terminology).

Mortimer S.T. CASA—practical aspects. *J Androl* 21:515-524, 2000 (ALH and BCF
conventions of CASA instruments).

Mortimer S.T., van der Horst G., Mortimer D. The future of computer-aided sperm
analysis. *Asian J Androl* 17:545-553, 2015 (VCL, VSL, VAP, ALH, BCF; frame-rate
dependence of VCL).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from spermlab.simulate.config import GRADES, SimulationConfig

__all__ = [
    "BROWNIAN_D_UM2_S",
    "MODELS",
    "Paths",
    "Population",
    "compute_paths",
    "sample_population",
    "speed_for_progression",
]

#: Motion models, one per cell.
MODELS: tuple[str, ...] = ("progressive", "circling", "nonprogressive", "stuck", "immotile")

#: Translational diffusion coefficient of immotile cells (µm²/s).
BROWNIAN_D_UM2_S = 0.1
#: Rotational diffusion coefficient of immotile cells (rad²/s): a whole spermatozoon is a
#: slender rod (L ≈ 50 µm, d ≈ 0.5 µm), D_r = 3 kT ln(L/d) / (pi eta L^3) = 1.4e-4 rad²/s
#: in water at 22 °C (Doi & Edwards 1986, eq. 8.92). The earlier 0.02, a free head's,
#: swung a dead cell's tail tip by 1-2 µm per frame, a beat that no dead cell has.
ROTATIONAL_D_RAD2_S = 1.4e-4

#: Per grade: (ALH range µm, beat frequency range Hz), uniform draws.
_BEAT = {
    "a": ((2.5, 6.0), (8.0, 15.0)),
    "b": ((1.5, 5.0), (5.0, 12.0)),
    "c": ((1.0, 4.0), (3.0, 10.0)),
}


@dataclass(frozen=True)
class Population:
    """The motion parameters of ``n`` cells (one entry per cell, arrays of length n).

    Attributes
    ----------
    grade, model : ndarray of str
        WHO 2021 grade (a-d) and motion model (:data:`MODELS`).
    progression : ndarray
        Net distance of the average path per second (µm/s).
    speed : ndarray
        Speed ``v`` along the average path (µm/s); 0 for immotile cells.
    radius : ndarray
        Radius ``R`` of the average path (µm); NaN for immotile cells.
    turn : ndarray
        Turning sense, +1 or -1.
    alh, beat_hz, phase : ndarray
        Peak-to-peak lateral amplitude ``A`` (µm), beat frequency ``f`` (Hz; BCF is
        ``2f``) and beat phase ``φ`` (rad).
    theta0 : ndarray
        Heading at t = 0 (rad, image axes: x right, y down).
    yaw : ndarray
        Amplitude of the head's yaw about the heading (rad).
    tail_amp, tail_wavelength : ndarray
        Half-amplitude of the flagellar wave at the tip (µm) and its wavelength (µm).
    tail_bend : ndarray
        Static curvature of a non-beating tail (1/µm).
    """

    grade: np.ndarray
    model: np.ndarray
    progression: np.ndarray
    speed: np.ndarray
    radius: np.ndarray
    turn: np.ndarray
    alh: np.ndarray
    beat_hz: np.ndarray
    phase: np.ndarray
    theta0: np.ndarray
    yaw: np.ndarray
    tail_amp: np.ndarray
    tail_wavelength: np.ndarray
    tail_bend: np.ndarray

    def __len__(self) -> int:
        return int(self.grade.shape[0])


def speed_for_progression(progression: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Speed along an arc of radius ``R`` whose 1-s chord is ``p``: ``v = 2R·asin(p/2R)``.

    Parameters
    ----------
    progression : ndarray
        Chord covered in one second (µm/s); must not exceed ``2R``.
    radius : ndarray
        Radius of the arc (µm).

    Returns
    -------
    ndarray
        Speed along the arc (µm/s).

    Examples
    --------
    >>> round(float(speed_for_progression(np.array([30.0]), np.array([25.0]))[0]), 3)
    32.175
    """
    ratio = np.asarray(progression, float) / (2.0 * np.asarray(radius, float))
    if np.any(ratio > 1.0 + 1e-12):
        raise ValueError(f"progression must be at most 2 × radius, got ratio {float(ratio.max())}")
    return 2.0 * radius * np.arcsin(np.clip(ratio, 0.0, 1.0))


def _draw_geometry(
    grade: np.ndarray, p: np.ndarray, config: SimulationConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Model names and path radii for each cell."""
    n = grade.shape[0]
    model = np.full(n, "immotile", dtype=object)
    radius = np.full(n, np.nan)
    u_model = rng.random(n)
    r_prog = np.exp(rng.uniform(np.log(150.0), np.log(1500.0), n))
    r_circ = np.maximum(rng.uniform(12.0, 60.0, n), p / 1.8)
    r_np = np.maximum(np.exp(rng.uniform(np.log(0.5), np.log(5.0), n)), p / 1.8)
    prog = (grade == "a") | (grade == "b")
    circ = prog & (u_model < config.circling_fraction)
    model[prog & ~circ] = "progressive"
    radius[prog & ~circ] = r_prog[prog & ~circ]
    model[circ] = "circling"
    radius[circ] = r_circ[circ]
    nonp = grade == "c"
    model[nonp] = "nonprogressive"
    radius[nonp] = r_np[nonp]
    return model, radius


def sample_population(n: int, config: SimulationConfig, rng: np.random.Generator) -> Population:
    """Draw ``n`` cells: grade from ``config.mix``, then progression, path and beat.

    Progression is uniform within the grade's range: a ``[25, max_progression_um_s)``,
    b ``[5, 25)``, c ``[0, 5)``, d 0 µm/s.

    Parameters
    ----------
    n : int
        Number of cells.
    config : SimulationConfig
        Supplies ``mix``, ``circling_fraction`` and ``max_progression_um_s``.
    rng : Generator
        Source of randomness.

    Returns
    -------
    Population
    """
    grade = np.asarray(GRADES, dtype=object)[rng.choice(4, size=n, p=np.asarray(config.mix))]
    lo = np.select([grade == "a", grade == "b"], [25.0, 5.0], 0.0)
    hi = np.select(
        [grade == "a", grade == "b", grade == "c"], [config.max_progression_um_s, 25.0, 5.0], 0.0
    )
    p = lo + (hi - lo) * rng.random(n)
    model, radius = _draw_geometry(grade, p, config, rng)
    motile = grade != "d"
    speed = np.where(motile, speed_for_progression(p, np.where(motile, radius, 1.0)), 0.0)
    alh = np.zeros(n)
    beat = np.zeros(n)
    for g, ((a0, a1), (f0, f1)) in _BEAT.items():
        sel = grade == g
        alh[sel] = rng.uniform(a0, a1, int(sel.sum()))
        beat[sel] = rng.uniform(f0, f1, int(sel.sum()))
    yaw = np.minimum(0.35, np.arctan(np.pi * beat * alh / np.maximum(speed, 1.0)))
    pop = Population(
        grade=grade,
        model=model,
        progression=np.where(motile, p, 0.0),
        speed=speed,
        radius=radius,
        turn=rng.choice(np.array([-1.0, 1.0]), size=n),
        alh=alh,
        beat_hz=beat,
        phase=rng.uniform(0.0, 2.0 * np.pi, n),
        theta0=rng.uniform(-np.pi, np.pi, n),
        yaw=np.where(motile, yaw, 0.0),
        tail_amp=np.where(motile, alh * rng.uniform(0.8, 1.2, n) + 1.5, 0.0),
        tail_wavelength=rng.uniform(20.0, 30.0, n),
        tail_bend=np.where(motile, 0.0, rng.uniform(-0.035, 0.035, n)),
    )
    if config.stuck_fraction > 0:  # drawn last and only when asked: earlier seeds unchanged
        pop = _stick(pop, config.stuck_fraction, rng)
    return pop


def _stick(pop: Population, fraction: float, rng: np.random.Generator) -> Population:
    """Turn a share of the grade-c cells into stuck cells (head fixed, tail beating)."""
    n = len(pop)
    stuck = (pop.grade == "c") & (rng.random(n) < fraction)
    beat = rng.uniform(2.0, 15.0, n)
    amp = np.exp(rng.uniform(np.log(0.3), np.log(10.0), n))
    yaw = rng.uniform(0.0, 0.15, n)

    def put(old: np.ndarray, new: np.ndarray | float) -> np.ndarray:
        return np.where(stuck, new, old)

    return replace(
        pop, model=put(pop.model, "stuck").astype(object), progression=put(pop.progression, 0.0),
        speed=put(pop.speed, 0.0), alh=put(pop.alh, 0.0), beat_hz=put(pop.beat_hz, beat),
        yaw=put(pop.yaw, yaw), tail_amp=put(pop.tail_amp, amp),
    )  # fmt: skip


@dataclass(frozen=True)
class Paths:
    """Positions of ``n`` cells at ``T`` times, in the fluid frame, relative to their start.

    All arrays have shape ``(n, T)``. ``head_*`` is the head centre (µm), ``centre_*``
    the average path (µm; the head itself for immotile cells), ``theta`` the heading of
    the average path (rad), ``psi`` the orientation of the head's long axis (rad) and
    ``beat`` the beat phase ``2πft + φ`` (rad).
    """

    head_x: np.ndarray
    head_y: np.ndarray
    centre_x: np.ndarray
    centre_y: np.ndarray
    theta: np.ndarray
    psi: np.ndarray
    beat: np.ndarray


def _motile(pop: Population, t: np.ndarray) -> tuple[np.ndarray, ...]:
    kappa = pop.turn / np.where(np.isfinite(pop.radius), pop.radius, 1.0)
    th0 = pop.theta0[:, None]
    theta = th0 + (kappa * pop.speed)[:, None] * t[None, :]
    k = kappa[:, None]
    cx = (np.sin(theta) - np.sin(th0)) / k
    cy = -(np.cos(theta) - np.cos(th0)) / k
    beat = 2.0 * np.pi * pop.beat_hz[:, None] * t[None, :] + pop.phase[:, None]
    lateral = 0.5 * pop.alh[:, None] * np.sin(beat)
    hx = cx - lateral * np.sin(theta)
    hy = cy + lateral * np.cos(theta)
    psi = theta + pop.yaw[:, None] * np.cos(beat)
    return hx, hy, cx, cy, theta, psi, beat


def _brownian(
    n: int,
    t: np.ndarray,
    theta0: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dt = np.diff(t, prepend=t[0])
    sd = np.sqrt(2.0 * BROWNIAN_D_UM2_S * dt)
    sr = np.sqrt(2.0 * ROTATIONAL_D_RAD2_S * dt)
    steps = rng.standard_normal((3, n, t.shape[0]))
    x = np.cumsum(steps[0] * sd[None, :], axis=1)
    y = np.cumsum(steps[1] * sd[None, :], axis=1)
    th = theta0[:, None] + np.cumsum(steps[2] * sr[None, :], axis=1)
    return x, y, th


def compute_paths(pop: Population, t: np.ndarray, rng: np.random.Generator) -> Paths:
    """Exact positions of every cell at times ``t`` (s), fluid frame, start at the origin.

    Motile cells follow the analytic model of this module; immotile cells a Brownian
    walk drawn from ``rng`` (the only randomness here).

    Parameters
    ----------
    pop : Population
        The cells.
    t : ndarray, shape (T,)
        Times in seconds, increasing, ``t[0] = 0``.
    rng : Generator
        Draws the Brownian steps of immotile cells.

    Returns
    -------
    Paths
    """
    hx, hy, cx, cy, theta, psi, beat = _motile(pop, t)
    still = pop.grade == "d"
    if still.any():
        bx, by, bth = _brownian(int(still.sum()), t, pop.theta0[still], rng)
        for arr, val in ((hx, bx), (hy, by), (cx, bx), (cy, by), (theta, bth), (psi, bth)):
            arr[still] = val
        beat[still] = 0.0
    return Paths(head_x=hx, head_y=hy, centre_x=cx, centre_y=cy, theta=theta, psi=psi, beat=beat)


def continuous_vcl(pop: Population, n_samples: int = 256) -> np.ndarray:
    """Mean instantaneous head speed over one beat cycle (µm/s), the frame-rate-free VCL.

    VCL measured at a finite frame rate is lower (chords cut the beat's curves):
    see Mortimer et al. 2015. NaN for immotile (Brownian) cells, whose path length is
    not defined.
    """
    phi = np.linspace(0.0, 2.0 * np.pi, n_samples, endpoint=False)[None, :]
    kappa = pop.turn / np.where(np.isfinite(pop.radius), pop.radius, np.inf)
    v = pop.speed[:, None]
    half = 0.5 * pop.alh[:, None]
    along = v - half * np.sin(phi) * (kappa * pop.speed)[:, None]
    across = half * 2.0 * np.pi * pop.beat_hz[:, None] * np.cos(phi)
    out = np.hypot(along, across).mean(axis=1)
    return np.where(pop.grade == "d", np.nan, out)
