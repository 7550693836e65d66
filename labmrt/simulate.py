"""Simulated studies with a known truth, run through the real session engine and store.

A simulated participant is a :class:`~labmrt.session.Presenter`: it "reads"
each framed task, may confirm it, uses the information system's features,
answers, and reports every feature use to the engine with timestamps on the
session clock. How much it uses the features of each proximal outcome
depends on the framing it received and on its true affective state, by the
effect model of an effects file (TOML, :func:`load_effect_model`); the truth is
written next to the data (``STUDY_DIR/truth.json``) so an analysis can be
checked against it.

Effect model, per outcome and decision point, with ``s`` the true state
(calm/aroused), ``a`` the arm, ``R`` = 1 when the framing was received:

* ``duration``: ``Y = baseline[s] + u_i + R * effect[a][s] + e``, ``e ~ N(0, sd)``,
  ``u_i ~ N(0, participant_sd)`` per participant. ``Y`` is on the outcome's
  analyzed scale: with ``transform = "log1p"`` the participant keeps the
  features open for ``expm1(Y)`` seconds in total, so the engine's outcome is
  ``Y`` again; with ``none`` for ``Y`` seconds (negative values become 0: keep
  the baseline several ``sd`` above 0 for an exact truth).
* ``any``: used with probability ``baseline[s] + R * effect[a][s]`` (a risk difference).
* ``count``: ``Poisson(baseline[s] + R * effect[a][s])`` opens/uses.

Receipt is independent of arm and state (probability ``receipt``), so
the intent-to-treat effect of arm ``a`` vs the baseline arm in state ``s`` is
``receipt * effect[a][s]`` exactly; truth.json lists both.

A scored task is answered correctly with the chance the effects file's
``[correct]`` gives (:mod:`labmrt.effects.answers`): a baseline, a direct
effect of the framing and an effect through one proximal outcome (the
mediator). The share of tasks answered correctly, the export's distal
outcome ``share_correct``, thus has a known natural direct and indirect
excursion effect; truth.json's ``distal`` lists them per arm and state, and
:func:`distal_truth` turns them into the estimands of ``dcee`` / ``mcee`` on
an exported table.

The state source of a fast simulation (:class:`ScriptedStateSource`) reports
the participant's scripted state (any object with ``state_at(seconds)``, e.g.
``sensors.simulate.schedule.ArousalSchedule``) with plausible features, and makes the
participant unavailable now and then: signal dropouts (no valid signal), short
stretches of low signal quality, and breaks the participant asks for.
Everything runs on a :class:`~labmrt.session.clock.VirtualClock`, so a study takes
seconds.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from labmrt.effects import (
    STATES,
    AnswerModel,
    EffectsFile,
    OutcomeModel,
    effects_from_dict,
    read_effects,
)
from labmrt.effects import load_effects as _load_effects
from labmrt.effects.answers import (
    answer_problems,
    arm_effects,
    probability,
    unidentified_because,
)
from labmrt.errors import LabmrtError, Problem
from labmrt.protocol import Protocol as StudyProtocol
from labmrt.session import SessionEngine
from labmrt.session.clock import Clock, VirtualClock
from labmrt.session.engine import FramedTask
from labmrt.session.outcomes import apply_transform
from labmrt.state import AffectState

SIM_STATES = STATES


class StateScript(Protocol):
    """The true affective state over time (seconds from the session start)."""

    def state_at(self, t: float) -> str: ...


# --------------------------------------------------------------------------- effect model
@dataclass(frozen=True)
class OutcomeEffects:
    """Baseline level and arm effects of one outcome, per state, on its analyzed scale."""

    name: str
    measure: str
    transform: str
    features: tuple[str, ...]
    window: Any
    baseline: dict[str, float]
    effects: dict[str, dict[str, float]]  # arm -> state -> effect vs the baseline arm
    sd: float = 0.5


@dataclass(frozen=True)
class EffectModel:
    """How simulated participants behave; see the module docstring and the effects file."""

    outcomes: dict[str, OutcomeEffects]
    participant_sd: float = 0.2
    receipt: float = 0.9
    correct: AnswerModel = field(default_factory=AnswerModel)
    break_prob: float = 0.03
    break_s: tuple[float, float] = (30.0, 120.0)
    dropouts_per_hour: float = 3.0
    dropout_s: tuple[float, float] = (20.0, 60.0)
    low_quality_per_hour: float = 1.5
    read_s: tuple[float, float] = (2.0, 9.0)
    work_s: tuple[float, float] = (5.0, 25.0)
    mean_state_segment_s: float = 150.0

    def truth(self, baseline_arm: str, receipt: float | None = None) -> dict[str, Any]:
        """The true effects, per outcome, arm (vs ``baseline_arm``) and state.

        ``receipt``: the share of framings received (1 when the protocol checks no receipt).
        """
        receipt = self.receipt if receipt is None else receipt
        out: dict[str, Any] = {}
        for name, o in self.outcomes.items():
            arms = {}
            for arm, by_state in o.effects.items():
                itt = {s: receipt * by_state[s] for s in SIM_STATES}
                arms[arm] = {
                    "if_received": dict(by_state),
                    "itt": itt,
                    # WCLS with an intercept and a 0/1 moderator `aroused`:
                    "wcls_itt_terms": {
                        "(Intercept)": itt["calm"],
                        "aroused": itt["aroused"] - itt["calm"],
                    },
                }
            out[name] = {
                "measure": o.measure,
                "transform": o.transform,
                "scale": _scale(o),
                "baseline_arm": baseline_arm,
                "baseline_level": dict(o.baseline),
                "exact": o.window == "task",
                "arms": arms,
            }
        return out

    def distal_truth(self, baseline_arm: str, receipt: float | None = None) -> dict[str, Any]:
        """The answers model and the change in P(correct) of a task per arm and state,
        direct and through the mediator (:func:`labmrt.effects.answers.arm_effects`)."""
        receipt = self.receipt if receipt is None else receipt
        c = self.correct
        arms = sorted({a for o in self.outcomes.values() for a in o.effects} | set(c.effects))
        med = self.outcomes.get(c.mediator) if c.mediator else None
        by_arm = arm_effects(
            c,
            med.measure if med else "any",
            med.transform if med else "none",
            med.baseline if med else {s: 0.0 for s in SIM_STATES},
            med.effects if med else {},
            med.sd if med else 0.0,
            self.participant_sd,
            receipt,
            arms,
        )
        caveats = unidentified_because(
            c, med.measure if med else None, med.effects if med else {}, self.participant_sd,
            receipt,
        )  # fmt: skip
        return {
            "outcome": "share_correct",
            "mediation_identified": not caveats,
            "not_identified_because": caveats,
            "meaning": "share of a participant's scored tasks answered correctly "
            "(participants.csv, repeated on the decision-point rows)",
            "mediator": c.mediator,
            "model": c.model_dump(),
            "baseline_arm": baseline_arm,
            "receipt": receipt,
            "per_task": by_arm,
            "estimand": "at an available decision point whose task is scored, in state s: "
            "per_task[arm][s] / K (K: the participant's scored tasks; labmrt.simulate."
            "distal_truth averages it over the rows for a contrast)",
        }


def _scale(o: OutcomeEffects) -> str:
    if o.measure == "any":
        return "probability (risk difference)"
    unit = "seconds" if o.measure == "duration" else "uses"
    return f"log1p({unit})" if o.transform == "log1p" else unit


def default_effects(protocol: StudyProtocol) -> dict[str, Any]:
    """A default effects document for ``protocol`` (the same shape as an effects file).

    The k-th non-baseline arm adds ``0.15 k`` (calm) and ``0.3 k`` (aroused) on a
    log1p scale (a few seconds more help), ``0.08 k`` / ``0.15 k`` to a use
    probability, and ``0.5 k`` / ``1.0 k`` uses to a count.
    """
    arms = [a.id for a in protocol.arms if not a.baseline]
    outcomes: dict[str, Any] = {}
    for o in protocol.outcomes:
        if o.measure == "any":
            base, per, sd = {"calm": 0.35, "aroused": 0.3}, (0.08, 0.15), 0.0
            per_k = [(per[0] * k, per[1] * k) for k in range(1, len(arms) + 1)]
            scale = 1.0 / max(1.0, (0.35 + per_k[-1][1]) / 0.9) if per_k else 1.0
            per_k = [(c * scale, a * scale) for c, a in per_k]
        elif o.measure == "duration" and o.transform == "log1p":
            base, sd = {"calm": 1.8, "aroused": 2.2}, 0.4
            per_k = [(0.15 * k, 0.3 * k) for k in range(1, len(arms) + 1)]
        elif o.measure == "duration":
            base, sd = {"calm": 12.0, "aroused": 16.0}, 3.0
            per_k = [(1.5 * k, 3.0 * k) for k in range(1, len(arms) + 1)]
        else:
            base, sd = {"calm": 2.0, "aroused": 3.0}, 0.0
            per_k = [(0.5 * k, 1.0 * k) for k in range(1, len(arms) + 1)]
        outcomes[o.name] = {
            "baseline": base,
            **({"sd": sd} if sd else {}),  # a use or a count has no spread of its own
            "effects": {
                arm: {"calm": round(c, 6), "aroused": round(a, 6)}
                for arm, (c, a) in zip(arms, per_k, strict=True)
            },
        }
    return {"receipt": 0.9, "outcomes": outcomes}


def load_effect_model(path: str | Path | None, protocol: StudyProtocol) -> tuple[EffectModel, dict]:
    """The simulated participants' model from an effects file (or the defaults for
    ``protocol``); returns (model, the document as written)."""
    if path is None:
        doc = default_effects(protocol)
        effects = effects_from_dict(doc, protocol, "default effects", simulation_problems)
    else:
        doc = read_effects(path)
        effects = _load_effects(path, protocol, check=simulation_problems)
    return effect_model(effects, protocol), doc


def simulation_problems(model: EffectsFile, protocol: StudyProtocol, where: str) -> list[Problem]:
    """This simulation's own rules: the protocol's outcomes, each on its measure's scale,
    driven by features of its own."""
    problems: list[Problem] = answer_problems(model, protocol, where)
    specs = {o.name: o for o in protocol.outcomes}
    for name in model.outcomes:
        if name not in specs:
            problems.append(
                Problem(f"{where}: outcomes.{name}", "is not an outcome of the protocol")
            )
    feature_owner: dict[str, str] = {}
    for name, spec in specs.items():
        loc = f"{where}: outcomes.{name}"
        out = model.outcomes.get(name)
        if out is None:
            problems.append(
                Problem(loc, "is missing", f"add [outcomes.{name}] with baseline and effects")
            )
            continue
        binary = spec.measure == "any"
        if "scale" in out.model_fields_set and (out.scale == "binary") != binary:
            problems.append(
                Problem(f"{loc}.scale", f"is {out.scale!r} but the protocol measures {spec.measure!r}",
                        f"write scale = {'binary' if binary else 'continuous'!r} or leave it out")
            )  # fmt: skip
        if binary and out.scale != "binary":
            problems += _probability_problems(out, loc)
        for fid in spec.features:
            if fid in feature_owner:
                problems.append(
                    Problem(
                        loc,
                        f"shares feature {fid!r} with outcome {feature_owner[fid]!r}",
                        "the simulator drives each outcome's features on their own; "
                        "simulate outcomes with disjoint features",
                    )
                )
            feature_owner[fid] = name
    return problems


def _probability_problems(out: OutcomeModel, loc: str) -> list[Problem]:
    """A 0/1 outcome stated as risk differences: every level a probability."""
    problems = []
    for s in SIM_STATES:
        if not 0.0 <= out.baseline[s] <= 1.0:
            problems.append(Problem(f"{loc}.baseline.{s}", f"is {out.baseline[s]:g}, not a probability",
                                    "use 0 to 1"))  # fmt: skip
        for arm, by_state in out.effects.items():
            total = out.baseline[s] + by_state.get(s, 0.0)
            if not 0.0 <= total <= 1.0:
                problems.append(
                    Problem(f"{loc}.effects.{arm}.{s}",
                            f"baseline + effect = {total:g} is not a probability",
                            "keep baseline + effect within [0, 1]")
                )  # fmt: skip
    return problems


def effect_model(effects: EffectsFile, protocol: StudyProtocol) -> EffectModel:
    """The simulated participants' behaviour an (already checked) effects file describes;
    an arm the file leaves out has no effect."""
    arms = [a.id for a in protocol.arms if not a.baseline]
    outcomes: dict[str, OutcomeEffects] = {}
    for spec in protocol.outcomes:
        out = effects.outcomes[spec.name]
        outcomes[spec.name] = OutcomeEffects(
            name=spec.name,
            measure=spec.measure,
            transform=spec.transform,
            features=tuple(spec.features),
            window=spec.window,
            baseline=dict(out.baseline),
            effects={a: {s: out.effects.get(a, {}).get(s, 0.0) for s in SIM_STATES} for a in arms},
            sd=0.5 if out.sd is None else out.sd,
        )
    behaviour = {
        f.name: getattr(effects, f.name) for f in fields(EffectModel) if f.name != "outcomes"
    }
    return EffectModel(outcomes=outcomes, **behaviour)


# --------------------------------------------------------------------------- state source
@dataclass
class ScriptedStateSource:
    """A StateSource that reports a participant's scripted state, with dropouts (fast sims).

    ``dropouts`` and ``low_quality`` are ``(start_s, end_s)`` intervals from the
    session start ``t0``: no valid signal (state unknown), or quality 0.3.
    """

    script: StateScript
    clock: Clock
    t0: float
    seed: int = 0
    dropouts: list[tuple[float, float]] = field(default_factory=list)
    low_quality: list[tuple[float, float]] = field(default_factory=list)
    window_s: float = 30.0
    phases: list[tuple[str, str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng([int(self.seed), 31337])

    def true_state(self, t: float) -> str:
        return self.script.state_at(t - self.t0)

    def begin_phase(self, phase: str, t: float) -> None:
        self.phases.append(("begin", phase, t))

    def end_phase(self, phase: str, t: float) -> None:
        self.phases.append(("end", phase, t))

    def current_state(self) -> AffectState:
        now = self.clock.now()
        rel = now - self.t0
        window = {"ecg": (now - self.window_s, now), "eda": (now - self.window_s, now)}
        if any(a <= rel < b for a, b in self.dropouts):
            return AffectState(
                t=now,
                label="unknown",
                quality={"ecg": 0.0, "eda": 0.0},
                windows=window,
                reason="ECG and EDA streams lost (simulated dropout)",
            )
        label = self.script.state_at(rel)
        aroused = label == "aroused"
        rng = self._rng
        q = float(np.clip(rng.normal(0.9, 0.04), 0.6, 1.0))
        quality = {"ecg": q, "eda": float(np.clip(q + rng.normal(0, 0.02), 0.55, 1.0))}
        if any(a <= rel < b for a, b in self.low_quality):
            quality["eda"] = 0.3
        features = {
            "hr": float(rng.normal(90.0 if aroused else 66.0, 4.0)),
            "rmssd": float(max(5.0, rng.normal(24.0 if aroused else 45.0, 6.0))),
            "scl": float(max(0.5, rng.normal(6.5 if aroused else 4.0, 0.6))),
            "scr_rate": float(max(0.0, rng.normal(8.0 if aroused else 2.0, 1.5))),
        }
        p = float(np.clip(rng.normal(0.85 if aroused else 0.15, 0.07), 0.01, 0.99))
        windows = {
            "hr": window["ecg"],
            "rmssd": window["ecg"],
            "scl": window["eda"],
            "scr_rate": window["eda"],
        }
        return AffectState(
            t=now,
            label=label,
            p_aroused=p,
            features=features,
            windows=windows,
            quality=quality,
        )


def random_intervals(
    rng: np.random.Generator, per_hour: float, length: tuple[float, float], duration_s: float
) -> list[tuple[float, float]]:
    """Poisson-timed intervals over ``duration_s`` seconds."""
    out: list[tuple[float, float]] = []
    if per_hour <= 0:
        return out
    t = 0.0
    while True:
        t += float(rng.exponential(3600.0 / per_hour))
        if t >= duration_s:
            return out
        d = float(rng.uniform(*length))
        out.append((round(t, 3), round(t + d, 3)))
        t += d


# --------------------------------------------------------------------------- the participant
class SimulatedParticipant:
    """A Presenter that behaves by the effect model; see the module docstring.

    ``true_state(t)`` gives the participant's true state at session time ``t``.
    ``request_break(reason, duration_s)`` is called (after a task) when the
    participant asks for a break; the runner connects it to the engine's pause.
    """

    def __init__(
        self,
        protocol: StudyProtocol,
        model: EffectModel,
        clock: Clock,
        true_state: Callable[[float], str],
        *,
        seed: int,
    ):
        self.protocol = protocol
        self.model = model
        self.clock = clock
        self.true_state = true_state
        self.rng = np.random.default_rng([int(seed), 4242])
        self.u = float(self.rng.normal(0.0, model.participant_sd))
        self.request_break: Callable[[str, float], None] | None = None
        self.baseline_arm = protocol.baseline_arm.id
        self.phases: list[tuple[str, str]] = []
        self.log: list[dict[str, Any]] = []
        self.ended: tuple[str, str] | None = None
        self.timed_out = 0
        self.scored = 0
        outcome_features = {f for o in model.outcomes.values() for f in o.features}
        self.other_features = [f.id for f in protocol.features if f.id not in outcome_features]

    # Presenter protocol
    def begin_phase(self, phase: str, duration_s: float | None) -> None:
        self.phases.append(("begin", phase))

    def end_phase(self, phase: str) -> None:
        self.phases.append(("end", phase))

    def end_session(self, status: str, reason: str) -> None:
        self.ended = (status, reason)

    def present(self, task: FramedTask, report: Callable[..., None]) -> dict[str, Any]:
        rng, model = self.rng, self.model
        shown = self.clock.now()
        state = self.true_state(shown)
        arm = task.arm or self.baseline_arm
        mode, need = task.control, task.min_dwell_s
        received = True if mode == "none" else bool(rng.random() < model.receipt)
        # reading: long enough to count as received, or skimmed / never confirmed
        if received:
            read = need + float(rng.uniform(*model.read_s))
        else:
            read = (
                float(rng.uniform(0.2, 0.9 * need))
                if need > 0
                else float(rng.uniform(*model.read_s))
            )
        confirmed = mode == "confirm" and (received or (need > 0 and bool(rng.random() < 0.5)))
        confirm_t = shown + read if confirmed else None
        start = shown + read
        timeline: list[tuple[float, str, str, str]] = []
        t = start + float(rng.uniform(1.0, 3.0))
        truth: dict[str, float] = {}
        for o in model.outcomes.values():
            effect = o.effects.get(arm, {}).get(state, 0.0) if received else 0.0
            level = o.baseline[state] + effect
            if o.measure == "duration":
                y = level + self.u + float(rng.normal(0.0, o.sd))
                seconds = math.expm1(y) if o.transform == "log1p" else y
                seconds = max(0.0, seconds)
                truth[o.name] = apply_transform(seconds, o.transform)
                t = self._open_close(timeline, t, o.features, seconds)
            elif o.measure == "any":
                used = bool(rng.random() < level)
                truth[o.name] = float(used)
                if used:
                    t = self._uses(timeline, t, o.features[0], int(rng.integers(1, 4)))
            else:
                k = int(rng.poisson(max(level, 0.0)))
                truth[o.name] = apply_transform(float(k), o.transform)
                if k:
                    t = self._uses(timeline, t, o.features[0], k)
        end = t + float(rng.uniform(*model.work_s))
        for fid in self.other_features:  # use unrelated to the outcomes, anywhere in the task
            if rng.random() < 0.5:
                a = float(rng.uniform(start, end))
                self._open_close(timeline, a, (fid,), float(rng.uniform(0.2, 1.0)) * (end - a))
        limit = task.time_limit_s
        timed_out = limit is not None and end > shown + limit
        if timed_out:
            end = shown + limit
            timeline = [ev for ev in timeline if ev[0] <= end]
        self.timed_out += int(timed_out)
        # report in time order, letting the clock run
        for ev_t, feature, action, detail in sorted(timeline, key=lambda e: e[0]):
            self.clock.sleep_until(ev_t)
            report(feature, action, ev_t, detail)
        self.clock.sleep_until(end)
        answer = None
        mediator = model.outcomes.get(model.correct.mediator or "")
        p_correct = probability(
            model.correct,
            arm,
            state,
            received,
            truth.get(mediator.name) if mediator else None,
            mediator.baseline if mediator else None,
        )
        if not timed_out:
            answer = self._answer(task, p_correct)
        self.scored += int(self.protocol.tasks[task.task_index].correct is not None)
        self.log.append(
            {"task_index": task.task_index, "arm": arm, "state": state, "received": received}
            | {f"true_{k}": v for k, v in truth.items()}
        )
        if self.request_break is not None and rng.random() < model.break_prob:
            self.request_break("participant break (simulated)", float(rng.uniform(*model.break_s)))
        return {
            "shown_t": shown,
            "confirmed": bool(confirmed and confirm_t is not None and confirm_t <= end),
            "received_t": confirm_t,
            "dwell_s": read if mode == "dwell" else None,
            "answer": answer,
            "answer_t": None if answer is None else end,
            "end_t": end,
            "timed_out": timed_out,
        }

    def _open_close(self, timeline, t: float, features, seconds: float) -> float:
        """Spend ``seconds`` in ``features``, one after the other, a short gap between."""
        if seconds <= 0:
            return t
        shares = self.rng.dirichlet(np.ones(len(features))) if len(features) > 1 else [1.0]
        for fid, share in zip(features, shares, strict=True):
            d = float(seconds * share)
            if d <= 0:
                continue
            timeline.append((t, fid, "open", ""))
            timeline.append((t + d, fid, "close", ""))
            t += d + float(self.rng.uniform(0.5, 2.0))
        return t

    def _uses(self, timeline, t: float, feature: str, k: int) -> float:
        """``k`` uses of a feature: open (the first use), then ``k - 1`` operations, close."""
        timeline.append((t, feature, "open", ""))
        for _ in range(k - 1):
            t += float(self.rng.uniform(1.0, 4.0))
            timeline.append((t, feature, "use", ""))
        t += float(self.rng.uniform(1.0, 3.0))
        timeline.append((t, feature, "close", ""))
        return t + float(self.rng.uniform(0.5, 2.0))

    def _answer(self, task: FramedTask, p_correct: float) -> str:
        task_def = self.protocol.tasks[task.task_index]
        right = task_def.correct
        if right is not None and self.rng.random() < p_correct:
            return right
        if task.choices:
            wrong = [c for c in task.choices if c != right] or list(task.choices)
            return str(wrong[int(self.rng.integers(len(wrong)))])
        return "42" if task.answer_kind == "number" else "no idea"


# --------------------------------------------------------------------------- studies
@dataclass
class StudyRun:
    """What :func:`simulate_study` did."""

    study_dir: Path
    truth_path: Path
    participants: list[str]
    session_ids: list[int]
    seconds: float
    n_decisions: int = 0
    n_available: int = 0


ScheduleFactory = Callable[[int, float, float], StateScript]  # (seed, duration_s, mean_segment_s)


def participant_codes(n: int) -> list[str]:
    return [f"P{i:03d}" for i in range(1, n + 1)]


def expected_duration_s(protocol: StudyProtocol, model: EffectModel) -> float:
    """A generous upper bound of a session's length (for scripts and dropouts)."""
    cal = protocol.calibration
    cal_s = 0.0 if cal is None else cal.rest_s + cal.stressor_s
    per_task = 60.0 + model.read_s[1] + model.work_s[1] + model.break_prob * model.break_s[1]
    for t in protocol.tasks:
        per_task = max(per_task, t.time_limit_s or 0.0)
    return cal_s + len(protocol.tasks) * per_task + 600.0


