"""Kalman motion models for many 2-D point tracks at once.

Two models live here, both in pixels and frames (:class:`spermlab.track.Linker`
converts from µm and seconds):

- :class:`ConstantVelocity`: the Kalman filter (Kalman 1960) with the continuous
  white-noise acceleration model (Bar-Shalom et al. 2001, §6.2.2). Over ``k`` frames,
  ``F = [[1, k], [0, 1]]`` and ``Q = q [[k³/3, k²/2], [k²/2, k]]``, which composes
  exactly, so a prediction across a gap of ``k`` frames equals ``k`` one-frame
  predictions.
- :class:`InteractingMultipleModel`: several constant-velocity filters that differ only
  in ``q`` run side by side on each track and are mixed by a Markov chain over modes
  (Blom and Bar-Shalom 1988). For sperm this separates immotile cells, whose position is
  known to a fraction of a pixel, from swimming ones, whose heads wobble by several
  pixels between frames. One ``q`` for all cells is either too loose for the first
  (a passing swimmer steals the immotile cell's detection) or too tight for the second.

The two image axes are modelled as independent and identical, so one 2x2 covariance of
``(position, velocity)`` per track (and mode) serves both axes.

References
----------
.. [1] Kalman, R. E. (1960). A new approach to linear filtering and prediction problems.
   *Journal of Basic Engineering* 82(1), 35-45. doi:10.1115/1.3662552
.. [2] Blom, H. A. P. and Bar-Shalom, Y. (1988). The interacting multiple model
   algorithm for systems with Markovian switching coefficients. *IEEE Transactions on
   Automatic Control* 33(8), 780-783. doi:10.1109/9.1299
.. [3] Bar-Shalom, Y., Li, X. R. and Kirubarajan, T. (2001). *Estimation with
   Applications to Tracking and Navigation*. Wiley. doi:10.1002/0471221279
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["ConstantVelocity", "InteractingMultipleModel", "State"]

FloatArray = NDArray[np.float64]
_LOG_2PI = float(np.log(2 * np.pi))


@dataclass
class State:
    """Per-track state of an :class:`InteractingMultipleModel` with ``M`` modes.

    Attributes
    ----------
    pos : (n, M, 2) ndarray
        Estimated position ``(x, y)`` under each mode, px.
    vel : (n, M, 2) ndarray
        Estimated velocity under each mode, px/frame.
    cov : (n, M, 2, 2) ndarray
        Covariance of ``(position, velocity)`` along one axis, under each mode.
    prob : (n, M) ndarray
        Probability of each mode; rows sum to 1.
    """

    pos: FloatArray
    vel: FloatArray
    cov: FloatArray
    prob: FloatArray

    def __len__(self) -> int:
        return len(self.pos)

    def take(self, index: NDArray[np.intp] | NDArray[np.bool_]) -> State:
        """The tracks selected by an integer or boolean index, as a new state."""
        return State(self.pos[index], self.vel[index], self.cov[index], self.prob[index])

    def put(self, index: NDArray[np.intp], other: State) -> None:
        """Overwrite the tracks at ``index`` with ``other`` (in place)."""
        self.pos[index] = other.pos
        self.vel[index] = other.vel
        self.cov[index] = other.cov
        self.prob[index] = other.prob

    def concat(self, other: State) -> State:
        """This state followed by ``other``, as a new state."""
        return State(
            *(np.concatenate([a, b]) for a, b in zip(self.fields(), other.fields(), strict=True))
        )

    def fields(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """``(pos, vel, cov, prob)``."""
        return self.pos, self.vel, self.cov, self.prob


@dataclass(frozen=True)
class ConstantVelocity:
    """Constant-velocity Kalman filter with white-noise acceleration, in px and frames.

    Every method works on arrays with any leading shape ``(...)``: positions and
    velocities ``(..., 2)``, covariances ``(..., 2, 2)``.

    Parameters
    ----------
    q : float or array_like
        Spectral density of the random acceleration, px²/frame³; an array broadcasts
        against the leading shape (one value per mode, say).
    r : float
        Variance of a measured position along one axis, px².
    """

    q: float | FloatArray
    r: float

    def predict(
        self, pos: FloatArray, vel: FloatArray, cov: FloatArray, steps: ArrayLike
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Propagate ``steps`` frames ahead; ``steps`` broadcasts against ``(...)``."""
        k = np.asarray(steps, dtype=float)
        q = np.asarray(self.q, dtype=float)
        p00, p01, p11 = cov[..., 0, 0], cov[..., 0, 1], cov[..., 1, 1]
        out = np.empty(np.broadcast_shapes(cov.shape, k.shape + (2, 2), q.shape + (2, 2)))
        out[..., 0, 0] = p00 + 2 * k * p01 + k * k * p11 + q * k**3 / 3
        out[..., 0, 1] = out[..., 1, 0] = p01 + k * p11 + q * k**2 / 2
        out[..., 1, 1] = p11 + q * k
        return pos + k[..., None] * vel, vel.copy(), out

    def innovation_var(self, cov: FloatArray) -> FloatArray:
        """Variance of the next measurement around the predicted position, px² per axis."""
        return cov[..., 0, 0] + self.r

    def log_likelihood(self, pos: FloatArray, cov: FloatArray, z: FloatArray) -> FloatArray:
        """Log density of measuring ``z`` given the prediction ``(pos, cov)``, in 1/px²."""
        s = self.innovation_var(cov)
        d2 = ((z - pos) ** 2).sum(axis=-1)
        return -0.5 * d2 / s - np.log(s) - _LOG_2PI

    def update(
        self, pos: FloatArray, vel: FloatArray, cov: FloatArray, z: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Correct the prediction with the measured position ``z``."""
        s = self.innovation_var(cov)
        p00, p01, p11 = cov[..., 0, 0], cov[..., 0, 1], cov[..., 1, 1]
        gain_p, gain_v = p00 / s, p01 / s
        innov = z - pos
        out = np.empty_like(cov)
        out[..., 0, 0] = (1 - gain_p) * p00
        out[..., 0, 1] = out[..., 1, 0] = (1 - gain_p) * p01
        out[..., 1, 1] = p11 - gain_v * p01
        return pos + gain_p[..., None] * innov, vel + gain_v[..., None] * innov, out


@dataclass(frozen=True)
class InteractingMultipleModel:
    """Constant-velocity filters differing in process noise, mixed by a Markov chain.

    Parameters
    ----------
    q : (M,) array_like
        Spectral density of the random acceleration of each mode, px²/frame³.
    r : float
        Variance of a measured position along one axis, px².
    v0 : float
        Variance of the velocity of a newly born track along one axis, px²/frame².
    switch : float
        Probability per frame of leaving the current mode (spread evenly over the
        others).
    prior : (M,) array_like, optional
        Mode probabilities of a new track; uniform by default.
    """

    q: tuple[float, ...]
    r: float
    v0: float
    switch: float = 0.05
    prior: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        q = np.asarray(self.q, dtype=float)
        if q.ndim != 1 or len(q) == 0 or not (np.isfinite(q).all() and (q >= 0).all()):
            raise ValueError(f"q must be a non-empty sequence of finite values >= 0, got {self.q}")
        for name in ("r", "v0"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value}")
        if not 0 <= self.switch < 1:
            raise ValueError(f"switch must be in [0, 1), got {self.switch}")
        if self.prior is not None and len(self.prior) != len(q):
            raise ValueError(f"prior needs {len(q)} values (one per mode), got {len(self.prior)}")

    @property
    def _cv(self) -> ConstantVelocity:
        return ConstantVelocity(np.asarray(self.q, dtype=float), self.r)

    @property
    def transition(self) -> FloatArray:
        """Mode transition matrix per frame, ``(M, M)``; row ``i`` is leaving mode ``i``."""
        m = len(self.q)
        if m == 1:
            return np.ones((1, 1))
        p = np.full((m, m), self.switch / (m - 1))
        np.fill_diagonal(p, 1 - self.switch)
        return p

    def empty(self) -> State:
        """A state holding no track."""
        m = len(self.q)
        return State(
            np.zeros((0, m, 2)), np.zeros((0, m, 2)), np.zeros((0, m, 2, 2)), np.zeros((0, m))
        )

    def birth(self, pos: FloatArray) -> State:
        """States of new tracks observed once at ``pos`` ((n, 2) px), at rest."""
        n, m = len(pos), len(self.q)
        cov = np.zeros((n, m, 2, 2))
        cov[..., 0, 0] = self.r
        cov[..., 1, 1] = self.v0
        prior = np.full(m, 1 / m) if self.prior is None else np.asarray(self.prior, float)
        p = np.broadcast_to(np.asarray(pos, dtype=float)[:, None, :], (n, m, 2)).copy()
        return State(p, np.zeros((n, m, 2)), cov, np.tile(prior / prior.sum(), (n, 1)))

    def predict(self, state: State) -> State:
        """Mix the modes (the IMM interaction step) and propagate one frame ahead.

        The mixed covariance adds the spread of the mode means around the mixed mean;
        the spread is averaged over the two axes to keep one covariance for both.
        """
        if len(state) == 0:
            return state
        trans = self.transition
        c = state.prob @ trans  # (n, M) predicted mode probabilities
        w = state.prob[:, :, None] * trans[None] / np.maximum(c[:, None, :], 1e-300)  # (n,i,j)
        pos0 = np.einsum("nij,nid->njd", w, state.pos)
        vel0 = np.einsum("nij,nid->njd", w, state.vel)
        dp = state.pos[:, :, None, :] - pos0[:, None, :, :]  # (n, i, j, axis)
        dv = state.vel[:, :, None, :] - vel0[:, None, :, :]
        spread = np.empty(dp.shape[:3] + (2, 2))
        spread[..., 0, 0] = (dp * dp).mean(axis=3)
        spread[..., 0, 1] = spread[..., 1, 0] = (dp * dv).mean(axis=3)
        spread[..., 1, 1] = (dv * dv).mean(axis=3)
        cov0 = np.einsum("nij,nijab->njab", w, state.cov[:, :, None] + spread)
        pos, vel, cov = self._cv.predict(pos0, vel0, cov0, 1)
        return State(pos, vel, cov, c)

    def log_likelihood(self, state: State, z: FloatArray) -> FloatArray:
        """Log density (1/px²) of measuring ``z[i]`` ((n, 2) px) under track ``i``: (n,)."""
        ll = self._cv.log_likelihood(state.pos, state.cov, z[:, None, :])
        ll += np.log(np.maximum(state.prob, 1e-300))
        top = ll.max(axis=1)
        return top + np.log(np.exp(ll - top[:, None]).sum(axis=1))

    def update(self, state: State, z: FloatArray) -> State:
        """Correct each track with its measured position ``z`` ((n, 2) px)."""
        zz = z[:, None, :]
        ll = self._cv.log_likelihood(state.pos, state.cov, zz)
        logp = ll + np.log(np.maximum(state.prob, 1e-300))
        prob = np.exp(logp - logp.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        pos, vel, cov = self._cv.update(state.pos, state.vel, state.cov, zz)
        return State(pos, vel, cov, prob)

    def estimate(self, state: State) -> tuple[FloatArray, FloatArray]:
        """Mode-averaged position and velocity of each track, ((n, 2), (n, 2))."""
        return (np.einsum("nm,nmd->nd", state.prob, state.pos),
                np.einsum("nm,nmd->nd", state.prob, state.vel))
