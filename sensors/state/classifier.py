"""Calm / aroused from HRV and skin-conductance features, calibrated per participant.

Physiology differs far more between people than between one person's calm
and aroused states (a resting heart rate of 55 or 85 bpm are both normal), so
every feature is first expressed against the participant's own rest baseline:
``z = (x - mean_rest) / sd_rest``. Two models sit on top of that scale:

* ``logistic``: rest and stressor windows from the calibration phase (or
  labelled rows of an offline data set) fit a logistic regression of
  ``aroused`` on the z-scores. The fit carries a small ridge penalty
  (:data:`~sensors.state.fitting.RIDGE`, on the z scale; intercept free) and
  balanced class weights: windows of two calibration phases are usually
  perfectly separable, where the unpenalised maximum-likelihood estimate does
  not exist.
* ``rest_threshold``, when only rest was recorded: an arousal index, the
  mean of the z-scores signed so that arousal raises each one
  (:data:`~sensors.state.feature_sets.AROUSAL_SIGN`: heart rate,
  skin-conductance level and SCR rate go up, RMSSD/SDNN/HF go down; Kreibig
  2010, Biol Psychol 84:394, for the directions), is scaled by its own spread at rest (at least
  :data:`INDEX_SD_FLOOR`), and a window is aroused when it lies
  :data:`REST_THRESHOLD` such spreads above the rest mean. Overlapping
  windows of one rest stretch understate how far a calm participant drifts
  over a session, so the floor matters more than the measured spread: at
  1.5 the threshold sits at a mean signed z of 3 (with a floor of 0.5, calm
  stretches that differed from the rest phase were called aroused in the
  simulated sessions of ``bench/sensors_accuracy.py``; 1.5 to 3 all worked).
  ``p_aroused = 1 / (1 + exp(-1.7 (u - REST_THRESHOLD)))``, 1.7 making the
  logistic close to the normal CDF.

**Calibration on real people** (a wrist sensor while the hand writes or
the person talks) leaves some windows without clean heart beats. The
logistic calibration therefore fits one model per feature group present
(cardiac + EDA, EDA alone, cardiac alone), each on the calibration windows
where its own features are clean, and at each update the largest model
whose signals are clean right now is used: a movement artefact in the pulse
leaves the state to skin conductance instead of turning it ``unknown``.

The calibration weights are **constrained to the direction physiology
predicts** (:data:`~sensors.state.feature_sets.AROUSAL_SIGN`; Kreibig 2010): a
feature that moved the other way between rest and stressor (skin conductance that was higher in a
questionnaire baseline than during the task, a drifting sensor) gets weight
0 instead of a negative one that would call every calm stretch aroused; a
model left with no weight does not separate.

**How well the calibration separated**, per model: the area under the ROC
curve of held-out calibration windows
(:func:`~sensors.state.fitting.blocked_cv_auc`, blocked cross-validation with
a purge, since neighbouring windows overlap and
would otherwise leak into each other). A model under :data:`AUC_MIN`
(0.7, the lower bound of "acceptable discrimination", Hosmer, Lemeshow &
Sturdivant 2013, Applied Logistic Regression, 3rd ed., p. 177) is not used:
no weights are taken from a calibration that did not separate. Such a
participant gets, as the protocol chooses (:attr:`AffectClassifier.not_separated`),
states from the **rest reference** (the ``rest_threshold`` index against
their own rest, per feature set, each state's reason saying so: a stressor
that did not move someone says nothing about a later one that does) or
``unknown`` with the reason. Warnings name non-responders: skin
conductance near the floor or unchanged by the stressor, heart rate
unchanged (:meth:`AffectClassifier.calibration_summary`).

The state is ``unknown`` (with a reason) when the model is not calibrated,
no model's features are present and clean, or the calibration of every
model that could be used did not separate rest from stressor and the rest
reference is not asked for (or a separated model exists but cannot be used
now: the rest reference only stands in for a calibration that taught nothing).

The scale and the fit (logs, SD floors, ridge, blocked CV) are in
:mod:`sensors.state.fitting`, the feature sets in
:mod:`sensors.state.feature_sets`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labmrt.errors import LabmrtError
from sensors.state.feature_sets import (
    AROUSAL_SIGN,
    CARDIAC_SOURCES,
    DEFAULT_FEATURES,
    FEATURE_WINDOW_S,
    feature_groups,
    group_feature_sets,
)
from sensors.state.fitting import (
    LOG_FEATURES,
    Z_CLIP,
    FeatureRow,
    blocked_cv_auc,
    feature_matrix,
    fit_logistic,
    floored_sd,
    model_value,
    sigmoid,
)
from sensors.state.summary import summarize_calibration

FORMAT = "labmrt-affect-classifier"
VERSION = 1
#: Spreads above the rest mean at which the rest-only arousal index calls a window aroused.
REST_THRESHOLD = 2.0
#: Smallest spread at rest of the arousal index (see the module docstring).
INDEX_SD_FLOOR = 1.5
MIN_WINDOWS = 10  #: calibration windows needed per phase
AUC_MIN = 0.7  #: cross-validated AUC a calibration model needs to be used
EDA_FLOOR_US = 0.1  # rest skin conductance below this: no contact or a non-responder
FLAT_SCL_US = 0.05  # SCL change rest -> stressor below this (the SCR criterion) is flat
FLAT_SCR_PER_MIN = 1.0
HR_CHANGE_MIN_BPM = 2.0
DEFAULT_MIN_QUALITY = 0.5
#: what a participant whose calibration did not separate gets ([sensors] not_separated)
NOT_SEPARATED_CHOICES: tuple[str, ...] = ("rest_reference", "unknown")


@dataclass(frozen=True)
class Prediction:
    """One classification: ``label`` is calm/aroused/unknown; ``reason`` explains unknown."""

    label: str
    p_aroused: float | None
    reason: str = ""


@dataclass
class AffectClassifier:
    """Per-participant calm/aroused classifier (see the module docstring for the model).

    Use :meth:`fit` with rest (and optionally stressor) feature rows from the
    calibration phase, or :meth:`load` a model trained offline; a model
    trained with per-participant standardisation still needs
    :meth:`fit_baseline` on the participant's rest rows.
    """

    features: tuple[str, ...] = DEFAULT_FEATURES
    min_quality: float = DEFAULT_MIN_QUALITY
    method: str | None = None  # "logistic" | "rest_threshold" once fitted
    baseline_source: str = "participant"  # or "training"
    mean: dict[str, float] = field(default_factory=dict)
    sd: dict[str, float] = field(default_factory=dict)
    coef: dict[str, float] = field(default_factory=dict)
    intercept: float = 0.0
    index_sd: float = 1.0
    n_rest: int = 0
    n_stress: int = 0
    notes: list[str] = field(default_factory=list)
    # one logistic model per feature group present at calibration ("cardiac+eda",
    # "eda", "cardiac"): features, intercept, coef, auc, ok, n_rest, n_stress, reason
    models: dict[str, dict] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    changes: dict[str, float] = field(default_factory=dict)  # stressor - rest means
    not_separated: str = "rest_reference"  # or "unknown" (NOT_SEPARATED_CHOICES)
    # when no model separated: the rest-referenced arousal index per feature set
    # ("cardiac+eda", "eda", "cardiac"): features, index_sd, n_rest
    rest_reference: dict[str, dict] = field(default_factory=dict)

    # ------------------------------------------------------------------ state
    @property
    def used_features(self) -> tuple[str, ...]:
        """Features the fitted model uses (those present in the calibration data)."""
        if self.method == "logistic":
            return tuple(self.coef)
        return tuple(self.mean)

    @property
    def has_baseline(self) -> bool:
        return bool(self.mean)

    @property
    def is_calibrated(self) -> bool:
        return self.method is not None and self.has_baseline

    # ------------------------------------------------------------------ fitting
    def _usable(self, rows: Sequence[FeatureRow], names: Iterable[str]) -> list[str]:
        names = list(names)
        if not rows:
            return []
        m = feature_matrix(rows, names)
        # a feature lost in some windows (a moving wrist) still counts where it is clean
        return [n for j, n in enumerate(names) if np.isfinite(m[:, j]).sum() >= MIN_WINDOWS]

    def fit_baseline(self, rest: Sequence[FeatureRow], names: Sequence[str] | None = None):
        """Set the rest baseline (mean and floored SD per feature) from rest rows."""
        names = list(names) if names is not None else list(self.features)
        rest = list(rest)
        usable = self._usable(rest, names)
        if len(rest) < MIN_WINDOWS or not usable:
            raise LabmrtError(
                f"{len(rest)} rest window(s) with {len(usable)} usable feature(s); "
                f"calibration needs at least {MIN_WINDOWS} windows with features",
                where="calibration",
                fix="record a longer rest phase with the sensors streaming clean signal",
            )
        if self.method == "logistic" and self.coef:
            missing = [n for n in self.coef if n not in usable]
            if missing:
                raise LabmrtError(
                    f"the model uses {', '.join(missing)}, missing at rest",
                    where="calibration",
                    fix="connect the sensor that provides these features",
                )
        m = feature_matrix(rest, usable)
        self.mean, self.sd = {}, {}
        for j, name in enumerate(usable):
            self.mean[name], self.sd[name] = floored_sd(name, m[:, j])
        self.n_rest = len(rest)
        return self

    def z_scores(self, row: FeatureRow, names: Sequence[str] | None = None) -> dict[str, float]:
        """Baseline-standardised values (clipped) of the features present in ``row``."""
        out = {}
        for name in names or self.mean:
            v = model_value(row, name)
            if v is not None and name in self.mean:
                z = (v - self.mean[name]) / self.sd[name]
                out[name] = float(np.clip(z, -Z_CLIP, Z_CLIP))
        return out

    def arousal_index(self, row: FeatureRow) -> float | None:
        """Mean signed z-score (arousal raises it); None when a feature is missing."""
        return self._index(row, list(self.mean))

    def fit(self, rest: Sequence[FeatureRow], stress: Sequence[FeatureRow] | None = None):
        """Calibrate on the participant's rest rows and, when given enough, stressor rows.

        Raises :class:`LabmrtError` when rest is insufficient; with fewer than
        :data:`MIN_WINDOWS` stressor rows it falls back to the rest-only
        threshold and says so in :attr:`notes`.
        """
        rest, stress = list(rest), list(stress or [])
        self.notes, self.models, self.warnings, self.changes = [], {}, [], {}
        self.rest_reference = {}
        names = list(self.features)
        enough = len(stress) >= MIN_WINDOWS
        if enough:
            names = [n for n in names if n in self._usable(stress, names)]
            if not names:
                self.notes.append(
                    "no feature present in the stressor windows; rest-only threshold used"
                )
        self.method, self.coef = None, {}
        self.fit_baseline(rest, names if names else None)
        if enough and names:
            self._fit_models(rest, stress)
            self._check_responses(rest, stress)
            if self.models and not self.separated and self.not_separated == "rest_reference":
                self._fit_rest_reference(rest)
        if self.method is None:
            if stress and not enough:
                self.notes.append(
                    f"only {len(stress)} stressor window(s); rest-only threshold used"
                )
            self._fit_rest_threshold(rest)
        self.baseline_source = "participant"
        return self

    def _fit_models(self, rest, stress):
        """One logistic model per feature group set, on the rows where its features are clean."""
        sets = group_feature_sets(list(self.mean))
        rows = list(rest) + list(stress)
        y_all = np.r_[np.zeros(len(rest)), np.ones(len(stress))]
        # rows from the monitor carry their update time; rows without one (an offline
        # table) are taken as independent windows in order, with nothing to purge
        timed = all(r.get("t") is not None for r in rows)
        t_all = np.array([float(r["t"]) if timed else float(i) for i, r in enumerate(rows)])
        for feats in sets:
            key = "+".join(feature_groups(feats))
            x = feature_matrix(rows, feats)
            ok = np.isfinite(x).all(axis=1)
            n_rest, n_stress = int((ok & (y_all == 0)).sum()), int((ok & (y_all == 1)).sum())
            model = {"features": list(feats), "n_rest": n_rest, "n_stress": n_stress}
            if n_rest < MIN_WINDOWS or n_stress < MIN_WINDOWS:
                model.update(
                    ok=False,
                    auc=None,
                    reason=f"{n_rest} rest and {n_stress} stressor windows with clean "
                    f"{key} features (needs {MIN_WINDOWS} of each)",
                )
                self.models[key] = model
                continue
            x, y, t = x[ok], y_all[ok], t_all[ok]
            z = np.clip(
                (x - np.array([self.mean[n] for n in feats]))
                / np.array([self.sd[n] for n in feats]),
                -Z_CLIP,
                Z_CLIP,
            )
            w = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
            b0, beta = fit_logistic(z, y, weights=w, signs=[AROUSAL_SIGN.get(n, 0) for n in feats])
            purge = max(FEATURE_WINDOW_S.get(n, 60.0) for n in feats) if timed else 0.0
            cv = blocked_cv_auc(x, y, t, feats, purge)
            # too few windows to hold any out: the separation is unmeasured, not failed
            good = cv is None or cv >= AUC_MIN
            model.update(
                intercept=float(b0),
                coef={n: float(b) for n, b in zip(feats, beta, strict=True)},
                auc=cv,
                ok=good,
                reason=""
                if good
                else f"rest and stressor did not separate on {key} features "
                f"(cross-validated AUC {'-' if cv is None else f'{cv:.2f}'} < {AUC_MIN})",
            )
            self.models[key] = model
        fitted = [m for m in self.models.values() if "coef" in m]
        # a model too small to cross-validate is used only where no model could be checked
        # (a short calibration); beside checked models it would be an unchecked guess
        if any(m.get("auc") is not None for m in fitted):
            for m in fitted:
                if m.get("auc") is None:
                    m["ok"] = False
                    m["reason"] = (
                        f"too few clean windows ({m['n_rest']} rest, {m['n_stress']} stressor) "
                        "to check the separation of these features"
                    )
        if not fitted:
            reason = next(iter(self.models.values()))["reason"]
            self.notes.append(f"{reason}; rest-only threshold used")
            self.models = {}
            return
        # the primary model: the largest one that separated, else the largest fitted
        primary = max(fitted, key=lambda m: (m["ok"], len(m["features"])))
        self.intercept, self.coef = primary["intercept"], dict(primary["coef"])
        self.n_stress = len(stress)
        self.method = "logistic"

    def _fit_rest_reference(self, rest) -> None:
        """The rest-only arousal index per feature set, for a calibration that did not separate.

        A stressor that did not move this participant's physiology (a Stroop
        test that bored them) teaches the logistic model nothing, but the rest
        baseline still holds: a later departure from it in the direction
        physiology predicts is arousal, as in the ``rest_threshold`` model.
        One index per feature set, as for the logistic models, so a moving
        wrist leaves the state to skin conductance.
        """
        for feats in group_feature_sets(list(self.mean)):
            idx = [self._index(r, feats) for r in rest]
            vals = np.array([v for v in idx if v is not None])
            if vals.size < MIN_WINDOWS:
                continue
            self.rest_reference["+".join(feature_groups(feats))] = {
                "features": list(feats),
                "index_sd": max(float(vals.std(ddof=1)), INDEX_SD_FLOOR),
                "n_rest": int(vals.size),
            }

    def _index(self, row: FeatureRow, names: Sequence[str]) -> float | None:
        """Mean signed z-score of ``names`` in ``row``; None when one is missing."""
        z = self.z_scores(row, names)
        if len(z) < len(names):
            return None
        return float(np.mean([AROUSAL_SIGN.get(n, 1) * z[n] for n in names]))

    def _check_responses(self, rest, stress) -> None:
        """Warnings for non-responders: flat or floor skin conductance, unchanged heart rate."""

        def mean_of(rows, name):
            vals = [model_value(r, name) for r in rows]
            vals = [v for v in vals if v is not None]
            return float(np.mean(vals)) if vals else None

        for name in ("hr_fast", "hr", "scl_fast", "scl", "scr_rate"):
            a, b = mean_of(rest, name), mean_of(stress, name)
            if a is not None and b is not None:
                self.changes[name] = b - a
        scl = "scl_fast" if "scl_fast" in self.changes else "scl"
        if scl in self.changes:
            level = mean_of(rest, scl)
            if level is not None and level < EDA_FLOOR_US:
                self.warnings.append(
                    f"skin conductance near the floor ({level:.2f} uS at rest): "
                    "poor electrode contact or a non-responder"
                )
            scr = self.changes.get("scr_rate", 0.0)
            if self.changes[scl] < FLAT_SCL_US and scr < FLAT_SCR_PER_MIN:
                self.warnings.append(
                    f"skin conductance did not respond to the stressor "
                    f"({self.changes[scl]:+.2f} uS, SCR rate {scr:+.1f}/min): "
                    "an EDA non-responder, or poor contact"
                )
        hr = "hr_fast" if "hr_fast" in self.changes else "hr"
        if hr in self.changes and abs(self.changes[hr]) < HR_CHANGE_MIN_BPM:
            self.warnings.append(
                f"heart rate did not change between rest and stressor ({self.changes[hr]:+.1f} bpm)"
            )

    @property
    def separated(self) -> bool:
        """Whether a calibration model is usable (always, for models without CV figures)."""
        if self.method != "logistic" or not self.models:
            return self.method is not None
        return any(m.get("ok") for m in self.models.values())

    def calibration_summary(self) -> dict:
        """JSON-ready: how well rest and stressor separated, per model, and warnings."""
        return summarize_calibration(self)

    def _fit_logistic(self, rest, stress):
        names = list(self.mean)
        rows = list(rest) + list(stress)
        y = np.r_[np.zeros(len(rest)), np.ones(len(stress))]
        z = np.array([[self.z_scores(r).get(n, np.nan) for n in names] for r in rows])
        self.fit_standardized(z, y, names)

    def fit_standardized(self, z: np.ndarray, y: np.ndarray, names: Sequence[str]) -> None:
        """Fit the logistic model on already standardised rows ``z`` (columns ``names``).

        Rows with a missing value are dropped; classes are weighted equally.
        """
        z, y = np.asarray(z, dtype=float), np.asarray(y, dtype=float)
        ok = np.isfinite(z).all(axis=1)
        z, y = z[ok], y[ok]
        if len(np.unique(y)) < 2:
            raise LabmrtError(
                "the calibration windows hold only one state once incomplete ones are dropped",
                where="calibration",
                fix="record both states with all sensors streaming",
            )
        w = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
        self.intercept, beta = fit_logistic(z, y, weights=w)
        self.coef = {n: float(b) for n, b in zip(names, beta, strict=True)}
        self.n_stress = int(y.sum())
        self.method = "logistic"

    def _fit_rest_threshold(self, rest):
        idx = [self.arousal_index(r) for r in rest]
        vals = np.array([v for v in idx if v is not None])
        sd = float(vals.std(ddof=1)) if vals.size > 1 else 0.0
        self.index_sd = max(sd, INDEX_SD_FLOOR)
        self.n_stress = 0
        self.method = "rest_threshold"

    # ------------------------------------------------------------------ prediction
    def predict(
        self, features: FeatureRow, quality: Mapping[str, float] | None = None
    ) -> Prediction:
        """``Prediction(label, p_aroused, reason)`` for one window of features.

        ``quality`` maps stream kinds (``ecg``/``ppg``/``eda``) to scores; the
        cardiac features accept the better of ECG and PPG.
        """
        if self.method is None:
            return Prediction("unknown", None, "classifier not calibrated")
        if not self.has_baseline:
            return Prediction("unknown", None, "no rest baseline for this participant yet")
        if self.method == "logistic" and self.models:
            return self._predict_models(features, quality)
        reason = self._unusable(self.used_features, features, quality)
        if reason:
            return Prediction("unknown", None, reason)
        p = self.predict_proba(features)
        if p is None or not math.isfinite(p):
            return Prediction("unknown", None, "no probability for these features")
        return Prediction("aroused" if p >= 0.5 else "calm", p)

    def _unusable(
        self, names: Sequence[str], features: FeatureRow, quality: Mapping[str, float] | None
    ) -> str:
        """Why ``names`` cannot be used on this update ("" when they can)."""
        if quality is not None:
            for group in feature_groups(names):
                kinds = CARDIAC_SOURCES if group == "cardiac" else (group,)
                scores = [quality[k] for k in kinds if k in quality and quality[k] is not None]
                best = max(scores) if scores else None
                if best is None or not math.isfinite(best):
                    return f"no {group} signal quality"
                if best < self.min_quality:
                    return f"{group} signal quality {best:.2f} < {self.min_quality}"
        missing = [n for n in names if model_value(features, n) is None]
        if missing:
            return f"feature(s) missing: {', '.join(missing)}"
        return ""

    def _predict_models(
        self, features: FeatureRow, quality: Mapping[str, float] | None
    ) -> Prediction:
        """The largest calibration model whose features are present and clean now."""
        # models whose separation was measured first, then the larger, then the better
        models = sorted(
            self.models.items(),
            key=lambda kv: (
                kv[1].get("auc") is None,
                -len(kv[1]["features"]),
                -(kv[1].get("auc") or 0.0),
            ),
        )
        left_out: list[str] = []
        not_separated = ""
        for key, model in models:
            why = self._unusable(model["features"], features, quality)
            if why:
                left_out.append(why)
                continue
            if not model.get("ok"):
                not_separated = not_separated or model.get("reason") or "model not usable"
                continue
            z = self.z_scores(features, model["coef"])
            p = sigmoid(model["intercept"] + sum(c * z[n] for n, c in model["coef"].items()))
            label = "aroused" if p >= 0.5 else "calm"
            note = ""
            if len(model["features"]) < max(len(m["features"]) for m in self.models.values()):
                why = left_out[0] if left_out else not_separated
                note = f"{key} features only" + (f" ({why})" if why else "")
            return Prediction(label, p, note)
        if not_separated and self.rest_reference:
            return self._predict_rest_reference(features, quality, not_separated)
        return Prediction("unknown", None, not_separated or (left_out[0] if left_out else ""))

    def _predict_rest_reference(
        self, features: FeatureRow, quality: Mapping[str, float] | None, why: str
    ) -> Prediction:
        """The state from the rest reference, the largest feature set that is clean now."""
        left_out = ""
        for key, ref in sorted(self.rest_reference.items(), key=lambda kv: -len(kv[1]["features"])):
            unusable = self._unusable(ref["features"], features, quality)
            if unusable:
                left_out = left_out or unusable
                continue
            index = self._index(features, ref["features"])
            p = sigmoid(1.7 * (index / ref["index_sd"] - REST_THRESHOLD))
            return Prediction(
                "aroused" if p >= 0.5 else "calm", p, f"rest reference on {key} features ({why})"
            )
        return Prediction("unknown", None, left_out or why)

    def predict_proba(self, features: FeatureRow) -> float | None:
        """P(aroused) for one row, or None when uncalibrated or a feature is missing."""
        if not self.is_calibrated:
            return None
        if self.method == "logistic":
            z = self.z_scores(features, self.coef)
            if len(z) < len(self.coef):
                return None
            return sigmoid(self.intercept + sum(self.coef[n] * z[n] for n in self.coef))
        index = self.arousal_index(features)
        if index is None:
            return None
        return sigmoid(1.7 * (index / self.index_sd - REST_THRESHOLD))

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "method": self.method,
            "features": list(self.features),
            "min_quality": self.min_quality,
            "baseline_source": self.baseline_source,
            "baseline": {"mean": self.mean, "sd": self.sd} if self.mean else None,
            "coef": self.coef,
            "intercept": self.intercept,
            "index_sd": self.index_sd,
            "rest_threshold": REST_THRESHOLD,
            "log_features": sorted(LOG_FEATURES & set(self.mean)),
            "n_rest": self.n_rest,
            "n_stress": self.n_stress,
            "notes": self.notes,
            "models": self.models,
            "warnings": self.warnings,
            "changes": self.changes,
            "not_separated": self.not_separated,
            "rest_reference": self.rest_reference,
        }

    @classmethod
    def from_dict(cls, doc: Mapping, where: str = "model") -> AffectClassifier:
        if not isinstance(doc, Mapping) or doc.get("format") != FORMAT:
            raise LabmrtError(
                f"not a {FORMAT} file",
                where=where,
                fix="use a file written by labmrt sensors train",
            )
        if doc.get("version") != VERSION:
            raise LabmrtError(
                f"model version {doc.get('version')!r}, this labmrt reads version {VERSION}",
                where=where,
            )
        method = doc.get("method")
        if method not in ("logistic", "rest_threshold"):
            raise LabmrtError(f"unknown method {method!r}", where=where)
        try:
            base = doc.get("baseline") or {}
            clf = cls(
                features=tuple(str(f) for f in doc["features"]),
                min_quality=float(doc.get("min_quality", DEFAULT_MIN_QUALITY)),
                method=method,
                baseline_source=str(doc.get("baseline_source", "participant")),
                mean={str(k): float(v) for k, v in (base.get("mean") or {}).items()},
                sd={str(k): float(v) for k, v in (base.get("sd") or {}).items()},
                coef={str(k): float(v) for k, v in (doc.get("coef") or {}).items()},
                intercept=float(doc.get("intercept", 0.0)),
                index_sd=float(doc.get("index_sd", 1.0)),
                n_rest=int(doc.get("n_rest", 0)),
                n_stress=int(doc.get("n_stress", 0)),
                notes=[str(n) for n in doc.get("notes", [])],
                models={str(k): dict(v) for k, v in (doc.get("models") or {}).items()},
                warnings=[str(n) for n in doc.get("warnings", [])],
                changes={str(k): float(v) for k, v in (doc.get("changes") or {}).items()},
                not_separated=str(doc.get("not_separated", "rest_reference")),
                rest_reference={
                    str(k): {
                        "features": [str(f) for f in v["features"]],
                        "index_sd": float(v["index_sd"]),
                        "n_rest": int(v.get("n_rest", 0)),
                    }
                    for k, v in (doc.get("rest_reference") or {}).items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise LabmrtError(f"malformed model: {err}", where=where) from None
        numbers = [*clf.mean.values(), *clf.sd.values(), *clf.coef.values(), clf.intercept]
        numbers += [m["index_sd"] for m in clf.rest_reference.values()]
        if clf.not_separated not in NOT_SEPARATED_CHOICES:
            raise LabmrtError(
                f"not_separated {clf.not_separated!r} is not one of "
                f"{', '.join(NOT_SEPARATED_CHOICES)}",
                where=where,
            )
        if not all(math.isfinite(v) for v in numbers) or any(s <= 0 for s in clf.sd.values()):
            raise LabmrtError("the model holds non-finite numbers or SDs <= 0", where=where)
        referenced = {f for m in clf.rest_reference.values() for f in m["features"]}
        if (
            set(clf.mean) != set(clf.sd)
            or (method == "logistic" and not clf.coef)
            or not referenced <= set(clf.mean)
        ):
            raise LabmrtError(
                "the model's baseline, coefficients or rest reference are incomplete", where=where
            )
        return clf

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> AffectClassifier:
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LabmrtError("model file does not exist", where=str(path)) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise LabmrtError(f"cannot read the model: {err}", where=str(path)) from None
        return cls.from_dict(doc, where=str(path))
