"""Evaluation against ground truth.

- :mod:`~spermlab.evaluate.detection`: P/R/F1 at a score threshold, COCO AP50 and AP50-95
  (parity with pycocotools), matching by IoU or centre distance.
- :mod:`~spermlab.evaluate.tracking`: HOTA, CLEAR MOT, Identity (parity with TrackEval),
  and the Cell Tracking Challenge DET/TRA/LNK (through py-ctcmetrics).
- :mod:`~spermlab.evaluate.agreement`: MAE, RMSE, Pearson, Spearman, Lin's CCC,
  Bland-Altman, ZeroR baseline, Cohen's and Fleiss' kappa (the function ``agreement``
  itself is imported from that module: its name is the module's).
"""

from __future__ import annotations

from spermlab.evaluate._ctc import CTCResult, evaluate_ctc
from spermlab.evaluate.agreement import (
    AgreementResult,
    BlandAltman,
    agreement_table,
    bland_altman,
    cohen_kappa,
    fleiss_kappa,
    lin_ccc,
    zero_r,
    zero_r_folds,
)
from spermlab.evaluate.detection import (
    ClassMetrics,
    DetectionResult,
    PRCurve,
    evaluate_detections,
    to_coco,
)
from spermlab.evaluate.matching import box_iou, centre_distance
from spermlab.evaluate.tracking import TrackingResult, combine_sequences, evaluate_tracking

__all__ = [
    "AgreementResult",
    "BlandAltman",
    "CTCResult",
    "ClassMetrics",
    "DetectionResult",
    "PRCurve",
    "TrackingResult",
    "agreement_table",
    "bland_altman",
    "box_iou",
    "centre_distance",
    "cohen_kappa",
    "combine_sequences",
    "evaluate_ctc",
    "evaluate_detections",
    "evaluate_tracking",
    "fleiss_kappa",
    "lin_ccc",
    "to_coco",
    "zero_r",
    "zero_r_folds",
]