def simulate_study(
    protocol: StudyProtocol,
    study_dir: str | Path,
    n_participants: int,
    *,
    schedule_factory: ScheduleFactory,
    seed: int = 0,
    effects: str | Path | None = None,
    synchronous: str = "NORMAL",
    progress: Callable[[int, int, str], None] | None = None,
) -> StudyRun:
    """Run ``n_participants`` complete sessions into a new study folder (virtual clock).

    ``schedule_factory(seed, duration_s, mean_segment_s)`` returns each
    participant's true-state script (``ArousalSchedule.random`` fits).
    ``synchronous="NORMAL"``: commits survive a killed process, not a power cut
    (enough for a simulation, and much faster).
    """
    from labmrt.store import DB_NAME, StudyStore

    if n_participants < 1:
        raise LabmrtError(Problem("--participants", f"is {n_participants}", "simulate at least 1"))
    study_dir = Path(study_dir)
    if (study_dir / DB_NAME).exists():
        raise LabmrtError(
            Problem(
                str(study_dir),
                "already holds a study database",
                "simulate into a new (or empty) folder; recorded studies are never overwritten",
            )
        )
    model, doc = load_effect_model(effects, protocol)
    receipt = 1.0 if protocol.control.mode == "none" else None
    started = time.perf_counter()
    codes = participant_codes(n_participants)
    duration = expected_duration_s(protocol, model)
    truth: dict[str, Any] = {
        "what": "the known truth of a simulated labmrt study (docs/guides/sessions.md: simulated studies)",
        "protocol_hash": protocol.content_hash,
        "protocol_title": protocol.study.title,
        "seed": int(seed),
        "effects_file": None if effects is None else str(effects),
        "effects": doc,
        "model": {k: v for k, v in asdict(model).items() if k not in ("outcomes", "correct")},
        "outcomes": model.truth(protocol.baseline_arm.id, receipt),
        "distal": model.distal_truth(protocol.baseline_arm.id, receipt),
        "moderator": "aroused = 1 when the recorded affect_state is 'aroused', else 0",
        "participants": {},
    }
    study_dir.mkdir(parents=True, exist_ok=True)
    truth_path = study_dir / "truth.json"
    session_ids: list[int] = []
    with StudyStore.open(study_dir, create=True, synchronous=synchronous) as store:
        for i, code in enumerate(codes):
            p_seed = int(np.random.SeedSequence([int(seed), i]).generate_state(1)[0])
            script = schedule_factory(p_seed, duration, model.mean_state_segment_s)
            rng = np.random.default_rng([p_seed, 99])
            dropouts = random_intervals(rng, model.dropouts_per_hour, model.dropout_s, duration)
            low_q = random_intervals(rng, model.low_quality_per_hour, (10.0, 40.0), duration)
            clock = VirtualClock(start=1000.0 + 10000.0 * i)
            t0 = clock.now()
            source = ScriptedStateSource(
                script,
                clock,
                t0,
                seed=p_seed,
                dropouts=dropouts,
                low_quality=low_q,
                window_s=protocol.sensors.window_s if protocol.sensors else 30.0,
            )
            person = SimulatedParticipant(protocol, model, clock, source.true_state, seed=p_seed)
            engine = SessionEngine(
                protocol,
                store,
                code,
                person,
                state_source=source,
                clock=clock,
                workstation="simulation",
                streams=[{"kind": "simulated", "note": "scripted state source"}],
            )
            person.request_break = engine.pause
            engine.run()
            session_ids.append(engine.session_id)
            truth["participants"][code] = {
                "session": engine.session_id,
                "seed": p_seed,
                "t0": t0,
                "intercept": person.u,
                "schedule": [list(s) for s in getattr(script, "segments", [])],
                "dropouts_s": dropouts,
                "low_quality_s": low_q,
                "timed_out_tasks": person.timed_out,
                "scored_tasks": person.scored,
            }
            if progress is not None:
                progress(i + 1, n_participants, code)
        decisions = store.decisions()
    truth_path.write_text(json.dumps(truth, indent=2, default=str), encoding="utf-8")
    return StudyRun(
        study_dir=study_dir,
        truth_path=truth_path,
        participants=codes,
        session_ids=session_ids,
        seconds=time.perf_counter() - started,
        n_decisions=len(decisions),
        n_available=int(decisions["available"].sum()) if len(decisions) else 0,
    )


