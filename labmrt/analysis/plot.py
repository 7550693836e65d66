"""Plot of the causal excursion effect by moderator, with confidence intervals.

Uses matplotlib's object API on an Agg canvas: no pyplot state, no GUI
toolkit, safe in tests, the CLI and worker threads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labmrt.errors import LabmrtError, Problem


def _moderators(res) -> list[str]:
    """Moderator columns in term order: categorical ones once, numeric ones by name."""
    out: list[str] = []
    for term in res.effect_names[1:]:
        col = res.term_sources.get(term, (term, None))[0]
        if col not in out:
            out.append(col)
    return out


def agg_figure(figsize: tuple[float, float], dpi: int = 100):
    """A figure on its own Agg canvas: no pyplot state, so it is safe in worker
    threads and beside the Qt app (pyplot's global backend would be neither)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path: str | Path) -> Path:
    """Write ``fig`` (format from the suffix); an unwritable path is a user error."""
    out = Path(path)
    try:
        fig.savefig(out)
    except OSError as err:
        raise LabmrtError(
            Problem(str(out), f"cannot write the plot: {err.strerror or err}", "check the folder")
        ) from None
    return out


def plot_effect(res, path: str | Path | None = None, moderator: str | None = None):
    mods = _moderators(res)
    if moderator is None:
        moderator = mods[0] if mods else None
    elif moderator not in mods:
        raise LabmrtError(
            Problem(
                f"moderator {moderator!r}",
                "is not in the effect model",
                f"moderators: {', '.join(mods) or 'none (marginal effect)'}",
            )
        )
    fig = agg_figure((6.0, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    scale = "log relative risk" if res.scale == "log relative risk" else "effect on the outcome"
    others = [m for m in mods if m != moderator]
    if moderator is None:
        tab = res.table.iloc[:1]
        ax.errorbar(
            [0],
            tab.estimate,
            yerr=[tab.estimate - tab.ci_lower, tab.ci_upper - tab.estimate],
            fmt="o",
            color="#1565c0",
            capsize=6,
        )
        ax.set_xticks([0], ["marginal effect"])
        ax.set_xlim(-1, 1)
    elif moderator in res.factor_levels or moderator in res.moderator_values:
        levels = res.factor_levels.get(moderator) or res.moderator_values[moderator]
        rows = [res.effect_at({moderator: lv}) for lv in levels]
        est = np.array([float(r.estimate.iloc[0]) for r in rows])
        lo = np.array([float(r.ci_lower.iloc[0]) for r in rows])
        hi = np.array([float(r.ci_upper.iloc[0]) for r in rows])
        xs = np.arange(len(levels))
        ax.errorbar(xs, est, yerr=[est - lo, hi - est], fmt="o", color="#1565c0", capsize=6)
        ax.set_xticks(xs, [f"{lv:g}" if isinstance(lv, float) else str(lv) for lv in levels])
        ax.set_xlabel(moderator)
        ax.set_xlim(-0.6, len(levels) - 0.4)
    else:
        lo_x, hi_x = res.moderator_ranges.get(moderator, (0.0, 1.0))
        grid = np.linspace(lo_x, hi_x, 50)
        est, lo, hi = [], [], []
        for v in grid:
            r = res.effect_at({moderator: v})
            est.append(float(r.estimate.iloc[0]))
            lo.append(float(r.ci_lower.iloc[0]))
            hi.append(float(r.ci_upper.iloc[0]))
        ax.plot(grid, est, color="#1565c0")
        ax.fill_between(grid, lo, hi, color="#1565c0", alpha=0.2, lw=0)
        ax.set_xlabel(moderator)
    ax.axhline(0, color="#616161", lw=0.8, ls="--")
    ax.set_ylabel(scale)
    title = f"{res.treatment}: {res.outcome}"
    if res.analysis == "per-protocol":
        title += " (per-protocol, not randomization-protected)"
    ax.set_title(title, fontsize=9)
    foot = f"{round(100 * res.conf_level)}% CI, df = {res.df}"
    if others:
        foot += "; other moderators at 0 / reference: " + ", ".join(others)
    fig.text(0.01, 0.01, foot, fontsize=7, color="#424242")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    if path is not None:
        save_figure(fig, path)
    return fig
