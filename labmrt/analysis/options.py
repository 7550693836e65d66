"""The options of one analysis: the single model behind every way of asking for one.

``labmrt analyze`` (its flags), an analysis plan (:class:`~labmrt.analysis.spec.AnalysisPlan`
extends this with the data and what the plan tests), the robustness checks
(:mod:`labmrt.analysis.robustness`) and each simulated study of a power
simulation (the ``[analysis]`` table of an effects file, :mod:`labmrt.effects`)
all read these fields, so an option means the same wherever it is written.
Field names are the keyword arguments of :func:`labmrt.analysis.wcls` /
``emee`` (``prob`` is their ``rand_prob``); unknown keys are errors, because a
typo must not silently change the analysis. ``method = "dcee"`` / ``"mcee"``
makes ``outcome`` a distal outcome and adds the options of the distal analyses
(``mediator``, ``learner``, ``effect_form``, ``weights``:
:mod:`labmrt.analysis.distal_plan`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SmallSample = Literal["auto", "always", "never"]
Method = Literal["wcls", "emee", "dcee", "mcee"]
#: The methods whose outcome is a distal outcome (one value per participant).
DISTAL_METHODS = ("dcee", "mcee")


class AnalysisOptions(BaseModel):
    """Every option of ``labmrt analyze``; see the module docstring."""

    model_config = ConfigDict(extra="forbid")

    method: Method = "wcls"
    id: str = "participant"
    decision_point: str | None = None
    outcome: str | None = None
    treatment: str | None = None
    prob: float | str | None = None
    contrast: str | None = None
    baseline: str | None = None
    arm: str = "arm"
    moderators: list[str] = Field(default_factory=list)
    controls: list[str] = Field(default_factory=list)
    availability: str | None = None
    numerator_prob: float | str | None = None
    per_protocol: bool = False
    received: str = "received"
    treatment_lags: list[int] = Field(default_factory=list)
    outcome_delay: int = 0
    small_sample: SmallSample | None = None  # None: the estimator's default
    conf_level: float = 0.95
    lincomb: list[list[float]] = Field(default_factory=list)
    # The distal analyses (dcee, mcee) only.
    mediator: str | None = None
    learner: str | None = None  # None: mcee's glm; dcee has no default (MRTAnalysis's gam)
    effect_form: list[str] = Field(default_factory=list)
    weights: str | None = None

    def call_kwargs(self) -> dict:
        """Keyword arguments of :func:`labmrt.analysis.wcls` / ``emee``."""
        kw = dict(
            id=self.id,
            outcome=self.outcome,
            treatment=self.treatment,
            rand_prob=self.prob,
            moderators=list(self.moderators),
            controls=list(self.controls),
            availability=self.availability,
            numerator_prob=self.numerator_prob,
            decision_point=self.decision_point,
            contrast=self.contrast,
            baseline=self.baseline,
            arm=self.arm,
            per_protocol=self.per_protocol,
            received=self.received,
            treatment_lags=list(self.treatment_lags),
            outcome_delay=self.outcome_delay,
            conf_level=self.conf_level,
        )
        if self.small_sample is not None:
            kw["small_sample"] = self.small_sample
        return kw
