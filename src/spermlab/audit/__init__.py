"""Dataset-quality audit: what is wrong with an annotated sperm dataset, with evidence.

``audit_dataset(path)`` reads a VISEM-Tracking video folder or a Pascal VOC folder (SVIA) and
returns :class:`Finding` objects, one per broken rule instance (:data:`RULES`), each with its
severity, the file and line (or frame and track) and the numbers that broke the rule.
"""

from spermlab.audit.findings import RULES, Finding, Rule
from spermlab.audit.run import AuditResult, audit_dataset

__all__ = ["RULES", "AuditResult", "Finding", "Rule", "audit_dataset"]
