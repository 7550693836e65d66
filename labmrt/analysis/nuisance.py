"""Stage-1 nuisance regressions of the distal analyses (dcee, mcee), as R's ``lm``/``glm`` fit them.

The two-stage estimators only need the predictions of regressions fitted on
subsets of the rows (treated, untreated, available), so the learners here
take a full design matrix, a row mask and a response, and predict on every
row. Two conventions decide identical numbers with the reference package:

- a column that is linearly dependent on earlier columns among the fitting
  rows is dropped (R's ``lm``/``glm`` report it as ``NA`` and predict without
  it), judged as R's pivoting QR does: by the part of the column that the
  earlier ones do not explain, relative to its own norm (tolerance 1e-7);
- a response that is 0/1 on the fitting rows gets a logistic model, any
  other a least-squares one (MRTAnalysis picks the family this way).

The logistic model is statsmodels' GLM (IRLS), run to a tighter tolerance
than R's default so that the estimate is the converged maximum-likelihood one.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from labmrt.analysis.design import RowLabels, describe_rows, fill_terms, plan_terms
from labmrt.errors import LabmrtError, Problem

# R's lm()/glm() QR tolerance for declaring a column aliased.
ALIAS_TOL = 1e-7
# IRLS stopping tolerance on the deviance (R's glm default is 1e-8).
GLM_TOL = 1e-13


@dataclass
class TermMatrix:
    """An intercept plus named columns (categorical ones dummy-coded as R does), every row."""

    x: np.ndarray
    names: list[str]


@dataclass
class NuisanceFit:
    """One fitted regression: its predictions on every row and what a reader checks."""

    pred: np.ndarray
    family: str
    n_obs: int
    coefficients: dict[str, float | None]
    iterations: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = {
            "family": self.family,
            "n_obs": self.n_obs,
            "coefficients": self.coefficients,
        }
        if self.iterations is not None:
            out["iterations"] = self.iterations
        return out


def term_matrix(
    frame: pd.DataFrame, names: Sequence[str], role: str, where: RowLabels
) -> TermMatrix:
    """The design of a right-hand side given as column names, checked for missing values."""
    for name in names:
        if name not in frame.columns:
            raise LabmrtError(
                Problem(
                    f"{role} {name!r}",
                    "is not a column of the data (terms are column names: transformations, "
                    "interactions and smooths such as s(x) are not supported)",
                    "add the transformed column to the table, or name an existing column; "
                    f"columns: {', '.join(map(str, frame.columns))}",
                )
            )
    every = np.ones(len(frame), dtype=bool)
    plans, terms, _, _ = plan_terms(frame, list(names), every, role)
    x = np.empty((len(frame), len(terms)), order="F")
    missing = fill_terms(x, plans, every, None)
    if missing:
        rows = np.isnan(x[:, missing]).any(axis=1)
        cols = ", ".join(repr(terms[j]) for j in missing)
        raise LabmrtError(
            Problem(
                f"{role} {cols}",
                "missing (or not finite) at " + describe_rows(rows, where),
                "fill in the values: the stage-1 regressions use every row",
            )
        )
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise LabmrtError(
            Problem(f"{role} columns", "not finite at " + describe_rows(bad, where), "")
        )
    return TermMatrix(x, terms)


def kept_columns(x: np.ndarray) -> np.ndarray:
    """Columns not aliased with the earlier kept ones (in order), as R's pivoting QR decides.

    A column is kept when the part of it orthogonal to the kept columns has
    more than ``ALIAS_TOL`` of its norm; an aliased column is set aside, as
    R's ``dqrdc2`` moves it to the end, so it does not disturb later ones.
    """
    k = x.shape[1]
    norms = np.linalg.norm(x, axis=0)
    if x.shape[0] >= k and np.all(norms > 0):
        # Without an aliased column, |R_jj| of the plain QR is the part of column j that
        # the earlier ones do not explain: one LAPACK call decides the usual case.
        diag = np.abs(np.diag(np.linalg.qr(x, mode="r")))
        if np.all(diag > 10 * ALIAS_TOL * norms):
            return np.ones(k, dtype=bool)
    keep = np.zeros(k, dtype=bool)
    basis = np.empty((x.shape[0], 0))
    for j in range(k):
        col = x[:, j]
        norm = float(np.linalg.norm(col))
        if norm == 0:
            continue
        resid = col - basis @ (basis.T @ col)
        resid = resid - basis @ (basis.T @ resid)  # twice: orthogonal to working precision
        rest = float(np.linalg.norm(resid))
        if rest > ALIAS_TOL * norm:
            keep[j] = True
            basis = np.column_stack([basis, resid / rest])
    return keep


def _coefficients(names: Sequence[str], keep: np.ndarray, coef: np.ndarray) -> dict:
    out: dict[str, float | None] = {}
    it = iter(coef)
    for name, k in zip(names, keep, strict=True):
        out[name] = float(next(it)) if k else None
    return out


def fit_predict(
    x: TermMatrix, rows: np.ndarray, y: np.ndarray, label: str, family: str | None = None
) -> NuisanceFit:
    """Fit ``y`` on ``x`` over ``rows`` and predict on every row.

    ``family`` None: logistic when the response is 0/1 on the fitting rows,
    least squares otherwise (MRTAnalysis's rule for its glm learner).
    """
    xs, ys = x.x[rows], y[rows]
    n_obs = int(ys.size)
    if n_obs == 0:
        raise LabmrtError(
            Problem(
                f"stage 1 ({label})",
                "has no rows to fit on",
                "check the treatment and availability columns",
            )
        )
    if family is None:
        family = "binomial" if np.isin(ys, (0.0, 1.0)).all() else "gaussian"
    keep = kept_columns(xs)
    notes = []
    if not keep.all():
        dropped = [n for n, k in zip(x.names, keep, strict=True) if not k]
        notes.append(
            f"stage 1 ({label}): {', '.join(dropped)} aliased with the other terms on its "
            "rows, left out (as R's lm/glm report NA)"
        )
    xk = xs[:, keep]
    if family == "gaussian":
        coef = np.linalg.lstsq(xk, ys, rcond=None)[0]
        pred = x.x[:, keep] @ coef
        return NuisanceFit(pred, family, n_obs, _coefficients(x.names, keep, coef), 1, notes)
    coef, iterations = _logistic(xk, ys, label)
    eta = x.x[:, keep] @ coef
    pred = 1.0 / (1.0 + np.exp(-eta))
    return NuisanceFit(pred, family, n_obs, _coefficients(x.names, keep, coef), iterations, notes)


def _logistic(x: np.ndarray, y: np.ndarray, label: str) -> tuple[np.ndarray, int]:
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    try:
        from statsmodels.tools.sm_exceptions import PerfectSeparationWarning
    except ImportError:  # statsmodels before 0.14 raised an error instead
        from statsmodels.tools.sm_exceptions import (
            PerfectSeparationError as PerfectSeparationWarning,
        )

    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            res = sm.GLM(y, x, family=sm.families.Binomial()).fit(tol=GLM_TOL, maxiter=100)
        except (PerfectSeparationWarning, np.linalg.LinAlgError, ValueError) as err:
            raise LabmrtError(
                Problem(
                    f"stage 1 ({label})",
                    f"the logistic regression cannot be fitted: {err}",
                    "the treatment is perfectly predicted by the controls; use fewer controls",
                )
            ) from None
    return np.asarray(res.params, dtype=float), int(res.fit_history["iteration"])
