"""A constant-velocity Kalman filter for many 2-D point tracks at once.

The state of one track is its position and velocity along each image axis. The two axes
are modelled as independent and identical, so one 2x2 covariance per track serves both
(the covariances stay equal because the noise is isotropic). Everything here is in
pixels and frames; :class:`spermlab.track.Linker` converts from µm and seconds.

The motion model is the continuous white-noise acceleration model (Bar-Shalom, Li and
Kirubarajan 2001, §6.2.2): over ``k`` frames, ``F = [[1, k], [0, 1]]`` and
``Q = q [[k³/3, k²/2], [k²/2, k]]``, which composes exactly, so a prediction over a gap
of ``k`` frames equals ``k`` one-frame predictions.

References
----------
.. [1] Kalman, R. E. (1960). A new approach to linear filtering and prediction problems.
   *Journal of Basic Engineering* 82(1), 35-45. doi:10.1115/1.3662552
.. [2] Bar-Shalom, Y., Li, X. R. and Kirubarajan, T. (2001). *Estimation with
   Applications to Tracking and Navigation*. Wiley. doi:10.1002/0471221279
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["ConstantVelocity", "KalmanState"]

FloatArray = NDArray[np.float64]


@dataclass
class KalmanState:
    """Positions, velocities and covariances of ``n`` tracks.

    Attributes
    ----------
    pos : (n, 2) ndarray
        Estimated positions ``(x, y)``, px.
    vel : (n, 2) ndarray
        Estimated velocities, px/frame.
    cov : (n, 2, 2) ndarray
        Covariance of ``(position, velocity)`` along one axis (the same for both axes).
    """

    pos: FloatArray
    vel: FloatArray
    cov: FloatArray

    @classmethod
    def empty(cls) -> KalmanState:
        """A state holding no track."""
        return cls(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros((0, 2, 2)))

    def __len__(self) -> int:
        return len(self.pos)

    def take(self, index: NDArray[np.intp] | NDArray[np.bool_]) -> KalmanState:
        """The tracks selected by an integer or boolean index, as a new state."""
        return KalmanState(self.pos[index], self.vel[index], self.cov[index])

    def concat(self, other: KalmanState) -> KalmanState:
        """This state followed by ``other``, as a new state."""
        return KalmanState(
            np.concatenate([self.pos, other.pos]),
            np.concatenate([self.vel, other.vel]),
            np.concatenate([self.cov, other.cov]),
        )


@dataclass(frozen=True)
class ConstantVelocity:
    """Constant-velocity motion model with white-noise acceleration, in px and frames.

    Parameters
    ----------
    q : float
        Spectral density of the random acceleration, px²/frame³. Larger values let the
        velocity change faster and widen the predicted search region.
    r : float
        Variance of the measured position along one axis, px².
    v0 : float
        Variance of the (unknown) velocity of a newly born track along one axis,
        px²/frame². A new track starts at rest with this uncertainty.
    """

    q: float
    r: float
    v0: float

    def __post_init__(self) -> None:
        for name in ("q", "r", "v0"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"ConstantVelocity.{name} must be finite and >= 0, got {value}")
        if self.r == 0 and self.v0 == 0 and self.q == 0:
            raise ValueError("ConstantVelocity: q, r and v0 cannot all be 0")

    def birth(self, pos: FloatArray) -> KalmanState:
        """States of new tracks observed once at ``pos`` ((m, 2) px), at rest."""
        m = len(pos)
        cov = np.zeros((m, 2, 2))
        cov[:, 0, 0] = self.r
        cov[:, 1, 1] = self.v0
        return KalmanState(np.array(pos, dtype=float).reshape(m, 2), np.zeros((m, 2)), cov)

    def predict(self, state: KalmanState, steps: NDArray[np.integer] | int) -> KalmanState:
        """Propagate each track ``steps`` frames ahead (scalar or one per track)."""
        k = np.broadcast_to(np.asarray(steps, dtype=float), (len(state),))
        pos = state.pos + k[:, None] * state.vel
        p00, p01, p11 = state.cov[:, 0, 0], state.cov[:, 0, 1], state.cov[:, 1, 1]
        cov = np.empty_like(state.cov)
        cov[:, 0, 0] = p00 + 2 * k * p01 + k * k * p11 + self.q * k**3 / 3
        cov[:, 0, 1] = cov[:, 1, 0] = p01 + k * p11 + self.q * k**2 / 2
        cov[:, 1, 1] = p11 + self.q * k
        return KalmanState(pos, state.vel.copy(), cov)

    def innovation_var(self, state: KalmanState) -> FloatArray:
        """Variance of a new measurement around each predicted position, px² per axis."""
        return state.cov[:, 0, 0] + self.r

    def update(self, state: KalmanState, z: FloatArray) -> KalmanState:
        """Correct each track with one measured position ``z`` ((n, 2) px)."""
        s = self.innovation_var(state)
        gain_p = state.cov[:, 0, 0] / s
        gain_v = state.cov[:, 1, 0] / s
        innov = z - state.pos
        pos = state.pos + gain_p[:, None] * innov
        vel = state.vel + gain_v[:, None] * innov
        p00, p01, p11 = state.cov[:, 0, 0], state.cov[:, 0, 1], state.cov[:, 1, 1]
        cov = np.empty_like(state.cov)
        cov[:, 0, 0] = (1 - gain_p) * p00
        cov[:, 0, 1] = cov[:, 1, 0] = (1 - gain_p) * p01
        cov[:, 1, 1] = p11 - gain_v * p01
        return KalmanState(pos, vel, cov)
