"""Analysis plans: one analysis written down as a small TOML file and re-run exactly.

A pre-registered plan names the data, the estimator and every option, so the
analysis can be repeated by anyone with ``labmrt analyze --plan plan.toml``.
Unknown keys are errors (a typo must not silently change the analysis).

Example::

    # plan.toml
    data = "export/decision_points.csv"   # relative to this file
    method = "wcls"                       # or "emee" (binary outcome)
    outcome = "help_seconds_log"
    contrast = "loss-vs-baseline"         # or: treatment = "A" and prob = 0.5
    moderators = ["affect_state"]
    controls = ["task_index"]
    availability = "available"
    small_sample = "auto"
    conf_level = 0.95
    lincomb = [[1, 1, 0]]
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labmrt.errors import LabmrtError, Problem


class AnalysisPlan(BaseModel):
    """Every option of ``labmrt analyze``; field names match the Python API."""

    model_config = ConfigDict(extra="forbid")

    data: str | None = None
    method: Literal["wcls", "emee"] = "wcls"
    id: str = "participant"
    decision_point: str | None = None
    outcome: str
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
    small_sample: Literal["auto", "always", "never"] | None = None
    conf_level: float = 0.95
    lincomb: list[list[float]] = Field(default_factory=list)

    # Where the plan was read from: ``data`` is relative to it.
    source: str | None = Field(default=None, exclude=True)

    def data_path(self) -> Path | None:
        if self.data is None:
            return None
        path = Path(self.data)
        if not path.is_absolute() and self.source:
            path = Path(self.source).parent / path
        return path

    def call_kwargs(self) -> dict:
        """Keyword arguments of :func:`labmrt.analysis.wcls` / ``emee``."""
        kw = dict(
            id=self.id,
            outcome=self.outcome,
            treatment=self.treatment,
            rand_prob=self.prob,
            moderators=self.moderators,
            controls=self.controls,
            availability=self.availability,
            numerator_prob=self.numerator_prob,
            decision_point=self.decision_point,
            contrast=self.contrast,
            baseline=self.baseline,
            arm=self.arm,
            per_protocol=self.per_protocol,
            received=self.received,
            treatment_lags=self.treatment_lags,
            outcome_delay=self.outcome_delay,
            conf_level=self.conf_level,
        )
        if self.small_sample is not None:
            kw["small_sample"] = self.small_sample
        return kw


def load_plan(path: str | Path) -> AnalysisPlan:
    """Read and validate a TOML analysis plan; problems name the key and the fix."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise LabmrtError(Problem(str(path), "no such file", "check the path")) from None
    except tomllib.TOMLDecodeError as err:
        raise LabmrtError(Problem(str(path), f"is not valid TOML: {err}")) from None
    return plan_from_dict(raw, source=str(path))


def plan_from_dict(raw: dict, source: str | None = None) -> AnalysisPlan:
    where = source or "analysis plan"
    try:
        plan = AnalysisPlan.model_validate(raw)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            loc = ".".join(str(p) for p in e["loc"])
            if e["type"] == "extra_forbidden":
                fields = ", ".join(k for k in AnalysisPlan.model_fields if k != "source")
                problems.append(Problem(f"{where}: {loc}", "unknown key", f"keys: {fields}"))
            else:
                problems.append(Problem(f"{where}: {loc}", e["msg"]))
        raise LabmrtError(problems) from None
    plan.source = source
    return plan


def fit_analysis(
    plan: AnalysisPlan | dict | str | Path, data: pd.DataFrame | str | Path | None = None
):
    """Run a plan (object, dict or TOML path) on ``data`` (default: the plan's ``data``)."""
    from labmrt.analysis.api import emee, wcls

    if isinstance(plan, dict):
        plan = plan_from_dict(plan)
    elif not isinstance(plan, AnalysisPlan):
        plan = load_plan(plan)
    if data is None:
        data = plan.data_path()
        if data is None:
            raise LabmrtError(
                Problem("analysis plan", "names no data", 'add data = "file.csv" or pass DATA')
            )
    fn = emee if plan.method == "emee" else wcls
    return fn(data, **plan.call_kwargs())
