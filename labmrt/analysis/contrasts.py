"""Binary contrasts from a multi-arm MRT: treatment, probability and rows, derived.

labmrt records the arm drawn (``arm``) and the probability of every arm
(``prob_<arm>``) at every decision point. A contrast names two disjoint sets
of arms, T (treated) and C (comparison). Then, at a decision point whose arm
is in T or C:

- ``A_t = 1`` if the arm is in T, else 0;
- ``p_t = P(A_t = 1 | arm in T or C, H_t) = sum_T p_a / (sum_T p_a + sum_C p_a)``;

and a decision point whose arm is in neither set is excluded: it is treated
as not available for this contrast (``I_t = 0``). It stays in the table, so
decision-point indices, lags and participant counts are unaffected.

Grammar (whitespace is ignored)::

    CONTRAST := SIDE SEP SIDE          SEP  := "-vs-" | ":" | " vs "
    SIDE     := ARM ("+" ARM)* | "baseline" | "rest" | "any"

``baseline`` is the baseline (do-nothing) arm; ``rest`` (right side only) is
every arm not on the left; ``any`` (left side only) is every arm except the
baseline and the arms on the right. Examples: ``loss-vs-baseline``,
``loss:baseline``, ``gain-vs-rest``, ``any-vs-baseline``,
``gain+loss:baseline``. Arm ids containing ``+``, ``:`` or ``-vs-`` cannot be
named in a contrast.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from labmrt.errors import LabmrtError, Problem

PROB_PREFIX = "prob_"
_SEP = re.compile(r"\s*(?:-vs-|\s+vs\s+|:)\s*")


@dataclass
class Contrast:
    """A resolved contrast: the arm sets and the spec text it came from."""

    text: str
    treated: list[str]
    control: list[str]

    @property
    def label(self) -> str:
        return f"{'+'.join(self.treated)} vs {'+'.join(self.control)}"

    def to_dict(self) -> dict:
        return {"spec": self.text, "treated_arms": self.treated, "control_arms": self.control}


@dataclass
class ContrastColumns:
    """Per input row: derived treatment, probability, and whether the row is in the contrast."""

    contrast: Contrast
    treatment: np.ndarray
    prob: np.ndarray
    include: np.ndarray
    n_excluded: int


def arms_of(frame: pd.DataFrame) -> list[str]:
    """Arm ids that have a ``prob_<arm>`` column, in column order."""
    return [c[len(PROB_PREFIX) :] for c in frame.columns if str(c).startswith(PROB_PREFIX)]


def resolve_baseline(
    frame: pd.DataFrame, baseline: str | None = None, source: str | Path | None = None
) -> str | None:
    """The baseline arm: given, else a ``baseline_arm`` column, else the codebook beside the data.

    Falls back to an arm literally named ``baseline``; None when nothing says.
    """
    arms = arms_of(frame)
    if baseline is not None:
        if baseline not in arms:
            raise LabmrtError(
                Problem(
                    f"baseline arm {baseline!r}",
                    "has no prob_ column in the data",
                    f"arms in the data: {', '.join(arms) or 'none'}",
                )
            )
        return baseline
    if "baseline_arm" in frame.columns:
        vals = frame["baseline_arm"].dropna().astype(str).unique()
        if len(vals) == 1 and vals[0] in arms:
            return str(vals[0])
    if source is not None:
        path = Path(source)
        book = path / "codebook.json" if path.is_dir() else path.parent / "codebook.json"
        if book.is_file():
            try:
                found = json.loads(book.read_text("utf-8")).get("baseline_arm")
            except (OSError, ValueError):
                found = None
            if isinstance(found, list):
                found = found[0] if len(found) == 1 else None
            if isinstance(found, str) and found in arms:
                return found
    return "baseline" if "baseline" in arms else None


def parse_contrast(
    text: str, arms: list[str], baseline: str | None, *, arms_from: str | None = None
) -> Contrast:
    """Turn ``loss-vs-baseline`` and friends into arm sets (grammar in the module doc).

    ``arms`` are the data's (its ``prob_`` columns), or with ``arms_from`` those of
    another source (``"the protocol"``), which the message for an unknown arm names.
    """
    parts = _SEP.split(text.strip())
    hint = "write e.g. loss-vs-baseline, loss:baseline, gain-vs-rest or any-vs-baseline"
    if len(parts) != 2 or not all(parts):
        raise LabmrtError(Problem(f"contrast {text!r}", "is not of the form T-vs-C", hint))
    left, right = (p.strip() for p in parts)

    def need_baseline() -> str:
        if baseline is None:
            raise LabmrtError(
                Problem(
                    f"contrast {text!r}",
                    "names the baseline arm, but the data do not say which arm it is",
                    f"pass --baseline ARM (arms: {', '.join(arms)})",
                )
            )
        return baseline

    def side(token: str, other: list[str] | None) -> list[str]:
        names = [t.strip() for t in token.split("+")]
        out: list[str] = []
        for name in names:
            if name == "baseline" and "baseline" not in arms:
                out.append(need_baseline())
            elif name == "baseline":
                out.append(baseline or "baseline")
            elif name in ("rest", "any") and len(names) == 1 and name not in arms:
                if other is None:
                    raise LabmrtError(
                        Problem(
                            f"contrast {text!r}",
                            f"{name!r} must be alone on its side, with the other side explicit",
                            hint,
                        )
                    )
                excluded = set(other)
                if name == "any":
                    excluded.add(need_baseline())
                out += [a for a in arms if a not in excluded]
            elif name in arms:
                out.append(name)
            elif arms_from is not None:
                raise LabmrtError(
                    Problem(
                        f"contrast {text!r}",
                        f"{name!r} is not an arm of {arms_from}",
                        f"use one of {arms} or 'baseline'",
                    )
                )
            else:
                raise LabmrtError(
                    Problem(
                        f"contrast {text!r}",
                        f"arm {name!r} has no prob_{name} column",
                        f"arms in the data: {', '.join(arms) or 'none (no prob_ columns)'}",
                    )
                )
        return list(dict.fromkeys(out))

    special = {"rest", "any"}
    if left in special and right in special:
        raise LabmrtError(Problem(f"contrast {text!r}", "both sides are implicit", hint))
    if left == "rest":
        raise LabmrtError(Problem(f"contrast {text!r}", "'rest' goes on the right", hint))
    if right == "any":
        raise LabmrtError(Problem(f"contrast {text!r}", "'any' goes on the left", hint))
    if left in special and left not in arms:
        control = side(right, [])
        treated = side(left, control)
    else:
        treated = side(left, [])
        control = side(right, treated)
    overlap = set(treated) & set(control)
    if overlap:
        raise LabmrtError(
            Problem(f"contrast {text!r}", f"arm(s) {', '.join(sorted(overlap))} on both sides")
        )
    if not treated or not control:
        raise LabmrtError(Problem(f"contrast {text!r}", "one side names no arm", hint))
    return Contrast(text, treated, control)


def contrast_columns(
    frame: pd.DataFrame,
    contrast: Contrast,
    arm_column: str = "arm",
    available: np.ndarray | None = None,
) -> ContrastColumns:
    """Derive the binary treatment, its probability and the included rows (input row order)."""
    if arm_column not in frame.columns:
        raise LabmrtError(
            Problem(
                f"arm column {arm_column!r}",
                "not in the data",
                f"available columns: {', '.join(map(str, frame.columns))}",
            )
        )
    arms = arms_of(frame)
    recorded = frame[arm_column].astype("string").str.strip()
    has_arm = (recorded.notna() & (recorded != "")).to_numpy(dtype=bool)
    n = len(frame)
    avail = np.ones(n, dtype=bool) if available is None else np.asarray(available, dtype=bool)
    unknown = has_arm & ~recorded.isin(arms).fillna(False).to_numpy(dtype=bool) & avail
    if unknown.any():
        rows = np.flatnonzero(unknown)[:5] + 1
        vals = ", ".join(map(repr, recorded[unknown].unique()[:5]))
        raise LabmrtError(
            Problem(
                f"arm column {arm_column!r}",
                f"arm(s) {vals} have no prob_ column (rows {', '.join(map(str, rows))})",
                f"arms with probabilities: {', '.join(arms)}",
            )
        )
    if available is not None:
        missing = avail & ~has_arm
        if missing.any():
            rows = np.flatnonzero(missing)[:5] + 1
            raise LabmrtError(
                Problem(
                    f"arm column {arm_column!r}",
                    f"empty at {int(missing.sum())} available decision point(s) "
                    f"(rows {', '.join(map(str, rows))})",
                    "every available decision point must record the arm drawn",
                )
            )

    def prob_sum(names: list[str]) -> np.ndarray:
        cols = frame[[PROB_PREFIX + a for a in names]]
        vals = cols.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return vals.sum(axis=1)

    in_t = recorded.isin(contrast.treated).fillna(False).to_numpy(dtype=bool)
    in_c = recorded.isin(contrast.control).fillna(False).to_numpy(dtype=bool)
    include = (in_t | in_c) & avail
    p_t = prob_sum(contrast.treated)
    p_c = prob_sum(contrast.control)
    with np.errstate(divide="ignore", invalid="ignore"):
        prob = p_t / (p_t + p_c)
    bad = include & ~((p_t > 0) & (p_c > 0) & (prob > 0) & (prob < 1))
    if bad.any():
        rows = np.flatnonzero(bad)[:5] + 1
        raise LabmrtError(
            Problem(
                f"contrast {contrast.text!r}",
                f"the probability of {'+'.join(contrast.treated)} given "
                f"{contrast.label} is missing or not strictly between 0 and 1 at "
                f"{int(bad.sum())} decision point(s) (rows {', '.join(map(str, rows))})",
                "both sides need a positive recorded probability wherever they can be drawn; "
                "restrict the analysis to the rows where both could be drawn",
            )
        )
    return ContrastColumns(
        contrast=contrast,
        treatment=np.where(in_t, 1.0, 0.0),
        prob=np.where(include, prob, 0.5),
        include=include,
        n_excluded=int(np.count_nonzero(avail & has_arm & ~include)),
    )


def covering_contrast(text: str, arms: list[str], baseline: str | None) -> Contrast:
    """A contrast for an analysis of every decision point (dcee, mcee): every arm on a side.

    A distal outcome is shaped by every decision point of the participant, so a
    point drawn to an arm outside the contrast cannot be left out (nor counted as
    unavailable, which is decided before the draw): the comparison side must hold
    the arms the treated side does not, e.g. ``loss-vs-rest``.
    """
    con = parse_contrast(text, arms, baseline)
    left_out = [a for a in arms if a not in con.treated and a not in con.control]
    if left_out:
        rest = f"{'+'.join(con.treated)}-vs-rest"
        raise LabmrtError(
            Problem(
                f"contrast {text!r}",
                f"leaves out arm(s) {', '.join(left_out)}, but a distal outcome depends on "
                "every decision point, so none can be left out of the analysis",
                f"put every arm on a side, e.g. {rest}",
            )
        )
    return con


def distal_treatment(
    frame: pd.DataFrame,
    text: str,
    baseline: str | None,
    arm_column: str = "arm",
    availability: str | None = None,
) -> tuple[pd.DataFrame, str, str]:
    """``frame`` with the 0/1 treatment and its probability of a covering contrast added.

    Returns the frame and the two new columns' names (the contrast's label, and
    ``P(label)``). The treatment is 0 where the point was not randomized; the
    probability is the recorded ``sum_T p`` (both sides together always sum to 1),
    empty there.
    """
    con = covering_contrast(text, arms_of(frame), baseline)
    avail = None
    if availability is not None and availability in frame.columns:
        avail = pd.to_numeric(frame[availability], errors="coerce").fillna(0).to_numpy() == 1
    cols = contrast_columns(frame, con, arm_column, avail)
    label = con.label
    out = frame.assign(
        **{label: cols.treatment, f"P({label})": np.where(cols.include, cols.prob, np.nan)}
    )
    return out, label, f"P({label})"
