"""The audit's HTML report: one self-contained page per audit (figures and crops inline).

Per dataset: the boxes per class (bars), box sizes per class (histograms of area), the
findings per frame over time (one row per rule), the counts per rule with what each means
for training, and the worst offenders (the box-level findings of the most severe rules) with
a crop of the image around the box when the images are there (VISEM-Tracking).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from spermlab.audit.findings import RULES, SEVERITIES

__all__ = ["write_audit_report"]

_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>spermlab audit</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f4f4f1}main{max-width:1200px;margin:auto;padding:14px}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 14px;margin-top:14px}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left}
.error{color:#b3001b;font-weight:700}.warning{color:#9a5b00;font-weight:700}.info{color:#555}
.figs{display:grid;grid-template-columns:1fr 1fr 1fr;gap:10px}img{max-width:100%}
.crops{display:flex;flex-wrap:wrap;gap:8px}.crops figure{margin:0;width:150px;font-size:11px}</style></head>
<body><main><h1>Dataset audit</h1><p>Generated {{ generated }}. Rules and what they mean: docs/audit.md.</p>
{% for d in datasets %}<section id="dataset-{{ loop.index }}"><h2>{{ d.name }}</h2>
<p>{{ d.stats.frames }} frames, {{ d.stats.boxes }} boxes{% if d.stats.tracks %}, {{ d.stats.tracks }} tracks{% endif %}.</p>
<div class="figs">{% for f in d.figures %}<figure><img src="{{ f.uri }}" alt="{{ f.alt }}"><figcaption>{{ f.alt }}</figcaption></figure>{% endfor %}</div>
<table><thead><tr><th>rule</th><th>severity</th><th>count</th><th>what</th><th>what it means for training</th></tr></thead><tbody>
{% for r in d.rules %}<tr data-rule="{{ r.id }}"><td>{{ r.id }}</td><td class="{{ r.severity }}">{{ r.severity }}</td><td>{{ r.count }}</td><td>{{ r.title }}</td><td>{{ r.meaning }}</td></tr>{% endfor %}
</tbody></table>{% if d.crops %}<h3>Worst offenders</h3><div class="crops">{% for c in d.crops %}
<figure><img src="{{ c.uri }}" alt="{{ c.text }}"><figcaption><b>{{ c.rule }}</b> {{ c.text }}</figcaption></figure>{% endfor %}</div>{% endif %}
</section>{% endfor %}</main></body></html>"""


def write_audit_report(results: list, out: str | Path, *, max_crops: int = 24) -> Path:
    """Write the audit report of one or more :class:`AuditResult` (atomically)."""
    import jinja2

    from spermlab.io.atomic import write_text

    datasets = []
    for r in results:
        counts = r.counts()
        rules = [{"id": k, "severity": RULES[k].severity, "count": n, "title": RULES[k].title,
                  "meaning": RULES[k].meaning} for k, n in
                 sorted(counts.items(), key=lambda kv: (-SEVERITIES[RULES[kv[0]].severity], kv[0]))]  # fmt: skip
        datasets.append({"name": r.dataset, "stats": r.stats, "rules": rules, "figures": _figures(r),
                         "crops": _crops(r, max_crops)})  # fmt: skip
    html = jinja2.Environment(autoescape=True).from_string(_PAGE).render(
        datasets=datasets, generated=time.strftime("%Y-%m-%d %H:%M:%S %z"))
    return write_text(out, html)


def _figures(r) -> list[dict[str, str]]:
    from matplotlib.figure import Figure

    from spermlab.report.plots import figure_to_data_uri

    out = []
    per_class = r.stats.get("boxes_per_class") or {}
    if per_class:
        fig = Figure(figsize=(4, 3))
        ax = fig.subplots()
        ax.bar(list(per_class), list(per_class.values()), color="#56B4E9", edgecolor="#333")
        ax.set_ylabel("boxes")
        fig.tight_layout()
        out.append({"uri": figure_to_data_uri(fig), "alt": "boxes per class"})
    frames = [f for f in r.findings if f.frame is not None]
    if frames:
        fig = Figure(figsize=(4, 3))
        ax = fig.subplots()
        rules = sorted({f.rule for f in frames})
        for k, rule in enumerate(rules):
            xs = [f.frame for f in frames if f.rule == rule]
            ax.scatter(xs, np.full(len(xs), k), s=4)
        ax.set_yticks(range(len(rules)), rules)
        ax.set_xlabel("frame")
        fig.tight_layout()
        out.append({"uri": figure_to_data_uri(fig), "alt": "findings per frame over time"})
    hist = dict(r.stats.get("box_area_histogram") or {})
    edges = hist.pop("edges_px2", None)
    if edges and hist:
        fig = Figure(figsize=(4, 3))
        ax = fig.subplots()
        for name, counts in hist.items():
            ax.stairs(counts, edges, label=name)
        ax.set_xscale("log")
        ax.set_xlabel("box area (px²)")
        ax.set_ylabel("boxes")
        ax.legend(fontsize=8)
        fig.tight_layout()
        out.append({"uri": figure_to_data_uri(fig), "alt": "box sizes per class"})
    sizes = [f.evidence.get("median_area_px2") for f in r.findings if f.rule == "B006"]
    areas = [f.evidence.get("size_px") for f in r.findings if f.rule == "B003"]
    if sizes or areas:
        fig = Figure(figsize=(4, 3))
        ax = fig.subplots()
        vals = [f.evidence.get("robust_z") for f in r.findings if f.rule == "B006"]
        ax.hist([v for v in vals if v is not None], bins=20, color="#E69F00", edgecolor="#333")
        ax.set_xlabel("robust z of box area (B006)")
        fig.tight_layout()
        out.append({"uri": figure_to_data_uri(fig), "alt": "size outliers: robust z of log box area"})
    return out


def _crops(r, max_crops: int) -> list[dict[str, str]]:
    from spermlab.io.frames import read_grey
    from spermlab.report.gallery import _crop
    from spermlab.report.overlay import image_data_uri

    boxes = [f for f in r.findings if "xy" in f.evidence and f.file and f.frame is not None]
    boxes.sort(key=lambda f: -SEVERITIES[f.severity])
    out = []
    for f in boxes[:max_crops]:
        label = Path(f.file)
        image = label.parent.parent / "images" / f"{label.stem.replace('_with_ftid', '')}.jpg"
        if not image.is_file():
            continue
        try:
            crop = _crop(read_grey(image), *f.evidence["xy"], 24)
        except Exception:  # an unreadable image is its own finding (I002)
            continue
        out.append({"uri": image_data_uri(crop), "rule": f.rule,
                    "text": f"{label.name}:{f.line} {f.message}"})  # fmt: skip
    return out
