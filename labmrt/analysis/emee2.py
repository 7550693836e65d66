"""EMEE with the treatment centred in the residual, as MRTAnalysis ``emee2()`` (binary outcome).

The variant of EMEE on which MRTSampleSizeBinary's sample-size formula rests.
With ``c_t = A_t - p_t`` (centred by the randomization probability) it solves

    sum_t I_t r_t [Z_t; c_t X_t] = 0,   r_t = exp(-c_t X_t' beta) Y_t - exp(Z_t' alpha)

(no weights ``p~/p``: a numerator probability is checked, as the reference
package does, but it changes nothing). ``beta`` is a log relative risk, as
in EMEE. The root is found by Newton's method with the exact derivative
from zero (the reference package uses ``rootSolve::multiroot`` with a
finite-difference Jacobian and stops within about 1e-9 of the root).

The variance is the sandwich with the Mancl-DeRouen correction, always
applied, with degrees of freedom participants - p - q. As in the reference
package the correction's hat block ``H_ii = P_i M^-1 D_i'`` and residuals are
*not* masked by availability, so the outcome, treatment, probability and
covariates of unavailable rows enter the corrected standard errors (not the
estimates); they must therefore be present on every row. With the Woodbury
identity the corrected score ``D_i' I_i (I - H_ii)^-1 r_i`` is
``U_i + K_i (M - G_i)^-1 W_i`` with ``U_i = sum I r D``, ``K_i = sum I D P'``,
``G_i = sum D P'`` and ``W_i = sum D r``: a k x k solve per participant.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from labmrt.analysis.design import ColumnOrValue, Design, build_design, describe_rows
from labmrt.analysis.distal import _conf, read_data
from labmrt.analysis.distal_input import (
    check_increasing,
    numeric_column,
    participant_blocks,
    require_given,
)
from labmrt.analysis.emee import newton_root, no_root_problem
from labmrt.analysis.results import EffectResult
from labmrt.analysis.sandwich import group_cross, grouped_sum, sandwich
from labmrt.analysis.wcls import CoreFit
from labmrt.errors import LabmrtError, Problem

_TOL = 1e-13


@dataclasses.dataclass
class Emee2Data:
    """Every row (unavailable ones included), sorted by participant as given."""

    z: np.ndarray
    x: np.ndarray
    y: np.ndarray
    c: np.ndarray
    avail: np.ndarray
    starts: np.ndarray

    @property
    def q(self) -> int:
        return self.z.shape[1]

    @property
    def n(self) -> int:
        return int(self.starts.size)

    def pieces(self, theta: np.ndarray):
        """Design rows ``D``, residuals ``r`` and their derivative rows ``P = dr/dtheta``."""
        alpha, beta = theta[: self.q], theta[self.q :]
        e = np.exp(-self.c * (self.x @ beta))
        m = np.exp(self.z @ alpha)
        d = np.hstack([self.z, self.c[:, None] * self.x])
        r = e * self.y - m
        deriv = np.hstack([-m[:, None] * self.z, -(e * self.y * self.c)[:, None] * self.x])
        return d, r, deriv

    def equations(self, theta: np.ndarray):
        d, r, deriv = self.pieces(theta)
        di = d * self.avail[:, None]
        return di.T @ r, di.T @ deriv


def solve_emee2(data: Emee2Data) -> tuple[np.ndarray, int]:
    """Newton's method from zeros with step halving; the root of the estimating equation."""
    theta = np.zeros(data.q + data.x.shape[1])
    theta, it, norm = newton_root(data.equations, theta, data.n, tol=_TOL)
    if not np.isfinite(norm) or norm > 1e-8:
        raise LabmrtError(no_root_problem("emee2", norm))
    return theta, it


