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

A plan written before data collection also states what it tests
(:mod:`labmrt.analysis.hypotheses`): ``protocol`` names the study protocol
the plan is checked against, ``[[hypotheses]]`` the hypotheses (each an
outcome, a contrast, the effect at one moderator level or the marginal
effect, a direction and a role; or a distal outcome with ``method = "dcee"``,
or with a ``mediator`` and ``effect = "direct"`` / ``"indirect"`` its natural
direct or indirect excursion effect through that proximal outcome),
``alpha`` and ``multiplicity`` the inference
criteria of the primary family, ``[robustness]`` the pre-registered checks,
and ``stopping_rule`` / ``exclusions`` what the pre-registration document
states about them. The top-level analysis options are every hypothesis's
defaults (controls, availability, small-sample correction, ...).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labmrt.analysis.options import DISTAL_METHODS, AnalysisOptions, Method
from labmrt.errors import LabmrtError, Problem, loc_text

Direction = Literal[">0", "<0", "!=0"]
Role = Literal["primary", "secondary", "exploratory"]
# statsmodels.stats.multitest.multipletests methods offered for the primary family.
MULTIPLICITY = ("holm", "bonferroni", "hommel", "fdr_bh", "none")


class Hypothesis(BaseModel):
    """One pre-registered hypothesis: the effect of ``contrast`` on ``outcome``.

    The effect is the marginal one (no ``moderator``), the effect at
    ``moderator = level``, or with ``versus`` the difference between the
    effects at ``level`` and at ``versus``. ``direction``: ``>0``, ``<0``
    (one-sided tests) or ``!=0`` (two-sided). ``method`` defaults to the plan's,
    and to ``mcee`` with a ``mediator``. A distal hypothesis (``method =
    "dcee"``) is about the marginal distal excursion effect on a distal
    ``outcome``; a mediated one (``mediator``, a proximal outcome) about its
    natural direct or indirect excursion effect (``effect``), as MRTAnalysis
    ``dcee()`` / ``mcee()`` estimate them.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    text: str = Field(min_length=1)
    outcome: str
    contrast: str
    moderator: str | None = None
    level: str | float | None = None
    versus: str | float | None = None
    direction: Direction = "!=0"
    role: Role = "primary"
    alpha: float | None = Field(default=None, gt=0, lt=1)
    method: Method | None = None
    mediator: str | None = None
    effect: Literal["direct", "indirect"] | None = None

    def method_of(self, plan_method: str) -> str:
        """The estimator: the hypothesis's own, mcee with a mediator, else the plan's."""
        return self.method or ("mcee" if self.mediator else plan_method)

    def is_distal(self, plan_method: str) -> bool:
        return self.method_of(plan_method) in DISTAL_METHODS

    def effect_label(self) -> str:
        if self.mediator is not None:
            if self.effect == "direct":
                return f"natural direct excursion effect (not through {self.mediator})"
            return f"natural indirect excursion effect (through {self.mediator})"
        if self.method == "dcee":
            return "distal excursion effect"
        if self.moderator is None:
            return "marginal effect"
        if self.versus is not None:
            return f"effect at {self.moderator} = {self.level} minus at {self.moderator} = {self.versus}"
        return f"effect at {self.moderator} = {self.level}"


class PlanRobustness(BaseModel):
    """Pre-registered robustness checks of the hypotheses (phase 7).

    ``draws`` re-drawn analyses (seeded, so the report is reproducible) for
    ``hypotheses`` (default: the primary ones); ``alternative_outcomes``
    (hypothesis outcome -> other outcomes), ``subsets`` (pandas queries) and
    ``per_protocol`` re-run each of them.
    """

    model_config = ConfigDict(extra="forbid")

    draws: int = Field(default=5000, ge=0)
    seed: int = Field(default=0, ge=0)
    hypotheses: list[str] | None = None
    alternative_outcomes: dict[str, list[str]] = Field(default_factory=dict)
    subsets: list[str] = Field(default_factory=list)
    per_protocol: bool = False


class AnalysisPlan(AnalysisOptions):
    """Every option of ``labmrt analyze`` (:class:`~labmrt.analysis.options.AnalysisOptions`),
    the data it reads and what the plan tests."""

    data: str | None = None
    outcome: str

    # What the plan tests (pre-registration); see the module docstring.
    protocol: str | None = None
    alpha: float = Field(default=0.05, gt=0, lt=1)
    multiplicity: Literal["holm", "bonferroni", "hommel", "fdr_bh", "none"] = "holm"
    hypotheses: list[Hypothesis] = Field(default_factory=list)
    robustness: PlanRobustness | None = None
    stopping_rule: str = ""
    exclusions: str = ""

    # Where the plan was read from: ``data`` is relative to it.
    source: str | None = Field(default=None, exclude=True)

    def data_path(self) -> Path | None:
        if self.data is None:
            return None
        path = Path(self.data)
        if not path.is_absolute() and self.source:
            path = Path(self.source).parent / path
        return path

    def protocol_path(self) -> Path | None:
        """The protocol the plan names, relative to the plan file."""
        if self.protocol is None:
            return None
        path = Path(self.protocol)
        if not path.is_absolute() and self.source:
            path = Path(self.source).parent / path
        return path

    def hypothesis(self, hid: str) -> Hypothesis:
        return next(h for h in self.hypotheses if h.id == hid)


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
            loc = loc_text(e["loc"])
            if e["type"] == "extra_forbidden":
                problems.append(
                    Problem(f"{where}: {loc}", "unknown key", f"keys: {_keys_at(e['loc'])}")
                )
            else:
                problems.append(Problem(f"{where}: {loc}", e["msg"]))
        raise LabmrtError(problems) from None
    plan.source = source
    problems = _plan_rules(plan, where)
    if problems:
        raise LabmrtError(problems)
    return plan


def _keys_at(loc: tuple) -> str:
    model: type[BaseModel] = AnalysisPlan
    if loc and loc[0] == "hypotheses":
        model = Hypothesis
    elif loc and loc[0] == "robustness":
        model = PlanRobustness
    return ", ".join(k for k in model.model_fields if k != "source")


def _plan_rules(plan: AnalysisPlan, where: str) -> list[Problem]:
    """Rules across the hypotheses that need no protocol (ids, levels, families)."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, h in enumerate(plan.hypotheses, start=1):
        at = f"{where}: hypotheses[{i}]"
        if h.id in seen:
            problems.append(Problem(f"{at}.id", f"{h.id!r} is used twice", "give each its own id"))
        seen.add(h.id)
        if h.moderator is not None and h.level is None:
            problems.append(
                Problem(
                    f"{at}.level",
                    f"missing: moderator {h.moderator!r} needs the level the effect is taken at",
                    "add level = ..., or leave out moderator for the marginal effect",
                )
            )
        if h.moderator is None and (h.level is not None or h.versus is not None):
            problems.append(
                Problem(
                    f"{at}.moderator",
                    "missing: level is given without a moderator",
                    "name the moderator, or leave out level for the marginal effect",
                )
            )
        if h.versus is not None and h.versus == h.level:
            problems.append(Problem(f"{at}.versus", "equals level", "compare two different levels"))
        problems += _distal_rules(plan, h, at)
    primary = [h for h in plan.hypotheses if h.role == "primary"]
    alphas = sorted(
        {h.alpha for h in primary if h.alpha is not None}
        | ({plan.alpha} if any(h.alpha is None for h in primary) else set())
    )
    if plan.multiplicity != "none" and len(alphas) > 1:
        problems.append(
            Problem(
                f"{where}: hypotheses",
                "the primary hypotheses have different alphas ("
                + ", ".join(f"{a:g}" for a in alphas)
                + f") but are adjusted together ({plan.multiplicity})",
                "give the primary family one alpha (the plan's alpha)",
            )
        )
    if plan.robustness is not None:
        distal = {h.id for h in plan.hypotheses if h.is_distal(plan.method)}
        for j, hid in enumerate(plan.robustness.hypotheses or [], start=1):
            if hid not in seen:
                problems.append(
                    Problem(
                        f"{where}: robustness.hypotheses[{j}]",
                        f"no hypothesis {hid!r}",
                        "use one of: " + (", ".join(h.id for h in plan.hypotheses) or "none"),
                    )
                )
            elif hid in distal:
                problems.append(
                    Problem(
                        f"{where}: robustness.hypotheses[{j}]",
                        f"{hid!r} is a distal hypothesis: the re-drawn, subset and "
                        "per-protocol checks re-run proximal (WCLS/EMEE) analyses, and a distal "
                        "outcome depends on every decision point",
                        "list proximal hypotheses only",
                    )
                )
        for name in plan.robustness.alternative_outcomes:
            if name not in {h.outcome for h in plan.hypotheses}:
                problems.append(
                    Problem(
                        f"{where}: robustness.alternative_outcomes.{name}",
                        "is not the outcome of any hypothesis",
                        "key the alternatives by a hypothesis's outcome",
                    )
                )
    return problems


