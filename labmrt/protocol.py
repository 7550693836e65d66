"""The protocol: the frozen, validated description of one micro-randomized trial.

A protocol file (TOML, read with the standard library) says what the
participant does (tasks and the information-system features they may use),
what is randomized (the arms, i.e. framings, and their probabilities, possibly
per affective state), when (decision rules, availability), what is measured
(proximal outcomes, moderators, controls) and how the session starts
(calibration, sensors). The README's "Protocol files" section documents the
format field by field.

Everything recorded with a protocol carries its :attr:`Protocol.content_hash`:
the sha256 of a canonical JSON form of the *parsed and normalized* content
(tasks read from a CSV file are included by content, file paths are not), so
the hash survives re-indenting, comments and key order but changes with any
change that could change the study. That is what ties data to the exact
pre-registered protocol.

Validation happens in three layers and every layer reports all it finds:
bytes/TOML (:func:`load_protocol`), structure and types (pydantic), and the
study rules that span fields (:meth:`Protocol._check_study_rules`), e.g.
exactly one baseline arm or every probability set summing to 1.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from labmrt.errors import LabmrtError, Problem
from labmrt.protocol_errors import (
    Issue,
    ProtocolInvalid,
    TaskRows,
    did_you_mean,
    issues_from_validation_error,
    to_problems,
)
from labmrt.state import STATE_LABELS

#: Tolerance for "each probability set sums to 1".
SUM_TOLERANCE = 1e-9
#: The placeholder in an arm's framing template that the task text replaces.
TASK_PLACEHOLDER = "{task}"
#: Context variable whose values are the classifier's labels (calm/aroused/unknown).
AFFECT_CONTEXT = "affect_state"

FEATURE_KINDS = ("help", "hint", "calculator", "notes", "comparison_table", "search", "other")
STREAM_KINDS = ("ecg", "ppg", "eda")


def _fraction(value: Any) -> Any:
    """Probabilities may be written as exact fractions in quotes, e.g. ``"1/3"``."""
    if isinstance(value, bool):
        raise ValueError(f'must be a number, got {value!r} || write e.g. 0.25 or "1/3"')
    if isinstance(value, str):
        try:
            return float(Fraction(value.replace(" ", "")))
        except (ValueError, ZeroDivisionError):
            raise ValueError(
                f"{value!r} is not a probability || write a number such as 0.25 or a fraction "
                'in quotes such as "1/3"'
            ) from None
    return value


Identifier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=64)]
Probability = Annotated[float, BeforeValidator(_fraction), Field(gt=0.0, lt=1.0)]
Text = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, allow_inf_nan=False)


def _no_str_coercion(value: Any, what: str) -> Any:
    """TOML is typed: refuse numbers written as text rather than guessing."""
    if isinstance(value, str):
        raise ValueError(f"must be {what}, got text {value!r} || write it without quotes")
    return value


# --------------------------------------------------------------------------- parts
class Study(_Model):
    """Who ran what: shown in every export and the summary."""

    title: Text
    version: Text
    preregistration: str = ""
    description: str = ""

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, v: Any) -> Any:
        # `version = 1.0` is a common slip; keep it readable instead of failing.
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


class Arm(_Model):
    """A treatment option: a framing of the task. ``framing`` holds ``{task}``.

    ``framing = None`` means per-task wording: every task then gives the
    complete text for this arm in its ``framings`` table.
    """

    id: Identifier
    label: Text
    framing: str | None = None
    baseline: bool = False


class Randomization(_Model):
    """Constant ``probabilities`` per arm, or a ``table`` per value of ``context``.

    With a table, the row for the observed context value is used; a value that
    is missing or has no row uses the ``fallback`` row (``unknown`` by default),
    and the decision records which row was used.
    """

    seed: Annotated[int, Field(ge=0, lt=2**63)]
    probabilities: dict[str, Probability] | None = None
    context: Identifier | None = None
    table: dict[str, dict[str, Probability]] | None = None
    fallback: str = "unknown"

    @field_validator("seed", mode="before")
    @classmethod
    def _seed_int(cls, v: Any) -> Any:
        if isinstance(v, float | str | bool):
            raise ValueError(
                f"must be a whole number, got {v!r} || write an integer such as 20240917"
            )
        return v


class DecisionRules(_Model):
    """Which tasks are decision points and when a participant is unavailable.

    ``select``: ``all`` tasks, ``every_k`` (tasks ``start_task``,
    ``start_task + every_k``, ... counted from 1) or a ``list`` of task ids.
    Unavailable (no draw, logged with I=0): ``require_signal`` and no valid
    physiological signal; signal quality below ``min_quality``; on a break
    when ``break_unavailable``.
    """

    select: Literal["all", "every_k", "list"] = "all"
    every_k: Annotated[int, Field(ge=1)] = 1
    start_task: Annotated[int, Field(ge=1)] = 1
    task_ids: list[str] = Field(default_factory=list)
    min_spacing_s: Annotated[float, Field(ge=0.0)] = 0.0
    require_signal: bool = False
    min_quality: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    break_unavailable: bool = True


class ComparisonTable(_Model):
    """Data for a comparison-table feature: header row and one row per offer."""

    columns: list[Text] = Field(min_length=1)
    rows: list[list[str | float | int | bool]] = Field(min_length=1)


class Task(_Model):
    """One task of the session.

    ``features``: ids of the features offered (``None``: all features).
    ``question``/``answer_kind``/``choices``/``correct`` describe the answer
    the participant gives (``correct`` scores satisfactory completion).
    ``hint``/``help`` override the feature's text for this task; ``table`` feeds
    a comparison-table feature; ``framings`` maps arm id to per-task wording.
    """

    id: Identifier
    text: Text
    question: str = ""
    answer_kind: Literal["text", "number", "choice"] = "text"
    choices: list[str] = Field(default_factory=list)
    correct: str | None = None
    difficulty: Annotated[float, Field(ge=0.0)] | None = None
    features: list[str] | None = None
    time_limit_s: Annotated[float, Field(gt=0.0)] | None = None
    hint: str = ""
    help: str = ""
    table: ComparisonTable | None = None
    framings: dict[str, Text] = Field(default_factory=dict)

    @field_validator("table", mode="before")
    @classmethod
    def _table_from_json(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                return json.loads(v)
            except json.JSONDecodeError as err:
                raise ValueError(
                    f"is not valid JSON ({err.msg} at character {err.pos}) || write "
                    '{"columns": [...], "rows": [[...], ...]}'
                ) from None
        return v

    @field_validator("difficulty", "time_limit_s", mode="before")
    @classmethod
    def _number(cls, v: Any) -> Any:
        return _no_str_coercion(v, "a number")


class Feature(_Model):
    """An information-system feature whose use is logged."""

    id: Identifier
    label: Text
    kind: Literal["help", "hint", "calculator", "notes", "comparison_table", "search", "other"]
    content: str = ""


class Outcome(_Model):
    """A proximal outcome computed from feature-use events after each decision point.

    ``measure``: ``duration`` (seconds open), ``count`` (number of uses),
    ``any`` (1 if used at all). ``window``: ``"task"`` (until the task ends)
    or seconds after the decision point. ``transform``: ``none`` or ``log1p``.
    """

    name: Identifier
    features: list[str] = Field(min_length=1)
    measure: Literal["duration", "count", "any"]
    window: Literal["task"] | float = "task"
    transform: Literal["none", "log1p"] = "none"

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, v: Any) -> Any:
        if v == "task":
            return v
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
            raise ValueError(
                f'must be "task" or a number of seconds > 0, got {v!r} || '
                'write window = "task" or e.g. window = 60'
            )
        return float(v)

    def apply_transform(self, value: float) -> float:
        return math.log1p(value) if self.transform == "log1p" else float(value)


class Control(_Model):
    """How receipt of the framing (per-protocol) is recorded."""

    min_dwell_s: Annotated[float, Field(ge=0.0)] = 0.0
    require_confirmation: bool = False

    @property
    def mode(self) -> Literal["confirm", "dwell", "none"]:
        """``confirm`` when a click is required, else ``dwell`` when timed, else ``none``."""
        if self.require_confirmation:
            return "confirm"
        return "dwell" if self.min_dwell_s > 0 else "none"


class Calibration(_Model):
    """Calibration before the first task: rest, then an optional stressor."""

    rest_s: Annotated[float, Field(ge=0.0)] = 180.0
    stressor_s: Annotated[float, Field(ge=0.0)] = 0.0
    stressor: Literal["arithmetic", "none"] = "arithmetic"


class Sensors(_Model):
    """Physiology the session expects and how states are classified.

    ``classifier``: ``"calibration"`` (fit on this participant's calibration)
    or the path of a trained model file, relative to the protocol file; the
    model's sha256 is part of the content hash.
    """

    streams: list[Literal["ecg", "ppg", "eda"]] = Field(default_factory=lambda: ["ecg", "eda"])
    classifier: Text = "calibration"
    window_s: Annotated[float, Field(gt=0.0)] = 30.0
    classifier_sha256: str | None = Field(default=None, exclude=False)


# --------------------------------------------------------------------------- protocol
@dataclass(frozen=True)
class ProbabilityLookup:
    """Probabilities for one context, and which table row produced them."""

    probabilities: dict[str, float]
    table_key: str | None  # None with constant probabilities
    context_value: str | None
    fell_back: bool


class Protocol(_Model):
    """A validated study protocol (immutable). Build it with :func:`load_protocol`."""

    study: Study
    arms: list[Arm] = Field(min_length=2)
    randomization: Randomization
    decision_rules: DecisionRules = Field(default_factory=DecisionRules)
    features: list[Feature] = Field(default_factory=list)
    tasks: list[Task] = Field(min_length=1)
    outcomes: list[Outcome] = Field(default_factory=list)
    control: Control = Field(default_factory=Control)
    calibration: Calibration | None = None
    sensors: Sensors | None = None
    moderators: list[Identifier] = Field(default_factory=list)
    controls: list[Identifier] = Field(default_factory=list)
    # Where it was read from: not content, so not hashed.
    tasks_file: str | None = Field(default=None, exclude=True)
    source_path: Path | None = Field(default=None, exclude=True)

    # ------------------------------------------------------------------ study rules
    @model_validator(mode="after")
    def _check_study_rules(self) -> Protocol:
        issues = list(_study_rule_issues(self))
        if issues:
            raise ProtocolInvalid(issues)
        return self

    # ------------------------------------------------------------------ identity
    @cached_property
    def canonical_json(self) -> str:
        """The canonical form that is hashed (and stored with every session)."""
        return json.dumps(
            self.model_dump(mode="json"),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )

    @cached_property
    def content_hash(self) -> str:
        """sha256 (hex) of :attr:`canonical_json`."""
        return hashlib.sha256(self.canonical_json.encode("utf-8")).hexdigest()

    @property
    def short_hash(self) -> str:
        return self.content_hash[:12]

    # ------------------------------------------------------------------ arms
    @property
    def arm_ids(self) -> list[str]:
        return [a.id for a in self.arms]

    @property
    def baseline_arm(self) -> Arm:
        return next(a for a in self.arms if a.baseline)

    def arm(self, arm_id: str) -> Arm:
        for a in self.arms:
            if a.id == arm_id:
                return a
        raise KeyError(f"no arm {arm_id!r}; arms are {self.arm_ids}")

    # ------------------------------------------------------------------ randomization
    @property
    def context_variable(self) -> str | None:
        """The context variable the probabilities depend on (``None``: constant)."""
        return self.randomization.context

    def lookup_probabilities(self, context: Mapping[str, Any] | None = None) -> ProbabilityLookup:
        """The probability of every arm (in arm order) for ``context``.

        With a table, ``context[randomization.context]`` selects the row; a
        missing value, ``None`` or a value without a row uses the fallback row.
        """
        r = self.randomization
        if r.table is None:
            probs = r.probabilities or {}
            return ProbabilityLookup({a: float(probs[a]) for a in self.arm_ids}, None, None, False)
        raw = (context or {}).get(r.context) if r.context else None
        value = None if raw is None else str(raw)
        key, fell_back = (value, False) if value in r.table else (r.fallback, True)
        row = r.table[key]
        return ProbabilityLookup({a: float(row[a]) for a in self.arm_ids}, key, value, fell_back)

    def probabilities(self, context: Mapping[str, Any] | None = None) -> dict[str, float]:
        """``{arm_id: p}`` in arm order for ``context`` (see :meth:`lookup_probabilities`)."""
        return self.lookup_probabilities(context).probabilities

    # ------------------------------------------------------------------ tasks
    def feature(self, feature_id: str) -> Feature:
        for f in self.features:
            if f.id == feature_id:
                return f
        raise KeyError(f"no feature {feature_id!r}")

    def task_features(self, task: Task | int) -> list[Feature]:
        """Features offered in a task, in protocol order."""
        t = self.tasks[task] if isinstance(task, int) else task
        offered = None if t.features is None else set(t.features)
        return [f for f in self.features if offered is None or f.id in offered]

    def framed_text(self, task: Task | int, arm_id: str) -> str:
        """The task as the participant sees it under ``arm_id``."""
        t = self.tasks[task] if isinstance(task, int) else task
        if arm_id in t.framings:
            return t.framings[arm_id].replace(TASK_PLACEHOLDER, t.text)
        template = self.arm(arm_id).framing
        if template is None:  # excluded by validation; kept for direct construction
            raise KeyError(f"task {t.id} has no wording for arm {arm_id}")
        return template.replace(TASK_PLACEHOLDER, t.text)

    def decision_task_indices(self) -> list[int]:
        """0-based indices of the tasks that are decision points, in order."""
        rules = self.decision_rules
        n = len(self.tasks)
        if rules.select == "all":
            return list(range(n))
        if rules.select == "every_k":
            return list(range(rules.start_task - 1, n, rules.every_k))
        wanted = set(rules.task_ids)
        return [i for i, t in enumerate(self.tasks) if t.id in wanted]

    # ------------------------------------------------------------------ files
    def classifier_path(self) -> Path | None:
        """Resolved path of the trained model file, when the protocol names one."""
        if self.sensors is None or self.sensors.classifier == "calibration":
            return None
        path = Path(self.sensors.classifier)
        if not path.is_absolute() and self.source_path is not None:
            path = self.source_path.parent / path
        return path

    # ------------------------------------------------------------------ summary
    def summary_text(self) -> str:
        """A readable summary for ``labmrt validate`` and the study set-up screen."""
        s = self.study
        lines = [f"{s.title}  (version {s.version})"]
        if s.preregistration:
            lines.append(f"  preregistration: {s.preregistration}")
        lines.append(f"  content hash: {self.content_hash}")
        lines.append(f"  arms ({len(self.arms)}):")
        width = max(len(a.id) for a in self.arms)
        for a in self.arms:
            tag = "  [baseline]" if a.baseline else ""
            lines.append(f"    {a.id:<{width}}  {a.label}{tag}")
        r = self.randomization
        lines.append(f"  randomization (seed {r.seed}):")
        if r.table is None:
            lines.append("    always: " + _probs_text(self.probabilities()))
        else:
            lines.append(f"    by {r.context} (fallback row: {r.fallback}):")
            kw = max(len(k) for k in r.table)
            for key in r.table:
                probs = self.probabilities({r.context: key})
                lines.append(f"    {key:<{kw}}  {_probs_text(probs)}")
        decisions = self.decision_task_indices()
        rules = self.decision_rules
        which = {
            "all": "every task",
            "every_k": f"every {rules.every_k} task(s) from task {rules.start_task}",
            "list": "listed tasks",
        }[rules.select]
        lines.append(
            f"  tasks: {len(self.tasks)}; decision points: {len(decisions)} ({which}; "
            f"min spacing {rules.min_spacing_s:g} s)"
        )
        unavailable = []
        if rules.require_signal:
            unavailable.append("no valid signal")
        if rules.min_quality is not None:
            unavailable.append(f"signal quality < {rules.min_quality:g}")
        if rules.break_unavailable:
            unavailable.append("on a break")
        lines.append("  unavailable when: " + (", ".join(unavailable) or "never"))
        if self.features:
            lines.append("  features: " + ", ".join(f"{f.id} ({f.kind})" for f in self.features))
        lines.append(f"  outcomes ({len(self.outcomes)}):")
        for o in self.outcomes:
            window = "during the task" if o.window == "task" else f"{o.window:g} s after"
            tr = "" if o.transform == "none" else f", {o.transform}"
            lines.append(f"    {o.name}: {o.measure} of {'+'.join(o.features)} {window}{tr}")
        c = self.control
        lines.append(
            f"  receipt: {c.mode}"
            + (f" (min dwell {c.min_dwell_s:g} s)" if c.min_dwell_s > 0 else "")
        )
        if self.calibration is None:
            lines.append("  calibration: none")
        else:
            cal = self.calibration
            text = f"  calibration: {cal.rest_s:g} s rest"
            if cal.stressor_s > 0:
                text += f" + {cal.stressor_s:g} s {cal.stressor} stressor"
            lines.append(text)
        if self.sensors is not None:
            lines.append(
                f"  sensors: {', '.join(self.sensors.streams)}; "
                f"classifier: {self.sensors.classifier}"
            )
        if self.moderators:
            lines.append("  moderators: " + ", ".join(self.moderators))
        if self.controls:
            lines.append("  controls: " + ", ".join(self.controls))
        return "\n".join(lines)


def _probs_text(probs: Mapping[str, float]) -> str:
    return "  ".join(f"{a}={p:.4g}" for a, p in probs.items())


# --------------------------------------------------------------------------- study rules
def _duplicates(items: list[str]) -> list[tuple[int, str]]:
    seen: set[str] = set()
    out = []
    for i, item in enumerate(items):
        if item in seen:
            out.append((i, item))
        seen.add(item)
    return out


def _check_probability_set(
    probs: Mapping[str, float], arm_ids: list[str], loc: tuple
) -> list[Issue]:
    issues = []
    for key in probs:
        if key not in arm_ids:
            issues.append(Issue(loc + (key,), f"'{key}' is not an arm", did_you_mean(key, arm_ids)))
    missing = [a for a in arm_ids if a not in probs]
    if missing:
        issues.append(
            Issue(
                loc,
                "has no probability for arm(s) " + ", ".join(missing),
                "give every arm a probability strictly between 0 and 1",
            )
        )
    if not issues:
        total = math.fsum(probs.values())
        if abs(total - 1.0) > SUM_TOLERANCE:
            issues.append(
                Issue(
                    loc,
                    f"probabilities sum to {total:.12g}, not 1",
                    'make them add up to 1 (within 1e-9); write thirds as "1/3"',
                )
            )
    return issues


def _study_rule_issues(p: Protocol):  # noqa: C901 - one flat list of independent rules
    arm_ids = [a.id for a in p.arms]
    feature_ids = [f.id for f in p.features]
    task_ids = [t.id for t in p.tasks]

    # arms
    for i, dup in _duplicates(arm_ids):
        yield Issue(("arms", i, "id"), f"duplicate arm id '{dup}'", "give every arm its own id")
    baselines = [i for i, a in enumerate(p.arms) if a.baseline]
    if not baselines:
        yield Issue(
            ("arms",),
            "no baseline arm",
            "mark exactly one arm (the neutral, do-nothing wording) with baseline = true",
        )
    elif len(baselines) > 1:
        names = ", ".join(p.arms[i].id for i in baselines)
        yield Issue(
            ("arms", baselines[1], "baseline"),
            f"more than one baseline arm ({names})",
            "keep baseline = true on exactly one arm",
        )
    for i, a in enumerate(p.arms):
        if a.framing is None:
            lacking = [t.id for t in p.tasks if a.id not in t.framings]
            if lacking:
                yield Issue(
                    ("arms", i, "framing"),
                    f"arm '{a.id}' has no framing template and task(s) "
                    f"{', '.join(lacking[:5])}{' ...' if len(lacking) > 5 else ''} "
                    "give no wording for it",
                    'add framing = "... {task} ..." or a framings entry to every task',
                )
        elif TASK_PLACEHOLDER not in a.framing:
            yield Issue(
                ("arms", i, "framing"),
                "does not contain the {task} placeholder, so the task text would not be shown",
                'write e.g. framing = "Think of what you can gain. {task}"',
            )

    # randomization
    r = p.randomization
    if r.probabilities is not None and r.table is not None:
        yield Issue(
            ("randomization",),
            "has both probabilities and table",
            "use probabilities for constant randomization or context + table, not both",
        )
    elif r.probabilities is None and r.table is None:
        yield Issue(
            ("randomization",),
            "has neither probabilities nor table",
            "add probabilities = { arm = p, ... } or context = ... with [randomization.table.*]",
        )
    elif r.probabilities is not None:
        yield from _check_probability_set(
            r.probabilities, arm_ids, ("randomization", "probabilities")
        )
        if r.context is not None:
            yield Issue(
                ("randomization", "context"),
                "is set but the probabilities are constant",
                "remove context, or give a table per context value",
            )
    else:
        assert r.table is not None
        if r.context is None:
            yield Issue(
                ("randomization", "context"),
                "is required with a probability table",
                f'name the context variable, e.g. context = "{AFFECT_CONTEXT}"',
            )
        if not r.table:
            yield Issue(("randomization", "table"), "is empty", "add a row per context value")
        for key, row in r.table.items():
            yield from _check_probability_set(row, arm_ids, ("randomization", "table", key))
            if r.context == AFFECT_CONTEXT and key not in STATE_LABELS:
                yield Issue(
                    ("randomization", "table", key),
                    f"'{key}' is not an affective state",
                    did_you_mean(key, STATE_LABELS),
                )
        if r.table and r.fallback not in r.table:
            yield Issue(
                ("randomization", "fallback"),
                f"row '{r.fallback}' is not in the table, so a context value without a row "
                "could not be randomized",
                f"add [randomization.table.{r.fallback}] or set fallback to one of: "
                + ", ".join(r.table),
            )
        if r.context is not None and r.context not in p.moderators:
            yield Issue(
                ("randomization", "context"),
                f"'{r.context}' is not listed in moderators, so it would not be recorded",
                f'add "{r.context}" to moderators',
            )
        if r.context == AFFECT_CONTEXT and p.sensors is None:
            yield Issue(
                ("randomization", "context"),
                f"{AFFECT_CONTEXT} needs physiological sensors",
                "add a [sensors] table (streams and classifier)",
            )

    # features
    for i, dup in _duplicates(feature_ids):
        yield Issue(
            ("features", i, "id"), f"duplicate feature id '{dup}'", "give every feature its own id"
        )
    table_features = {f.id for f in p.features if f.kind == "comparison_table"}

    # tasks
    for i, dup in _duplicates(task_ids):
        yield Issue(("tasks", i, "id"), f"duplicate task id '{dup}'", "give every task its own id")
    for i, t in enumerate(p.tasks):
        for j, fid in enumerate(t.features or []):
            if fid not in feature_ids:
                yield Issue(
                    ("tasks", i, "features", j),
                    f"unknown feature '{fid}'",
                    did_you_mean(fid, feature_ids)
                    if feature_ids
                    else "define it under [[features]]",
                )
        for arm_id in t.framings:
            if arm_id not in arm_ids:
                yield Issue(
                    ("tasks", i, "framings", arm_id),
                    f"'{arm_id}' is not an arm",
                    did_you_mean(arm_id, arm_ids),
                )
        if t.answer_kind == "choice" and len(t.choices) < 2:
            yield Issue(
                ("tasks", i, "choices"),
                "a choice task needs at least two choices",
                "list them, or set answer_kind to text or number",
            )
        if t.correct is not None and t.answer_kind == "choice" and t.correct not in t.choices:
            yield Issue(
                ("tasks", i, "correct"),
                f"'{t.correct}' is not one of the choices",
                did_you_mean(t.correct, t.choices),
            )
        if t.correct is not None and t.answer_kind == "number":
            try:
                float(t.correct)
            except ValueError:
                yield Issue(
                    ("tasks", i, "correct"),
                    f"'{t.correct}' is not a number but answer_kind is number",
                    "write the expected number",
                )
        if t.table is not None:
            ncol = len(t.table.columns)
            for k, row in enumerate(t.table.rows):
                if len(row) != ncol:
                    yield Issue(
                        ("tasks", i, "table", "rows", k),
                        f"has {len(row)} cells but there are {ncol} columns",
                        "give every row one value per column",
                    )
        offered = set(feature_ids if t.features is None else t.features)
        if t.table is None and offered & table_features:
            yield Issue(
                ("tasks", i, "table"),
                "the task offers a comparison table but gives no table data",
                'add table = {"columns": [...], "rows": [[...], ...]}',
            )

    # decision rules
    rules = p.decision_rules
    if rules.select == "list":
        if not rules.task_ids:
            yield Issue(
                ("decision_rules", "task_ids"),
                'is empty but select = "list"',
                "list the ids of the tasks that are decision points",
            )
        for j, tid in enumerate(rules.task_ids):
            if tid not in task_ids:
                yield Issue(
                    ("decision_rules", "task_ids", j),
                    f"unknown task '{tid}'",
                    did_you_mean(tid, task_ids),
                )
        for j, dup in _duplicates(list(rules.task_ids)):
            yield Issue(("decision_rules", "task_ids", j), f"task '{dup}' is listed twice", "")
    elif rules.task_ids:
        yield Issue(
            ("decision_rules", "task_ids"),
            f'is only used with select = "list" (select is "{rules.select}")',
            'set select = "list" or remove task_ids',
        )
    if rules.select == "every_k" and rules.start_task > len(p.tasks):
        yield Issue(
            ("decision_rules", "start_task"),
            f"is {rules.start_task} but there are only {len(p.tasks)} tasks",
            "choose a task number within the session",
        )
    if (rules.require_signal or rules.min_quality is not None) and p.sensors is None:
        yield Issue(
            ("decision_rules",),
            "availability depends on the physiological signal but there is no [sensors] table",
            "add [sensors], or set require_signal = false and remove min_quality",
        )

    # outcomes
    for i, dup in _duplicates([o.name for o in p.outcomes]):
        yield Issue(
            ("outcomes", i, "name"), f"duplicate outcome '{dup}'", "give every outcome its own name"
        )
    for i, o in enumerate(p.outcomes):
        for j, fid in enumerate(o.features):
            if fid not in feature_ids:
                yield Issue(
                    ("outcomes", i, "features", j),
                    f"unknown feature '{fid}'",
                    did_you_mean(fid, feature_ids)
                    if feature_ids
                    else "define it under [[features]]",
                )
        if o.measure == "any" and o.transform != "none":
            yield Issue(
                ("outcomes", i, "transform"),
                f"{o.transform} of a 0/1 outcome (measure any) changes nothing useful",
                'use transform = "none" with measure = "any"',
            )

    # calibration and sensors
    cal = p.calibration
    if cal is not None and cal.stressor_s > 0 and cal.stressor == "none":
        yield Issue(
            ("calibration", "stressor"),
            f'is "none" but stressor_s is {cal.stressor_s:g}',
            'set stressor = "arithmetic" or stressor_s = 0',
        )
    if (
        p.sensors is not None
        and p.sensors.classifier == "calibration"
        and (cal is None or cal.rest_s <= 0)
    ):
        yield Issue(
            ("sensors", "classifier"),
            '"calibration" needs a calibration phase with rest_s > 0',
            "add [calibration] with rest_s (and stressor_s), or name a trained model file",
        )
    if p.sensors is not None:
        for j, dup in _duplicates(list(p.sensors.streams)):
            yield Issue(("sensors", "streams", j), f"stream '{dup}' is listed twice", "")

    # moderators and controls
    for name in ("moderators", "controls"):
        for j, dup in _duplicates(list(getattr(p, name))):
            yield Issue((name, j), f"'{dup}' is listed twice", "list each variable once")


# --------------------------------------------------------------------------- loading
TASK_CSV_COLUMNS = (
    "id",
    "text",
    "question",
    "answer_kind",
    "choices",
    "correct",
    "difficulty",
    "features",
    "time_limit_s",
    "hint",
    "help",
    "table",
)
FRAMING_COLUMN_PREFIX = "framing_"


def _split_list(cell: str) -> list[str]:
    """List cells in the tasks CSV are separated by ``;`` (commas are common in text)."""
    return [part.strip() for part in cell.split(";") if part.strip()]


def _csv_number(cell: str) -> Any:
    try:
        return float(cell)
    except ValueError:
        return cell  # reported by the model as "must be a number"


def read_tasks_csv(path: Path, shown: str) -> tuple[list[dict[str, Any]], TaskRows]:
    """Read the tasks CSV into task dicts; raise a located error for file-level problems.

    Columns: those of :data:`TASK_CSV_COLUMNS` plus ``framing_<arm id>`` for
    per-task wording; empty cells mean "not given". ``features`` and
    ``choices`` are ``;``-separated; ``table`` is JSON.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LabmrtError(
            Problem(shown, "tasks file not found", "check tasks_file, relative to the protocol")
        ) from None
    except IsADirectoryError:
        raise LabmrtError(
            Problem(shown, "is a folder, not a CSV file", "name the CSV file")
        ) from None
    except OSError as err:
        raise LabmrtError(Problem(shown, f"cannot be read ({err.strerror})", "")) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LabmrtError(
            Problem(shown, "is not a UTF-8 text file", "save the tasks as CSV (UTF-8)")
        ) from None
    if "\x00" in text:
        raise LabmrtError(Problem(shown, "is not a text file", "save the tasks as CSV (UTF-8)"))
    if not text.strip():
        raise LabmrtError(
            Problem(shown, "is empty", "write a header row (id,text,...) and one row per task")
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
        records = []
        for row in reader:
            records.append((reader.line_num, row))
    except csv.Error as err:
        raise LabmrtError(
            Problem(f"{shown}: line {reader.line_num}", f"is not valid CSV ({err})", "")
        ) from None
    problems = []
    for col in ("id", "text"):
        if col not in header:
            problems.append(
                Problem(f"{shown}: line 1", f"has no '{col}' column", f"add a {col} column")
            )
    for _i, dup in _duplicates(header):
        problems.append(Problem(f"{shown}: line 1", f"column '{dup}' appears twice", ""))
    for name in header:
        if name not in TASK_CSV_COLUMNS and not name.startswith(FRAMING_COLUMN_PREFIX):
            problems.append(
                Problem(
                    f"{shown}: line 1",
                    f"unknown column '{name}'",
                    did_you_mean(name, TASK_CSV_COLUMNS + ("framing_<arm id>",)),
                )
            )
    if problems:
        raise LabmrtError(problems)
    tasks: list[dict[str, Any]] = []
    lines: list[int] = []
    ids: list[str] = []
    for line, row in records:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(
                Problem(
                    f"{shown}: line {line}",
                    f"has {len(row)} cells but the header has {len(header)} columns",
                    "quote cells that contain commas",
                )
            )
            continue
        task: dict[str, Any] = {}
        framings: dict[str, str] = {}
        for name, cell in zip(header, row, strict=True):
            cell = cell.strip()
            if not cell:
                continue
            if name.startswith(FRAMING_COLUMN_PREFIX):
                framings[name[len(FRAMING_COLUMN_PREFIX) :]] = cell
            elif name in ("features", "choices"):
                task[name] = _split_list(cell)
            elif name in ("difficulty", "time_limit_s"):
                task[name] = _csv_number(cell)
            else:
                task[name] = cell
        if framings:
            task["framings"] = framings
        tasks.append(task)
        lines.append(line)
        ids.append(str(task.get("id", "")))
    if problems:
        raise LabmrtError(problems)
    if not tasks:
        raise LabmrtError(Problem(shown, "has a header but no tasks", "add one row per task"))
    return tasks, TaskRows(Path(shown), lines, ids)


def _read_toml(path: Path, shown: str) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LabmrtError(Problem(shown, "file not found", "check the path")) from None
    except IsADirectoryError:
        raise LabmrtError(
            Problem(shown, "is a folder, not a protocol file", "name a .toml file")
        ) from None
    except OSError as err:
        raise LabmrtError(Problem(shown, f"cannot be read ({err.strerror})", "")) from None
    if not data.strip():
        raise LabmrtError(
            Problem(shown, "is empty", "start from protocols/minimal.toml (see README)")
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LabmrtError(
            Problem(shown, "is not a text file (not UTF-8)", "a protocol is a TOML text file")
        ) from None
    if "\x00" in text:
        raise LabmrtError(
            Problem(
                shown, "is not a text file (contains NUL bytes)", "a protocol is a TOML text file"
            )
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        msg = str(err)
        where = shown
        if msg.endswith("(at end of document)"):
            msg = msg.removesuffix(" (at end of document)")
            raise LabmrtError(
                Problem(
                    f"{shown}: end of file",
                    f"is not valid TOML: {msg}",
                    "the file looks truncated: complete or restore it",
                )
            ) from None
        if "(at line" in msg:
            msg, _, pos = msg.partition(" (at ")
            where = f"{shown}: {pos.rstrip(')')}"
        raise LabmrtError(
            Problem(where, f"is not valid TOML: {msg}", "fix the syntax there (see README)")
        ) from None


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_protocol(path: str | Path) -> Protocol:
    """Read, validate and freeze a protocol file.

    Raises :class:`LabmrtError` listing every problem found, each as
    ``FILE: path.to.field: what (fix)``.
    """
    path = Path(path)
    shown = str(path)
    raw = _read_toml(path, shown)
    if "source_path" in raw:
        raise LabmrtError(
            Problem(f"{shown}: source_path", "unknown key 'source_path'", "remove it")
        )
    rows: TaskRows | None = None
    tasks_file = raw.get("tasks_file")
    if tasks_file is not None:
        if not isinstance(tasks_file, str) or not tasks_file:
            raise LabmrtError(
                Problem(f"{shown}: tasks_file", "must be the CSV file name as text", "quote it")
            )
        if "tasks" in raw:
            raise LabmrtError(
                Problem(
                    f"{shown}: tasks",
                    "tasks are given both inline and in tasks_file",
                    "keep one of [[tasks]] or tasks_file",
                )
            )
        csv_path = path.parent / tasks_file
        csv_shown = str(Path(shown).parent / tasks_file)
        raw = dict(raw)
        raw["tasks"], rows = read_tasks_csv(csv_path, csv_shown)
    sensors = raw.get("sensors")
    if isinstance(sensors, dict) and isinstance(sensors.get("classifier"), str):
        classifier = sensors["classifier"]
        if "classifier_sha256" in sensors:
            raise LabmrtError(
                Problem(
                    f"{shown}: sensors.classifier_sha256",
                    "is computed from the model file, not written by hand",
                    "remove it",
                )
            )
        if classifier != "calibration":
            model = Path(classifier)
            model = model if model.is_absolute() else path.parent / model
            if not model.is_file():
                raise LabmrtError(
                    Problem(
                        f"{shown}: sensors.classifier",
                        f"model file {model} not found",
                        'train one with "labmrt sensors train" or write "calibration"',
                    )
                )
            raw = dict(raw)
            raw["sensors"] = {**sensors, "classifier_sha256": _sha256_file(model)}
    try:
        return Protocol.model_validate({**raw, "source_path": path.resolve()})
    except ValidationError as err:
        issues = issues_from_validation_error(err, Protocol)
        raise LabmrtError(to_problems(issues, shown, rows)) from None
    except ProtocolInvalid as err:
        raise LabmrtError(to_problems(err.issues, shown, rows)) from None
