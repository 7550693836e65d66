"""WCLS (Boruvka et al. 2018) for continuous proximal outcomes, as MRTAnalysis ``wcls()``.

The estimate is the weighted least squares fit of ``y`` on the design
``[g_t, (A_t - p~_t) S_t]`` with weights ``I_t W_t``; the variance is the
participant-cluster sandwich, with the Mancl-DeRouen correction applied as
MRTAnalysis does (``small_sample="auto"``: when at most 50 participants carry
weight), or ``"always"`` / ``"never"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labmrt.analysis.design import Design
from labmrt.analysis.sandwich import (
    group_cross,
    residual_scores,
    sandwich,
    sandwich_corrected,
    weighted_normal_equations,
)
from labmrt.errors import LabmrtError, Problem

# MRTAnalysis wcls(): the small-sample correction (and its "Hotelling" test) up to this many.
SMALL_SAMPLE_MAX_N = 50
SMALL_SAMPLE_MODES = ("auto", "always", "never")


@dataclass
class CoreFit:
    """What the solve returns: coefficients (design order) and both covariances."""

    theta: np.ndarray
    cov: np.ndarray
    cov_uncorrected: np.ndarray
    cov_corrected: np.ndarray | None
    small_sample_applied: bool
    df: int
    n_effective: int
    corrected_fn: object = None
    iterations: int | None = None


def small_sample_applies(mode: str, n_effective: int) -> bool:
    if mode not in SMALL_SAMPLE_MODES:
        raise LabmrtError(
            Problem("small_sample", f"unknown mode {mode!r}", "use auto, always or never")
        )
    return mode == "always" or (mode == "auto" and n_effective <= SMALL_SAMPLE_MAX_N)


def collinear_terms(gram: np.ndarray, names: list[str], tol: float = 1e-10) -> list[list[str]]:
    """Groups of terms that are linearly dependent in the weighted design (empty if none)."""
    d = np.sqrt(np.clip(np.diag(gram), 0, None))
    zero = d <= tol * max(1.0, float(d.max(initial=0.0)))
    groups = [[names[j]] for j in np.flatnonzero(zero)]
    keep = np.flatnonzero(~zero)
    if keep.size:
        scaled = gram[np.ix_(keep, keep)] / np.outer(d[keep], d[keep])
        vals, vecs = np.linalg.eigh(scaled)
        for j in np.flatnonzero(vals <= tol * max(1.0, float(vals.max()))):
            v = vecs[:, j]
            members = [names[keep[i]] for i in np.flatnonzero(np.abs(v) > 1e-6)]
            groups.append(members)
    return groups


def check_estimable(design: Design, gram: np.ndarray, n_effective: int) -> None:
    """Clear errors for too few participants and for a singular design."""
    k = design.k
    if n_effective - k < 1:
        raise LabmrtError(
            Problem(
                "analysis",
                f"{n_effective} participant(s) with available decision points for {k} "
                f"coefficients ({design.q} control + {design.p} effect): no degrees of freedom "
                f"left (n - p - q = {n_effective - k})",
                "use fewer moderators/controls, or analyze more participants",
            )
        )
    groups = collinear_terms(gram, _qualified_names(design))
    if groups:
        text = "; ".join(" ~ ".join(g) for g in groups)
        raise LabmrtError(
            Problem(
                "design",
                f"is singular: collinear terms among the used rows: {text}",
                "drop one term of each group (a moderator constant among the used rows, "
                "or a column that repeats another)",
            )
        )


def _qualified_names(design: Design) -> list[str]:
    return [f"control {n}" for n in design.control_names] + [
        f"effect {n}" for n in design.effect_names
    ]


def fit_design(design: Design, small_sample: str = "auto") -> CoreFit:
    """Solve the WCLS equations on a built design and compute the sandwich variances."""
    x, w, y, starts = design.x, design.w, design.y, design.starts
    if np.any(w < 0):  # not a WCLS weight (designs built by hand): the general products
        gram, rhs = (x * w[:, None]).T @ x, x.T @ (w * y)
    else:
        gram, rhs = weighted_normal_equations(x, w, y)  # X'WX = -M, X'Wy
    n_eff = design.n_effective
    check_estimable(design, gram, n_eff)
    theta = np.linalg.solve(gram, rhs)
    scores = residual_scores(x, w, y, theta, starts)  # U_i = X_i' W_i r_i
    cov_plain = sandwich(gram, scores)
    applied = small_sample_applies(small_sample, n_eff)

    def corrected() -> np.ndarray:
        cross = group_cross(x * w[:, None], x, starts)  # G_i = X_i' W_i X_i
        return sandwich_corrected(gram, scores, cross, design.participants)

    cov_corr = corrected() if applied else None
    return CoreFit(
        theta=theta,
        cov=cov_corr if applied else cov_plain,
        cov_uncorrected=cov_plain,
        cov_corrected=cov_corr,
        small_sample_applied=applied,
        df=n_eff - design.k,
        n_effective=n_eff,
        corrected_fn=corrected,
    )