# --------------------------------------------------------------------------- checking the truth
def compare_with_truth(
    decision_points: Any,
    truth: Mapping[str, Any],
    *,
    conf_level: float = 0.95,
    arms: list[str] | None = None,
) -> Any:
    """WCLS estimates of every ``<arm>-vs-baseline`` effect per state beside the truth.

    One row per outcome x contrast x state with ``estimate``, ``ci_lower``,
    ``ci_upper``, ``truth`` (the intent-to-treat effect of truth.json) and
    ``covered``. Each fit uses ``affect_state`` as the moderator, the
    ``available`` flag and the recorded ``prob_<arm>`` columns (the analyzer
    derives each contrast's probability); binary outcomes are analyzed on the
    additive scale (risk difference), as the truth is stated.
    """
    import pandas as pd

    from labmrt.analysis import wcls

    rows = []
    for name, out in truth["outcomes"].items():
        baseline = out["baseline_arm"]
        for arm, eff in out["arms"].items():
            if arms is not None and arm not in arms:
                continue
            fit = wcls(
                decision_points,
                id="participant",
                outcome=name,
                moderators=["affect_state"],
                availability="available",
                contrast=f"{arm}-vs-baseline",
                baseline=baseline,
                conf_level=conf_level,
            )
            for state in SIM_STATES:
                at = fit.effect_at({"affect_state": state}).iloc[0]
                true = float(eff["itt"][state])
                rows.append(
                    {
                        "outcome": name,
                        "contrast": f"{arm} vs {baseline}",
                        "state": state,
                        "estimate": float(at["estimate"]),
                        "ci_lower": float(at["ci_lower"]),
                        "ci_upper": float(at["ci_upper"]),
                        "truth": true,
                        "covered": bool(at["ci_lower"] <= true <= at["ci_upper"]),
                        "p_value": float(at["p_value"]),
                    }
                )
    return pd.DataFrame(rows)


