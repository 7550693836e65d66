"""EMEE for binary proximal outcomes (log relative risk), as MRTAnalysis ``emee()``.

Estimating equation (Qian et al. 2021), per row with ``w = I_t W_t``,
``Z`` the control row, ``X`` the moderator row, ``c = A - p~``:

    sum w exp(-A X'b) (Y - exp(Z'a + A X'b)) [Z; c X] = 0

solved by Newton's method with the exact derivative (MRTAnalysis uses
``rootSolve::multiroot`` from zero and stops near, not at, the root, hence
the 1e-6 agreement). The variance is the sandwich
``M^{-1} (sum U_i U_i') M^{-T}`` with ``M`` the (non-symmetric) derivative of
the estimating function, and the Mancl-DeRouen correction, which MRTAnalysis
``emee()`` always applies, via the same Woodbury form as WCLS
(:mod:`labmrt.analysis.sandwich`). Degrees of freedom: every participant in
the data minus p + q (MRTAnalysis ``emee()``).
"""

from __future__ import annotations

import numpy as np

from labmrt.analysis.design import Design
from labmrt.analysis.sandwich import group_cross, grouped_sum, sandwich, sandwich_corrected
from labmrt.analysis.wcls import CoreFit, check_estimable, small_sample_applies
from labmrt.errors import LabmrtError, Problem

_MAX_ITER = 100
_TOL = 1e-12


def _pieces(design: Design, theta: np.ndarray):
    q = design.q
    z, xm, a, w = design.g, design.s, design.a, design.w
    alpha, beta = theta[:q], theta[q:]
    xb = xm @ beta
    za = z @ alpha
    e = np.exp(-a * xb)
    mu = np.exp(za + a * xb)
    res = design.y - mu
    u = np.hstack([z, (a - design.num_prob)[:, None] * xm])  # [Z; c X]
    v = np.hstack([z, a[:, None] * xm])  # d(Z'a + A X'b)/d theta
    return u, v, e, mu, res, w


def _equations(design: Design, theta: np.ndarray):
    """Estimating function total, per-row score factors and the derivative M."""
    u, v, e, mu, res, w = _pieces(design, theta)
    q = design.q
    f = w * e * res
    total = u.T @ f
    # d/dtheta of w e res u: -w e A res u [0; X]' (through e) - w e mu u v' (through res)
    zero_x = np.hstack([np.zeros_like(design.g), design.s])
    m = -(u * (w * e * design.a * res)[:, None]).T @ zero_x - (u * (w * e * mu)[:, None]).T @ v
    del q
    return total, u, v, e, mu, f, m


def newton_root(equations, theta: np.ndarray, scale: float, tol: float = _TOL):
    """Newton's method with step halving on ``equations(theta) -> (total, derivative)``.

    Returns the root, the number of steps, and the last residual norm
    (``max |total| / scale``); the caller decides what a failure means.
    """
    total, m = equations(theta)
    norm = np.max(np.abs(total)) / scale
    for it in range(1, _MAX_ITER + 1):
        try:
            step = np.linalg.solve(m, total)
        except np.linalg.LinAlgError:
            break
        lam = 1.0
        while True:
            cand = theta - lam * step
            with np.errstate(over="ignore", invalid="ignore"):
                t_new, m_new = equations(cand)
            n_new = np.max(np.abs(t_new)) / scale
            if np.isfinite(n_new) and (n_new < norm or lam < 1e-8):
                break
            lam /= 2
        theta, total, m, norm = cand, t_new, m_new, n_new
        if norm < tol or np.max(np.abs(lam * step)) < 1e-14 * (1 + np.max(np.abs(theta))):
            return theta, it, norm
    return theta, _MAX_ITER, norm


def no_root_problem(where: str, norm: float) -> Problem:
    return Problem(
        where,
        "the estimating equation has no numerical solution "
        f"(residual {norm:.3g} after {_MAX_ITER} Newton steps)",
        "check the outcome (0/1, not all equal) and use fewer moderators/controls",
    )


def solve_emee(design: Design, start: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Newton's method from ``start`` (zeros, as MRTAnalysis) with step halving."""
    theta = np.zeros(design.k) if start is None else np.asarray(start, dtype=float).copy()

    def equations(th):
        total, *_, m = _equations(design, th)
        return total, m

    theta, it, norm = newton_root(equations, theta, max(design.n_participants, 1))
    if it == _MAX_ITER and (not np.isfinite(norm) or norm > 1e-8):
        raise LabmrtError(no_root_problem("EMEE", norm))
    return theta, it


def fit_emee_design(
    design: Design, small_sample: str = "always", start: np.ndarray | None = None
) -> CoreFit:
    """Solve the EMEE equations and compute the plain and corrected sandwich variances."""
    xw = design.x * design.w[:, None]
    gram = xw.T @ design.x
    n_all = design.n_participants
    check_estimable(design, gram, n_all)
    theta, iterations = solve_emee(design, start)
    _, u, v, e, mu, f, m = _equations(design, theta)
    scores = grouped_sum(u * f[:, None], design.starts)
    cov_plain = sandwich(m, scores)
    applied = small_sample_applies(small_sample, n_all)

    def corrected() -> np.ndarray:
        # G_i = sum_t D_t P_t' with D_t = w e u, P_t = -mu v.
        cross = group_cross(u * (-(design.w * e * mu))[:, None], v, design.starts)
        return sandwich_corrected(m, scores, cross, design.participants)

    cov_corr = corrected() if applied else None
    return CoreFit(
        theta=theta,
        cov=cov_corr if applied else cov_plain,
        cov_uncorrected=cov_plain,
        cov_corrected=cov_corr,
        small_sample_applied=applied,
        df=n_all - design.k,
        n_effective=design.n_effective,
        corrected_fn=corrected,
        iterations=iterations,
    )
