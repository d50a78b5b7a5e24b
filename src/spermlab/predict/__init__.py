"""Sample-level prediction judged as the VISEM papers judge it (cross-validation beside ZeroR)."""

from spermlab.predict.visem_exp2 import GROUPS, MODELS, Exp2Result, run_visem_exp2

__all__ = ["GROUPS", "MODELS", "Exp2Result", "run_visem_exp2"]
