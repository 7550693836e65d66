"""Plain-text summary of an :class:`~labmrt.analysis.results.EffectResult`, laid out like statsmodels' ``summary()``.

A header of ``(label, value)`` pairs in two columns, the effect table, the
working-model table, then notes.
"""

from __future__ import annotations

import pandas as pd

WIDTH = 86


def _two_cols(left: list[tuple[str, str]], right: list[tuple[str, str]]) -> list[str]:
    lines = []
    for i in range(max(len(left), len(right))):
        a = f"{left[i][0]:<20}{left[i][1]:>22}" if i < len(left) else " " * 42
        b = f"{right[i][0]:<26}{right[i][1]:>16}" if i < len(right) else ""
        lines.append(f"{a}  {b}".rstrip())
    return lines


def _fmt(v: float) -> str:
    return f"{v:.4g}" if abs(v) >= 1e-4 or v == 0 else f"{v:.3e}"


def _table(tab: pd.DataFrame, conf_level: float) -> list[str]:
    lo = f"[{(1 - conf_level) / 2:.3f}"
    hi = f"{1 - (1 - conf_level) / 2:.3f}]"
    head = f"{'':<28}{'estimate':>10}{'std err':>10}{'t':>9}{'P>|t|':>9}{lo:>10}{hi:>10}"
    out = [head, "-" * WIDTH]
    for term, r in tab.iterrows():
        name = str(term) if len(str(term)) <= 27 else str(term)[:24] + "..."
        p = "<0.001" if r.p_value < 0.001 else f"{r.p_value:.3f}"
        out.append(
            f"{name:<28}{r.estimate:>10.4f}{r.std_error:>10.4f}{r.statistic:>9.3f}"
            f"{p:>9}{r.ci_lower:>10.4f}{r.ci_upper:>10.4f}"
        )
    return out


def render_summary(res) -> str:
    title = {
        "wcls": "Causal excursion effects (WCLS, additive scale)",
        "emee": "Causal excursion effects (EMEE, log relative risk)",
        "emee2": "Causal excursion effects (EMEE2, centred residual, log relative risk)",
    }[res.method]
    corr = "Mancl-DeRouen" if res.small_sample_applied else "none"
    left = [
        ("Outcome:", res.outcome),
        ("Treatment:", res.treatment),
        ("Analysis:", res.analysis),
        ("Numerator prob.:", res.numerator_prob),
        ("Variance:", "cluster sandwich"),
    ]
    right = [
        ("Participants:", str(res.n_participants)),
        ("  with weight:", str(res.n_effective)),
        ("Decision points:", str(res.n_decision_points)),
        ("  used (weight > 0):", str(res.n_used)),
        ("Small-sample corr.:", corr),
        ("Df (t tests):", str(res.df)),
    ]
    lines = [title.center(WIDTH), "=" * WIDTH, *_two_cols(left, right)]
    if res.rand_prob:
        lines.append(f"{'Randomization prob.:':<22}{res.rand_prob}")
    lines += ["=" * WIDTH, "Effect terms (intercept = effect at moderators 0 / reference)"]
    lines += _table(res.table, res.conf_level)
    lines += ["=" * WIDTH, "Working model (controls; not causal, do not interpret)"]
    lines += _table(res.control_table, res.conf_level)
    lines.append("=" * WIDTH)
    notes = list(res.notes)
    if res.analysis == "per-protocol" and not any("NOT protected" in n for n in notes):
        notes.append("per-protocol: not protected by randomization")
    for i, note in enumerate(notes, start=1):
        lines.append(f"[{i}] {note}")
    return "\n".join(lines)
