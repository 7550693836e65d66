"""The report's figures as PNG bytes (matplotlib on an Agg canvas, no pyplot state).

PNG metadata is left empty (no software string, no date), so the same data
give the same bytes and the report stays byte-for-byte reproducible.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd

from labmrt.analysis.plot import agg_figure

BLUE, GREY, RED, GREEN = "#1565c0", "#90a4ae", "#c62828", "#2e7d32"


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def randomization_figure(checks) -> bytes:
    """Observed share of each arm per context row, beside the designed probability."""
    k = max(1, len(checks))
    fig = agg_figure((3.3 * k + 0.6, 3.2))
    axes = fig.subplots(1, k, squeeze=False)[0]
    for ax, c in zip(axes, checks, strict=False):
        arms = list(c.observed)
        x = np.arange(len(arms))
        n = max(c.n, 1)
        ax.bar(x - 0.2, [c.observed[a] / n for a in arms], 0.4, color=BLUE, label="observed")
        ax.bar(x + 0.2, [c.designed[a] for a in arms], 0.4, color=GREY, label="designed")
        ax.set_xticks(x, arms)
        ax.set_ylim(0, 1)
        p = "–" if math.isnan(c.p_value) else f"{c.p_value:.3f}"
        ax.set_title(f"{c.context}: n = {c.n}, chi-square p = {p}", fontsize=9)
        ax.set_ylabel("share of randomized points")
    axes[0].legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return png_bytes(fig)


def availability_figure(by_participant: pd.DataFrame, over_session: pd.DataFrame) -> bytes:
    fig = agg_figure((10.0, 3.2))
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
    x = np.arange(len(by_participant))
    ax1.bar(x, by_participant["share available"], color=BLUE)
    ax1.set_xticks(x, by_participant["participant"], rotation=90, fontsize=7)
    ax1.set_ylim(0, 1.05)
    ax1.set_ylabel("share available")
    ax1.set_title("availability by participant", fontsize=9)
    ax2.plot(
        over_session["decision_point"] + 1, over_session["share"], color=BLUE, marker="o", ms=3
    )
    ax2.set_ylim(0, 1.05)
    ax2.set_xlabel("decision point (task)")
    ax2.set_title("availability over the session (all participants)", fontsize=9)
    fig.tight_layout()
    return png_bytes(fig)


def unknown_figure(quality: pd.DataFrame) -> bytes:
    fig = agg_figure((6.5, 2.8))
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(quality))
    ax.bar(x, quality["share unknown"].fillna(0), color=GREY)
    ax.set_xticks(x, quality["participant"], rotation=90, fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share 'unknown'")
    ax.set_title("affective state unknown, by participant", fontsize=9)
    fig.tight_layout()
    return png_bytes(fig)


def hypotheses_figure(results) -> bytes:
    """Each hypothesis's estimate with its two-sided (1 - alpha) interval, one panel per scale."""
    ok = [r for r in results if math.isfinite(r.estimate) and math.isfinite(r.std_error)]
    scales = list(dict.fromkeys(r.scale for r in ok)) or ["additive"]
    fig = agg_figure((6.8 * len(scales), 0.5 * max(len(ok), 2) + 1.3))
    axes = fig.subplots(1, len(scales), squeeze=False)[0]
    from scipy import stats

    for ax, scale in zip(axes, scales, strict=True):
        rows = [r for r in ok if r.scale == scale]
        y = np.arange(len(rows))[::-1]
        for yi, r in zip(y, rows, strict=True):
            # Directional: the (1 - 2 alpha) interval, whose near end is the one-sided bound.
            level = r.alpha if r.hypothesis.direction != "!=0" else r.alpha / 2
            crit = stats.t.isf(level, r.df)
            color = GREEN if r.supported else (GREY if r.supported is None else RED)
            ax.errorbar(r.estimate, yi, xerr=crit * r.std_error, fmt="o", color=color, capsize=4)
        ax.set_yticks(y, [f"{r.id} ({r.hypothesis.role})" for r in rows], fontsize=8)
        ax.axvline(0, color="#616161", lw=0.8, ls="--")
        ax.set_xlabel(
            "log relative risk" if scale == "log relative risk" else "effect on the outcome"
        )
        ax.set_ylim(-0.7, len(rows) - 0.3)
    fig.suptitle(
        "estimates; intervals (1 - alpha) two-sided, (1 - 2 alpha) for directional hypotheses "
        "(the near end is the one-sided bound); green: supported, red: not",
        fontsize=8,
    )
    fig.tight_layout()
    return png_bytes(fig)


def effect_figure(result) -> bytes:
    """The analyzer's effect-by-moderator plot of one hypothesis's fit."""
    return png_bytes(result.plot_effect())


def null_figure(redraws) -> bytes:
    """Each checked hypothesis's re-drawn estimates with the observed one marked."""
    shown = [r for r in redraws if r.null_estimates.size]
    k = max(1, len(shown))
    fig = agg_figure((3.6 * k + 0.4, 3.0))
    axes = fig.subplots(1, k, squeeze=False)[0]
    for ax, r in zip(axes, shown, strict=False):
        ax.hist(r.null_estimates, bins=40, color=GREY, edgecolor="none")
        ax.axvline(r.estimate, color=RED, lw=2)
        ax.set_title(f"{r.hypothesis}: randomization p = {r.randomization_p:.4f}", fontsize=9)
        ax.set_xlabel("estimate with re-drawn arms")
    fig.tight_layout()
    return png_bytes(fig)