def _distal_rules(plan: AnalysisPlan, h: Hypothesis, at: str) -> list[Problem]:
    """A distal or mediated hypothesis: its method, effect and no moderator."""
    problems = []
    if h.mediator is not None and h.method not in (None, "mcee"):
        problems.append(
            Problem(
                f"{at}.method",
                f"is {h.method!r}, but a hypothesis with a mediator is tested by mcee",
                'write method = "mcee" or leave method out',
            )
        )
    if h.mediator is not None and h.effect is None:
        problems.append(
            Problem(
                f"{at}.effect",
                "missing: a mediated hypothesis is about its direct or its indirect effect",
                'add effect = "indirect" (through the mediator) or effect = "direct"',
            )
        )
    if h.effect is not None and h.mediator is None:
        problems.append(
            Problem(
                f"{at}.mediator",
                "missing: effect is given without a mediator",
                "name the proximal outcome the effect runs through: mediator = ...",
            )
        )
    if h.method_of(plan.method) == "mcee" and h.mediator is None:
        problems.append(
            Problem(f"{at}.mediator", "missing: mcee needs a mediator", "name it: mediator = ...")
        )
    if h.is_distal(plan.method) and h.moderator is not None:
        problems.append(
            Problem(
                f"{at}.moderator",
                "a distal or mediated hypothesis is about the marginal effect",
                "leave out moderator (and level / versus)",
            )
        )
    return problems


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
    if plan.method in DISTAL_METHODS:
        from labmrt.analysis.distal_plan import fit_distal

        return fit_distal(plan, data)
    fn = emee if plan.method == "emee" else wcls
    return fn(data, **plan.call_kwargs())
