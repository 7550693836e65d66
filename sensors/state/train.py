"""Train the calm/aroused classifier offline from a labelled feature table (e.g. WESAD).

The table has one row per window, a column per feature under the names the
monitor uses (``hr``, ``rmssd``, ``sdnn``, ``hf``, ``lf``, ``lf_hf``, ``scl``,
``scr_rate``, ``scr_amp``; RMSSD/SDNN in ms, HF/LF in ms^2, SCL/SCR amplitude
in uS, SCR rate per minute) and a label column. Labels ``calm``, ``rest``,
``baseline``, ``relaxed``, ``neutral``, ``0`` count as calm; ``aroused``,
``stress``, ``stressor``, ``1`` as aroused; any other label (e.g. WESAD's
amusement) is left out and counted.

Two ways to standardise, written into the model file:

* without ``group``: against the calm rows of the whole table
  (``baseline_source = "training"``): the model works as loaded, no
  calibration, but carries between-person differences;
* with ``group`` (a participant column): each participant against their
  own calm rows, as the live calibration does (``baseline_source =
  "participant"``): the coefficients transfer, and the monitor takes the new
  participant's rest phase as baseline before classifying.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from labmrt.errors import LabmrtError, Problem
from labmrt.textcols import text_as_objects
from sensors.signals import FEATURE_NAMES
from sensors.state.classifier import MIN_WINDOWS, AffectClassifier
from sensors.state.feature_sets import DEFAULT_FEATURES
from sensors.state.labels import label_code


def read_feature_table(path: str | Path, label: str, group: str | None = None) -> pd.DataFrame:
    """The CSV as a DataFrame, with user errors for a missing file or columns."""
    path = Path(path)
    if not path.is_file():
        raise LabmrtError("features file does not exist", where=str(path))
    try:
        df = text_as_objects(pd.read_csv(path))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise LabmrtError(f"not a readable CSV file: {err}", where=str(path)) from None
    missing = [c for c in (label, group) if c and c not in df.columns]
    if missing:
        raise LabmrtError(
            f"no column {', '.join(map(repr, missing))}; columns are {', '.join(df.columns)}",
            where=str(path),
            fix="name the label (and group) column as it appears in the header",
        )
    return df


def train_from_table(
    df: pd.DataFrame,
    label: str,
    features: Sequence[str] | None = None,
    group: str | None = None,
    where: str = "features",
) -> tuple[AffectClassifier, dict]:
    """Fit a logistic model on the table; returns the classifier and a summary dict."""
    wanted = list(features) if features else [f for f in DEFAULT_FEATURES if f in df.columns]
    unknown = [f for f in wanted if f not in FEATURE_NAMES]
    absent = [f for f in wanted if f not in df.columns]
    problems = []
    if unknown:
        problems.append(
            Problem(where, f"unknown feature(s) {', '.join(unknown)}", f"use {FEATURE_NAMES}")
        )
    if absent:
        problems.append(Problem(where, f"no column for feature(s) {', '.join(absent)}"))
    if not wanted:
        problems.append(
            Problem(
                where,
                "none of the feature columns " + ", ".join(DEFAULT_FEATURES) + " is present",
                "name feature columns as the monitor does (hr, rmssd, sdnn, scl, scr_rate, ...)",
            )
        )
    if problems:
        raise LabmrtError(problems)
    values = df[wanted].apply(pd.to_numeric, errors="coerce")
    bad = [c for c in wanted if values[c].isna().sum() > df[c].isna().sum()]
    if bad:
        raise LabmrtError(
            f"non-numeric values in column(s) {', '.join(bad)}",
            where=where,
            fix="leave a cell empty for a missing value",
        )
    codes = df[label].map(label_code)
    keep = codes.notna()
    y_all = codes[keep].to_numpy(dtype=float)
    rows = values[keep]
    n_dropped = int((~keep).sum())
    if (y_all == 0).sum() < MIN_WINDOWS or (y_all == 1).sum() < MIN_WINDOWS:
        raise LabmrtError(
            f"{int((y_all == 0).sum())} calm and {int((y_all == 1).sum())} aroused rows; "
            f"training needs at least {MIN_WINDOWS} of each",
            where=f"{where}: column {label}",
            fix="label rows calm/rest/baseline/0 or aroused/stress/1",
        )
    records = rows.to_dict("records")
    clf = AffectClassifier(features=tuple(wanted))
    if group is None:
        calm = [r for r, y in zip(records, y_all, strict=True) if y == 0]
        clf.fit_baseline(calm, wanted)
        names = list(clf.mean)
        z = np.array([[clf.z_scores(r).get(n, np.nan) for n in names] for r in records])
        clf.fit_standardized(z, y_all, names)
        clf.baseline_source = "training"
        n_groups = 1
    else:
        groups = df.loc[keep, group].astype(str).to_numpy()
        z_parts, y_parts, names = [], [], None
        skipped = []
        for g in pd.unique(groups):
            idx = np.flatnonzero(groups == g)
            calm = [records[i] for i in idx if y_all[i] == 0]
            part = AffectClassifier(features=tuple(wanted))
            try:
                part.fit_baseline(calm, wanted)
            except LabmrtError:
                skipped.append(g)
                continue
            names = names or list(wanted)
            z_parts.append(
                np.array([[part.z_scores(records[i]).get(n, np.nan) for n in names] for i in idx])
            )
            y_parts.append(y_all[idx])
        if not z_parts:
            raise LabmrtError(
                f"no {group} has {MIN_WINDOWS} calm rows to standardise against",
                where=f"{where}: column {group}",
            )
        clf.fit_standardized(np.vstack(z_parts), np.concatenate(y_parts), names)
        clf.baseline_source = "participant"
        clf.mean, clf.sd = {}, {}
        n_groups = len(z_parts)
    clf.n_rest = int((y_all == 0).sum())
    # in-sample balanced accuracy, for a sanity check of the fit (not a validation)
    summary = {
        "features": list(clf.coef),
        "coef": clf.coef,
        "intercept": clf.intercept,
        "n_calm": int((y_all == 0).sum()),
        "n_aroused": int((y_all == 1).sum()),
        "n_dropped_labels": n_dropped,
        "groups": n_groups,
        "baseline_source": clf.baseline_source,
    }
    if group is None:
        p = np.array([_nan_if_none(clf.predict_proba(r)) for r in records])
        ok = np.isfinite(p)
        hit = (p[ok] >= 0.5) == (y_all[ok] == 1)
        yk = y_all[ok]
        summary["train_balanced_accuracy"] = float(
            np.mean([hit[yk == 0].mean(), hit[yk == 1].mean()])
        )
    return clf, summary


def train_from_csv(
    path: str | Path,
    label: str,
    out: str | Path,
    features: Sequence[str] | None = None,
    group: str | None = None,
) -> dict:
    """Read, fit and save the model to ``out``; returns the summary."""
    df = read_feature_table(path, label, group)
    clf, summary = train_from_table(df, label, features, group, where=str(path))
    out = Path(out)
    if not out.parent.is_dir():
        raise LabmrtError("the output folder does not exist", where=str(out))
    clf.save(out)
    summary["model"] = str(out)
    return summary


def _nan_if_none(v: float | None) -> float:
    return np.nan if v is None else v