def emee2_covariances(data: Emee2Data, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain sandwich and the (unmasked) Mancl-DeRouen corrected one, as MRTAnalysis."""
    d, r, deriv = data.pieces(theta)
    di = d * data.avail[:, None]
    m = di.T @ deriv
    u = grouped_sum(di * r[:, None], data.starts)
    plain = sandwich(m, u)
    k_cross = group_cross(di, deriv, data.starts)  # sum I D P'
    g_cross = group_cross(d, deriv, data.starts)  # sum D P'
    w = grouped_sum(d * r[:, None], data.starts)  # sum D r
    try:
        solved = np.linalg.solve(m[None, :, :] - g_cross, w[..., None])
    except np.linalg.LinAlgError:
        solved = None
    if solved is None or not np.all(np.isfinite(solved)):
        raise LabmrtError(
            Problem(
                "small-sample correction",
                "a participant alone determines a coefficient (leverage 1), so (I - H_ii) "
                "cannot be inverted",
                "use fewer moderators/controls",
            )
        )
    v = u + np.matmul(k_cross, solved)[..., 0]
    return plain, sandwich(m, v)


def _check_every_row(
    frame: pd.DataFrame, columns: dict[str, str], avail: np.ndarray, design: Design
) -> None:
    """The correction uses unavailable rows: their values must be there."""
    off = avail == 0
    for name, role in columns.items():
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            missing = ~np.isfinite(col.to_numpy(dtype=float, na_value=np.nan))
        else:
            missing = col.isna().to_numpy()
        bad = off & missing[design.row_order]
        if bad.any():
            raise LabmrtError(
                Problem(
                    f"{role} {name!r}",
                    "missing at unavailable decision point(s) "
                    + describe_rows(bad, design.row_labels)
                    + ": emee2's small-sample correction uses every row, as MRTAnalysis "
                    "emee2() does",
                    "fill in the values (dropping those rows changes the standard errors)",
                )
            )


def emee2(
    data: pd.DataFrame | str | Path,
    id: str = "participant",
    outcome: str | None = None,
    treatment: str | None = None,
    rand_prob: ColumnOrValue = None,
    moderators: Sequence[str] = (),
    controls: Sequence[str] = (),
    availability: str | None = None,
    numerator_prob: ColumnOrValue = None,
    *,
    decision_point: str | None = None,
    conf_level: float = 0.95,
) -> EffectResult:
    """Causal excursion effect of a binary outcome (log relative risk), MRTAnalysis ``emee2()``.

    Arguments as :func:`labmrt.analysis.emee` (moderators are added to the
    controls, as there); ``numerator_prob`` is validated and not used. The
    rows of a participant must be together (and in increasing decision
    points, when ``decision_point`` is given).
    """
    from labmrt.analysis.api import Prepared, make_result

    conf_level = _conf(conf_level)
    frame = read_data(data)
    require_given(
        {"outcome": outcome, "treatment": treatment, "randomization probability": rand_prob}
    )
    if id in frame.columns:
        starts = participant_blocks(frame[id].to_numpy(), id)
        if decision_point is not None and decision_point in frame.columns:
            design_check = numeric_column(frame, decision_point, "decision point")
            if not np.isnan(design_check).any():
                from labmrt.analysis.design import RowLabels

                where = RowLabels(np.arange(len(frame)), frame[id].to_numpy(), design_check)
                check_increasing(design_check, starts, where, decision_point)
    common = dict(
        id=id,
        outcome=outcome,
        moderators=moderators,
        controls=controls,
        decision_point=decision_point,
    )
    # Available rows checked as emee checks them (0/1 outcome and treatment, probabilities).
    checked = build_design(
        frame,
        treatment=treatment,
        rand_prob=rand_prob,
        availability=availability,
        numerator_prob=numerator_prob,
        binary_outcome=True,
        **common,
    )
    avail = checked.used.astype(float)
    every = {outcome: "outcome", treatment: "treatment"}
    if isinstance(rand_prob, str):
        every[rand_prob] = "randomization probability"
    every.update({c: "control" for c in [*controls, *moderators]})
    _check_every_row(frame, every, avail, checked)
    # Every row, with the levels of categorical terms from all rows (R's model.matrix).
    full = build_design(frame, treatment=np.zeros(len(frame)), rand_prob=0.5, **common)
    full = dataclasses.replace(full, treatment_label=f"I({treatment} - {rand_prob})")
    order = full.row_order
    a = numeric_column(frame, treatment, "treatment")[order]
    if isinstance(rand_prob, str):
        prob = numeric_column(frame, rand_prob, "randomization probability")[order]
    else:
        prob = np.full(len(frame), float(rand_prob))
    arrays = Emee2Data(
        z=np.ascontiguousarray(full.g),
        x=np.ascontiguousarray(full.s),
        y=full.y,
        c=a - prob,
        avail=avail,
        starts=full.starts,
    )
    k = full.q + full.p
    n_all = full.n_participants
    if n_all - k < 1:
        raise LabmrtError(
            Problem(
                "analysis",
                f"{n_all} participant(s) for {k} coefficients ({full.q} control + {full.p} "
                f"effect): no degrees of freedom left (n - p - q = {n_all - k})",
                "use fewer moderators/controls, or analyze more participants",
            )
        )
    theta, iterations = solve_emee2(arrays)
    plain, corrected = emee2_covariances(arrays, theta)
    fit = CoreFit(
        theta=theta,
        cov=corrected,
        cov_uncorrected=plain,
        cov_corrected=corrected,
        small_sample_applied=True,
        df=n_all - k,
        n_effective=checked.n_effective,
        iterations=iterations,
    )
    notes = [
        "treatment centred by the randomization probability in the residual (MRTAnalysis "
        "emee2); small-sample correction always applied, with unavailable rows in its hat "
        "block as in the reference package; df = all participants - p - q"
    ]
    if numerator_prob is not None:
        notes.append("the numerator probability is checked but not used by emee2")
    labels = {"treatment": treatment, "rand_prob": str(rand_prob), "outcome": outcome}
    prepared = Prepared(
        frame=frame,
        kwargs={"labels": labels},
        notes=notes,
        treatment_label=treatment,
        prob_label=str(rand_prob),
    )
    result = make_result(
        full, fit, prepared, method="emee2", conf_level=conf_level, numerator_prob=numerator_prob
    )
    return dataclasses.replace(
        result,
        scale="log relative risk",
        numerator_prob="not used",
        n_used=int(np.count_nonzero(avail)),
    )
