"""The protocol: the frozen, validated description of one micro-randomized trial.

A protocol file (TOML, read with the standard library) says what the
participant does (tasks and the information-system features they may use),
what is randomized (the arms, i.e. framings, and their probabilities, possibly
per affective state), when (decision rules, availability), what is measured
(proximal outcomes, moderators, controls) and how the session starts
(calibration, sensors). The documentation's protocol guide
(``docs/guides/protocols.md``) and file-format reference describe it key by key.

Everything recorded with a protocol carries its :attr:`Protocol.content_hash`:
the sha256 of a canonical JSON form of the *parsed and normalized* content
(tasks read from a CSV file are included by content, file paths are not), so
the hash survives re-indenting, comments and key order but changes with any
change that could change the study. That is what ties data to the exact
pre-registered protocol.

Validation happens in three layers and every layer reports all it finds:
bytes/TOML/CSV (:mod:`labmrt.protocol.files`), structure and types (pydantic), and the
study rules that span fields (:mod:`labmrt.protocol.rules`), e.g.
exactly one baseline arm or every probability set summing to 1.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
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
    model_serializer,
    model_validator,
)

from labmrt.errors import LabmrtError
from labmrt.protocol.errors import (
    ProtocolInvalid,
    issues_from_validation_error,
    to_problems,
)
from labmrt.protocol.rules import (  # re-exported: part of this module's public API
    AFFECT_CONTEXT,
    SUM_TOLERANCE,
    TASK_PLACEHOLDER,
    study_rule_issues,
)

__all__ = [
    "AFFECT_CONTEXT",
    "FEATURE_KINDS",
    "STREAM_KINDS",
    "SUM_TOLERANCE",
    "TASK_PLACEHOLDER",
    "Arm",
    "Calibration",
    "ComparisonTable",
    "Control",
    "DecisionRules",
    "Feature",
    "Outcome",
    "ProbabilityLookup",
    "Protocol",
    "Randomization",
    "Sensors",
    "Study",
    "Task",
]

FEATURE_KINDS = ("help", "hint", "calculator", "notes", "comparison_table", "search", "other")
STREAM_KINDS = ("ecg", "ppg", "eda", "ibi", "hr")


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


class Recording(_Model):
    """``[recording]``: LabRecorder started and stopped with each session over its remote
    control socket. How this lab records, not what the study is: not in the content hash."""

    labrecorder: str | None = None
    streams: list[Text] = Field(default_factory=list)
    root: str = ""
    check_root: str = ""
    modality: Identifier = "eeg"

    @field_validator("labrecorder")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        match = re.fullmatch(r"[^\s:]+(:(\d{1,5}))?", value or "")
        if value is not None and (match is None or int(match.group(2) or 1) > 65535):
            raise ValueError(f"{value!r} is not host:port (e.g. localhost:22345)")
        return value


class SensorPin(_Model):
    """The stream and channel that carry one signal, named by the lab.

    Normally the channel is chosen from each stream's channel metadata
    (``sensors.acquire.channels``); a pin overrides that for one kind. ``stream``:
    the stream name as ``labmrt sensors list`` shows it (case-insensitive);
    ``channel``: the channel label (or its index, for a stream without
    labels); ``unit``: overrides the channel's unit; ``device`` and
    ``resolution_bits``: the transfer function for raw ADC values. Whether
    the stream, channel and unit exist is checked when the monitor starts,
    against the streams on the network.
    """

    stream: Text
    channel: Text
    unit: Text | None = None
    device: Literal["bitalino"] | None = None
    resolution_bits: Annotated[int, Field(ge=1, le=24)] | None = None


class Sensors(_Model):
    """Physiology the session expects and how states are classified.

    ``streams``: the kinds expected: waveforms ``ecg``, ``ppg``, ``eda``, or
    beat-level ``ibi`` (beat-to-beat intervals) and ``hr`` (heart rate only).
    ``classifier``: ``"calibration"`` (fit on this participant's calibration)
    or the path of a trained model file, relative to the protocol file; the
    model's sha256 is part of the content hash. ``pins``: kind -> the stream
    and channel to read it from (:class:`SensorPin`); left out of the content
    when empty, so protocols without pins keep their hash.
    ``state_features``: the live features a calibrated state uses,
    ``"sustained"`` (tonic skin-conductance level, carried ahead along its
    fall: holds through minutes-long stressors, back to calm within half a
    minute) or ``"responsive"`` (its rise above the last two minutes' lowest
    level: back to calm within seconds, calls a plateaued stressor calm).
    ``not_separated``: what a participant whose calibration did not separate
    rest from stressor gets: ``"rest_reference"`` (states from a departure
    from their own rest, marked as such) or ``"unknown"``. Both are left out
    of the content at their defaults.
    """

    streams: list[Literal["ecg", "ppg", "eda", "ibi", "hr"]] = Field(
        default_factory=lambda: ["ecg", "eda"]
    )
    classifier: Text = "calibration"
    window_s: Annotated[float, Field(gt=0.0)] = 30.0
    classifier_sha256: str | None = Field(default=None, exclude=False)
    pins: dict[Literal["ecg", "ppg", "eda", "ibi", "hr"], SensorPin] = Field(default_factory=dict)
    state_features: Literal["sustained", "responsive"] = "sustained"
    not_separated: Literal["rest_reference", "unknown"] = "rest_reference"

    @model_serializer(mode="wrap")
    def _drop_defaults(self, handler):
        data = handler(self)
        if isinstance(data, dict):
            if not data.get("pins"):
                data.pop("pins", None)
            if data.get("state_features") == "sustained":
                data.pop("state_features", None)
            if data.get("not_separated") == "rest_reference":
                data.pop("not_separated", None)
        return data


# --------------------------------------------------------------------------- protocol
@dataclass(frozen=True)
class ProbabilityLookup:
    """Probabilities for one context, and which table row produced them."""

    probabilities: dict[str, float]
    table_key: str | None  # None with constant probabilities
    context_value: str | None
    fell_back: bool


class Protocol(_Model):
    """A validated study protocol (immutable). Build it with :func:`~labmrt.protocol.load.load_protocol`."""

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
    # How this lab records beside labmrt: not content, so not hashed.
    recording: Recording | None = Field(default=None, exclude=True)
    # Where it was read from: not content, so not hashed.
    tasks_file: str | None = Field(default=None, exclude=True)
    source_path: Path | None = Field(default=None, exclude=True)

    # ------------------------------------------------------------------ study rules
    @model_validator(mode="after")
    def _check_study_rules(self) -> Protocol:
        issues = list(study_rule_issues(self))
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

    @classmethod
    def from_canonical_json(cls, text: str) -> Protocol:
        """Rebuild the protocol a session stored (its :attr:`canonical_json`).

        The result has the same content hash, so a study folder is
        self-contained: export and analysis need not find the original file.
        """
        try:
            return cls.model_validate_json(text)
        except ValidationError as err:
            issues = issues_from_validation_error(err, cls)
            raise LabmrtError(to_problems(issues, "stored protocol")) from None
        except ProtocolInvalid as err:
            raise LabmrtError(to_problems(err.issues, "stored protocol")) from None

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
                + (
                    f" ({self.sensors.state_features} features"
                    + (
                        "; not separated: unknown"
                        if self.sensors.not_separated == "unknown"
                        else ""
                    )
                    + ")"
                    if self.sensors.classifier == "calibration"
                    else ""
                )
            )
        if self.moderators:
            lines.append("  moderators: " + ", ".join(self.moderators))
        if self.controls:
            lines.append("  controls: " + ", ".join(self.controls))
        return "\n".join(lines)


def _probs_text(probs: Mapping[str, float]) -> str:
    return "  ".join(f"{a}={p:.4g}" for a, p in probs.items())
