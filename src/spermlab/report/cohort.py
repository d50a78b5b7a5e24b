"""The cohort page of a batch: one row per sample and the distributions across samples.

``spermlab report DIR`` on a batch folder (``spermlab batch --out DIR``) writes
``DIR/report.html``: every sample with its state, WHO shares (per track and snapshot),
concentration and quality verdict, the shares after a person's review where there is one
(``spermlab serve``; the machine's shares stay beside them), a link to the sample's own report when it was written
(``batch --report``), the failures with their errors, and histograms of progressive
motility and concentration across the samples that are done, with the WHO 2021 lower
reference limits. Self-contained like the sample report (figures as data URIs).
"""

from __future__ import annotations

import time
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from spermlab.analysis.motility import WHO_2021_LOWER_LIMITS

__all__ = ["is_batch_folder", "write_cohort_report"]

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }} · spermlab cohort</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f4f4f1; color: #1b1b1b; }
main { max-width: 1260px; margin: 0 auto; padding: 14px 18px; }
table { border-collapse: collapse; width: 100%; background: #fff; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 6px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child, td.left { text-align: left; }
.badge { padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; font-weight: 700; }
.reviewed { background: #5b3cc4; } .ok { background: #1e7a3c; } .caution { background: #b87400; } .fail { background: #b3001b; }
.failed td { color: #b3001b; } .below { color: #b3001b; font-weight: 700; }
.figs { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin-top: 14px; }
img { max-width: 100%; }
</style></head><body><main>
<h1>Cohort: {{ title }}</h1>
<p>{{ n_done }} samples analysed, {{ n_failed }} failed, of {{ rows | length }}. Generated {{ generated }}.
WHO 2021 lower reference limits: progressive {{ lim.progressive_pct | int }} %, total motile
{{ lim.total_motile_pct | int }} %, concentration {{ lim.concentration_m_per_ml | int }} × 10⁶/mL.</p>
<table id="samples"><thead><tr><th>sample</th><th>verdict</th><th>graded</th><th>PR %</th><th>NP %</th>
<th>IM %</th><th>total motile %</th><th>snapshot PR / NP / IM %</th><th>concentration ×10⁶/mL</th>
<th>reviewed PR / NP / IM %</th></tr></thead><tbody>
{% for r in rows %}
{% if r.state == "done" %}
<tr id="sample-{{ r.sample_id }}" data-state="done"><td>{% if r.link %}<a href="{{ r.link }}">{{ r.sample_id }}</a>{% else %}{{ r.sample_id }}{% endif %}</td>
<td><span class="badge {{ r.quality }}">{{ verdicts[r.quality] }}</span></td><td>{{ r.n_graded }}</td>
<td class="{{ 'below' if r.progressive is not none and r.progressive < lim.progressive_pct }}">{{ num(r.progressive) }}</td>
<td>{{ num(r.non_progressive) }}</td><td>{{ num(r.immotile) }}</td>
<td class="{{ 'below' if r.total_motile is not none and r.total_motile < lim.total_motile_pct }}">{{ num(r.total_motile) }}</td>
<td>{{ num(r.progressive_snapshot) }} / {{ num(r.non_progressive_snapshot) }} / {{ num(r.immotile_snapshot) }}</td>
<td>{{ num(r.concentration_m_per_ml) }}</td>
<td>{% if r.reviewed_progressive is not none %}<span class="badge reviewed">reviewed</span> {{ num(r.reviewed_progressive) }} / {{ num(r.reviewed_non_progressive) }} / {{ num(r.reviewed_immotile) }}{% else %}—{% endif %}</td></tr>
{% else %}
<tr class="failed" id="sample-{{ r.sample_id }}" data-state="failed"><td>{{ r.sample_id }}</td><td colspan="9" class="left">failed: {{ r.error }}</td></tr>
{% endif %}
{% endfor %}
</tbody></table>
{% if figures %}<div class="figs">{% for f in figures %}<figure><img src="{{ f.uri }}" alt="{{ f.alt }}"><figcaption>{{ f.alt }}</figcaption></figure>{% endfor %}</div>{% endif %}
</main></body></html>
"""


def is_batch_folder(folder: str | PathLike[str]) -> bool:
    """True for a folder written by ``spermlab batch`` (it has ``ledger.json``)."""
    return (Path(folder) / "ledger.json").is_file()


def write_cohort_report(folder: str | PathLike[str], out: str | PathLike[str] | None = None) -> Path:
    """Write the cohort page of a batch folder (atomically); return its path."""
    import jinja2

    from spermlab.batch.store import query
    from spermlab.io.atomic import write_text
    from spermlab.report.quality import VERDICTS

    folder = Path(folder)
    table = query(folder, "SELECT * FROM samples ORDER BY sample_id")
    table = table.merge(_reviewed(folder), on="sample_id", how="left")
    rows = []
    for r in table.to_dict("records"):
        r = {k: (None if (isinstance(v, float) and np.isnan(v)) or v is pd.NA else v) for k, v in r.items()}
        link = folder / "samples" / r["sample_id"] / "report.html"
        r["link"] = f"samples/{r['sample_id']}/report.html" if link.is_file() else None
        r["quality"] = r.get("quality") or "fail"
        rows.append(r)
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.from_string(_TEMPLATE).render(
        title=folder.resolve().name, rows=rows, verdicts=VERDICTS, lim=WHO_2021_LOWER_LIMITS,
        n_done=sum(r["state"] == "done" for r in rows), n_failed=sum(r["state"] != "done" for r in rows),
        figures=_figures(table), generated=time.strftime("%Y-%m-%d %H:%M:%S %z"),
        num=lambda v: "—" if v is None else f"{v:.1f}",
    )  # fmt: skip
    return write_text(Path(out) if out is not None else folder / "report.html", html)


def _reviewed(folder: Path) -> pd.DataFrame:
    """A person's reviewed shares per sample (the store's ``reviewed`` table; none in a store
    written before reviews existed)."""
    from spermlab.batch.store import query

    cols = ["sample_id", "reviewed_progressive", "reviewed_non_progressive", "reviewed_immotile"]
    has = query(folder, "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'reviewed'")
    if not int(has["n"].iloc[0]):
        return pd.DataFrame(columns=cols)
    return query(folder, "SELECT sample_id, rapid + slow AS reviewed_progressive, non_progressive AS "
                         "reviewed_non_progressive, immotile AS reviewed_immotile FROM reviewed")


def _figures(table: pd.DataFrame) -> list[dict[str, str]]:
    from spermlab.report.plots import figure_to_data_uri

    done = table[table["state"] == "done"]
    out = []
    for col, label, limit in (("progressive", "Progressive motility (%)", WHO_2021_LOWER_LIMITS["progressive_pct"]),
                              ("concentration_m_per_ml", "Concentration (×10⁶/mL)",
                               WHO_2021_LOWER_LIMITS["concentration_m_per_ml"])):  # fmt: skip
        v = done[col].dropna().to_numpy(dtype=float)
        if not v.size:
            continue
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5, 3))
        ax = fig.subplots()
        ax.hist(v, bins=min(20, max(5, v.size)), color="#56B4E9", edgecolor="#333")
        ax.axvline(limit, color="#b3001b", linestyle="--", label=f"WHO 2021 lower limit {limit:g}")
        ax.set_xlabel(label)
        ax.set_ylabel("samples")
        ax.legend(fontsize=8)
        fig.tight_layout()
        out.append({"uri": figure_to_data_uri(fig), "alt": f"{label} across {v.size} samples"})
    return out
