"""Textbook dcee / mcee: the formulas written out row by row, with statsmodels for stage 1.

Kept as the independent check of :mod:`labmrt.analysis.distal` and
:mod:`labmrt.analysis.mediation` (tests, on data unlike the reference's) and
as the baseline of ``bench/bench_distal.py``: every sum is a Python loop over
rows, every participant's score a loop over its rows, in the order the
estimators are written down (Qian 2025; MRTAnalysis's own implementation is
of this shape). Inputs are plain arrays in table order; the participants'
rows must be together.
"""

from __future__ import annotations

import numpy as np


def _ols_predict(x: np.ndarray, rows: np.ndarray, y: np.ndarray) -> np.ndarray:
    import statsmodels.api as sm

    return sm.OLS(y[rows], x[rows]).fit().predict(x)


def _glm_predict(x: np.ndarray, rows: np.ndarray, y: np.ndarray) -> np.ndarray:
    import statsmodels.api as sm

    ys = y[rows]
    if np.isin(ys, (0.0, 1.0)).all():
        family = sm.families.Binomial()
        return sm.GLM(ys, x[rows], family=family).fit(tol=1e-13, maxiter=100).predict(x)
    return _ols_predict(x, rows, y)


def _blocks(ids: np.ndarray) -> list[range]:
    out, start = [], 0
    for r in range(1, len(ids) + 1):
        if r == len(ids) or ids[r] != ids[r - 1]:
            out.append(range(start, r))
            start = r
    return out


def dcee_loop(ids, y, a, prob, avail, s, controls, omega=None):
    """``(beta, cov)`` of dcee with an lm stage 1 on ``controls`` (intercept included)."""
    n_rows, p = s.shape
    omega = np.ones(n_rows) if omega is None else omega
    mu0 = _ols_predict(controls, a == 0, y)
    mu1 = _ols_predict(controls, a == 1, y)
    gram, rhs, r = np.zeros((p, p)), np.zeros(p), np.zeros(n_rows)
    for t in range(n_rows):
        if avail[t] == 1:
            pa = prob[t] if a[t] == 1 else 1 - prob[t]
            sign = 1.0 if a[t] == 1 else -1.0
            r[t] = omega[t] * sign / pa * (y[t] - (1 - prob[t]) * mu1[t] - prob[t] * mu0[t])
        gram += omega[t] * np.outer(s[t], s[t])
        rhs += r[t] * s[t]
    beta = np.linalg.solve(gram, rhs)
    meat = np.zeros((p, p))
    for block in _blocks(ids):
        u = np.zeros(p)
        for t in block:
            u += r[t] * s[t] - omega[t] * s[t] * (s[t] @ beta)
        meat += np.outer(u, u)
    inv = np.linalg.inv(gram)
    return beta, inv @ meat @ inv.T


def mcee_loop(ids, y, a, prob, avail, f, x_with, x_without, omega=None):
    """``(theta, cov)`` of mcee (alpha then beta) with glm nuisance fits."""
    n_rows, p = f.shape
    omega = np.ones(n_rows) if omega is None else omega
    on = avail == 1
    d1 = (a == 1) | ~on
    d0 = a == 0
    q1 = _glm_predict(x_with, on, a)
    eta1, eta0 = _glm_predict(x_without, d1, y), _glm_predict(x_without, d0, y)
    # mu_0 and nu_0 are not in the estimator of (alpha, beta) (the reference package fits them).
    mu1 = _glm_predict(x_with, d1, y)
    nu1 = _glm_predict(x_without, d0, mu1)
    gram = np.zeros((p, p))
    rhs_a, rhs_b = np.zeros(p), np.zeros(p)
    da, db = np.zeros(n_rows), np.zeros(n_rows)
    for t in range(n_rows):
        if on[t]:
            p1, p0, qq1, qq0 = prob[t], 1 - prob[t], q1[t], 1 - q1[t]
        else:
            p1 = p0 = qq1 = qq0 = 1.0
        e1, e0 = float(d1[t]), float(d0[t])
        phi11 = e1 / p1 * y[t] - (e1 - p1) / p1 * eta1[t]
        phi00 = e0 / p0 * y[t] - (e0 - p0) / p0 * eta0[t]
        phi10 = e1 * qq0 * (y[t] - mu1[t]) / (p0 * qq1) + e0 * (mu1[t] - nu1[t]) / p0 + nu1[t]
        da[t], db[t] = phi10 - phi00, phi11 - phi10
        gram += omega[t] * np.outer(f[t], f[t])
        rhs_a += omega[t] * da[t] * f[t]
        rhs_b += omega[t] * db[t] * f[t]
    alpha, beta = np.linalg.solve(gram, rhs_a), np.linalg.solve(gram, rhs_b)
    meat = np.zeros((2 * p, 2 * p))
    for block in _blocks(ids):
        u = np.zeros(2 * p)
        for t in block:
            u[:p] += omega[t] * (da[t] - f[t] @ alpha) * f[t]
            u[p:] += omega[t] * (db[t] - f[t] @ beta) * f[t]
        meat += np.outer(u, u)
    inv = np.zeros((2 * p, 2 * p))
    inv[:p, :p] = inv[p:, p:] = np.linalg.inv(gram)
    return np.r_[alpha, beta], inv @ meat @ inv.T
