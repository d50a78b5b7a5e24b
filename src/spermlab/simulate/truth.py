"""The simulated truth a result is compared with: WHO shares of the cells that can be graded."""

from __future__ import annotations

import pandas as pd

__all__ = ["truth_percentages"]

_GRADE_KEYS = (("a", "rapid"), ("b", "slow"), ("c", "non_progressive"), ("d", "immotile"))


def truth_percentages(cells: pd.DataFrame, *, min_points: int) -> dict[str, float]:
    """Per-grade share (%) of the simulated cells seen in the field long enough to be graded.

    Parameters
    ----------
    cells : DataFrame
        :attr:`spermlab.simulate.Simulation.cells` (``grade``, ``n_in_field``).
    min_points : int
        The fewest frames in the field for a cell to count (the analysis grades no shorter
        track: :class:`spermlab.analysis.kinematics.KinematicsParams`).

    Returns
    -------
    dict
        ``rapid``, ``slow``, ``non_progressive``, ``immotile`` in percent (NaN with no cell).
    """
    seen = cells[cells["n_in_field"] >= min_points]
    n = len(seen)
    return {key: 100.0 * float((seen["grade"] == g).sum()) / n if n else float("nan")
            for g, key in _GRADE_KEYS}  # fmt: skip