def distal_truth(decision_points: Any, truth: Mapping[str, Any], contrast: str) -> dict[str, float]:
    """The true estimands of ``dcee`` and ``mcee`` for ``contrast`` on an exported table.

    With constant effects (no moderator, ``f(t) = 1``) and unit weights both
    estimators average over every row: a row contributes ``I_t * 1{task scored} *
    effect(s_t) / K_i``, unavailable rows nothing (MRTAnalysis's convention). The
    effect in state ``s`` is the mean ``per_task`` change of truth.json's ``distal``
    over the treated arms minus that over the comparison arms, each weighted by the
    probabilities recorded at the row; ``K_i`` is the participant's number of scored
    tasks. Returns ``{"direct": NDEE, "indirect": NIEE, "total": DCEE}``.
    """
    import pandas as pd

    from labmrt.analysis.contrasts import PROB_PREFIX, arms_of, covering_contrast

    frame = pd.DataFrame(decision_points)
    dist = truth["distal"]
    con = covering_contrast(contrast, arms_of(frame), dist["baseline_arm"])
    per_task = dist["per_task"]
    scored = {code: p["scored_tasks"] for code, p in truth["participants"].items()}
    k = frame["participant"].map(scored).to_numpy(dtype=float)
    used = (frame["available"].to_numpy() == 1) & frame["correct"].notna().to_numpy()
    states = frame["affect_state"].astype(object).to_numpy()
    out: dict[str, float] = {}
    for key in ("direct", "indirect"):
        by_state = {}
        for s in SIM_STATES:
            value = np.zeros(len(frame))
            for side, sign in ((con.treated, 1.0), (con.control, -1.0)):
                probs = frame[[PROB_PREFIX + a for a in side]].to_numpy(dtype=float)
                weights = probs / probs.sum(axis=1, keepdims=True)
                for j, arm in enumerate(side):
                    effect = per_task.get(arm, {}).get(s, {}).get(key, 0.0)
                    value += sign * weights[:, j] * effect
            by_state[s] = value
        row = np.where(states == "aroused", by_state["aroused"], by_state["calm"])
        unknown = used & ~np.isin(states, SIM_STATES)
        if unknown.any() and not np.allclose(by_state["calm"], by_state["aroused"]):
            raise ValueError(
                f"{int(unknown.sum())} available decision point(s) have no recorded state, "
                "but the effects differ by state: their truth is not known"
            )
        out[key] = float(np.mean(np.where(used, row / k, 0.0)))
    out["total"] = out["direct"] + out["indirect"]
    return out


