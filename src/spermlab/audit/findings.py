"""The audit's rules and findings: one documented table, one record per finding."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["RULES", "SEVERITIES", "Finding", "Rule"]

Severity = Literal["error", "warning", "info"]
SEVERITIES: dict[str, int] = {"info": 0, "warning": 1, "error": 2}


@dataclass(frozen=True)
class Rule:
    """One audit rule: id, severity, what it checks and what it means for training."""

    id: str
    severity: Severity
    title: str
    meaning: str


#: Every rule, documented (docs/audit.md is this table).
RULES: dict[str, Rule] = {r.id: r for r in [
    Rule("F001", "error", "malformed annotation line or file",
         "the reader skips it; whatever it held is missing from training"),
    Rule("B001", "error", "box outside the frame",
         "a target the network can never see; it teaches the loss to point off-image"),
    Rule("B002", "info", "box clipped at the border",
         "a partial head: normal at the edges, but its centre and size are biased"),
    Rule("B003", "error", "degenerate box (width or height under 1 px)",
         "no object: a zero-area target that breaks IoU-based losses and matching"),
    Rule("B004", "warning", "duplicate box (same frame, IoU above 0.9)",
         "one head counted twice: inflates counts and trains duplicate predictions"),
    Rule("B005", "info", "many boxes of one exact size (the annotation tool's default)",
         "sizes were not drawn per object: box size carries no information for these"),
    Rule("B006", "warning", "box size outlier for its class (robust z of log area above 4)",
         "often a wrong class or a box around two heads; check the image"),
    Rule("C001", "info", "frame with no objects",
         "fine if the field is empty; otherwise missed annotations teach false negatives"),
    Rule("C002", "warning", "class imbalance (a class under 5 % of boxes)",
         "a rare class is learned poorly; see the imbalance advice"),
    Rule("C003", "warning", "boxes per frame differ from the counts file",
         "labels and the published counts disagree: one of them is wrong for this frame"),
    Rule("T001", "info", "track with gaps (frames missing between its first and last)",
         "missed annotations inside a track: false negatives for detection"),
    Rule("T002", "warning", "jump faster than a sperm swims (above max_speed_um_s)",
         "an identity switch or a mislabelled box: wrong tracking targets"),
    Rule("T003", "warning", "track id reused after a long absence (over 1 s)",
         "two cells under one id: wrong identity targets, and wrong per-cell kinematics"),
    Rule("T004", "info", "unstable box size along a track (area CV over 0.5)",
         "inconsistent drawing; size-based features and IoU matching suffer"),
    Rule("T005", "error", "track changes class",
         "one object, two labels: contradicting targets"),
    Rule("I001", "error", "label file without its image",
         "the labels cannot be used; the frame is lost"),
    Rule("I002", "error", "unreadable image",
         "the frame is lost, or crashes a training loader"),
    Rule("I003", "warning", "the same image under two names",
         "duplicated frames weigh twice; across splits they leak test data into training"),
    Rule("I004", "warning", "frame numbers with gaps",
         "missing frames break tracks and time-based features"),
    Rule("I005", "error", "the same image in two splits of a dataset",
         "test data in training: validation scores overstate what the model does on new data"),
    Rule("I006", "warning", "neighbouring frames of one video in two splits (within 1 s)",
         "near-identical images on both sides: the same leak, split by frame instead of by video"),
]}  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """One broken rule instance, with where and the evidence."""

    rule: str
    file: str | None = None
    line: int | None = None
    frame: int | None = None
    track: int | None = None
    message: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> Severity:
        return RULES[self.rule].severity

    def to_dict(self) -> dict[str, Any]:
        return {"severity": self.severity, **asdict(self)}