def compare_distal_with_truth(
    decision_points: Any,
    truth: Mapping[str, Any],
    contrast: str,
    *,
    outcome: str = "share_correct",
    mediator: str | None = None,
    controls: tuple[str, ...] = (),
    conf_level: float = 0.95,
) -> Any:
    """dcee and (with ``mediator``) mcee of a simulated study's export beside the truth.

    One row per effect (``distal``, then ``direct`` and ``indirect``) with
    ``term``, ``estimate``, ``std_error``, ``ci_lower``, ``ci_upper``,
    ``truth`` (:func:`distal_truth`) and ``covered``. Both fits use the
    ``available`` flag and the recorded probabilities (``contrast``, every arm
    on a side), least squares in stage 1, the effect constant over the
    decision points; ``controls`` enter both (the mediator is added for mcee).
    """
    import pandas as pd

    from labmrt.analysis.distal_plan import fit_distal
    from labmrt.analysis.options import AnalysisOptions

    frame = pd.DataFrame(decision_points)
    true = distal_truth(frame, truth, contrast)
    common = dict(
        outcome=outcome,
        contrast=contrast,
        baseline=truth["distal"]["baseline_arm"],
        availability="available",
        controls=list(controls),
        learner="lm",
        conf_level=conf_level,
    )
    fits = [("distal", "(Intercept)", "total", AnalysisOptions(method="dcee", **common))]
    if mediator is not None:
        mc = AnalysisOptions(method="mcee", mediator=mediator, **common)
        fits += [
            ("direct", "ndee:(Intercept)", "direct", mc),
            ("indirect", "niee:(Intercept)", "indirect", mc),
        ]
    rows, done = [], {}
    for effect, term, key, options in fits:
        if options.method not in done:
            done[options.method] = fit_distal(options, frame)
        row = done[options.method].table.loc[term]
        rows.append(
            {
                "effect": effect,
                "term": term,
                "estimate": float(row["estimate"]),
                "std_error": float(row["std_error"]),
                "ci_lower": float(row["ci_lower"]),
                "ci_upper": float(row["ci_upper"]),
                "truth": true[key],
                "covered": bool(row["ci_lower"] <= true[key] <= row["ci_upper"]),
            }
        )
    return pd.DataFrame(rows)
