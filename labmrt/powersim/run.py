"""Power by simulation: many trials, in chunks, here, in local processes or on a Dask cluster.

The unit of work is a chunk of ``CHUNK`` consecutive trials (fixed, whatever
the number of workers): it simulates them, analyzes each at every sample size
in one batch, and returns the p-values and estimates. Every trial depends
only on (seed, trial number) and a chunk's batched arithmetic only on its own
trials, so the result is the same bit for bit on one core, on ``--workers N``
local processes (``concurrent.futures``) or on a Dask distributed cluster
(``--scheduler ADDRESS``; Dask's ``Client.submit``/``as_completed``).
Power per term is the share of trials whose two-sided p-value is below
alpha, with its Monte Carlo standard error ``sqrt(p (1 - p) / trials)``;
fits without a solution (a term without information in a small study) count
as not significant and are reported.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labmrt.analysis.batch import single_threaded_blas
from labmrt.errors import LabmrtError, Problem
from labmrt.powersim.effects import EffectsFile, as_differences, contrasts_of, with_zero_effects
from labmrt.powersim.trials import SimPlan, Term, analyze, simulate_trial, stack
from labmrt.protocol import Protocol

CHUNK = 25
Progress = Callable[[int, int], "bool | None"]


@dataclass
class ChunkResult:
    first: int
    estimate: np.ndarray  # (trials, ns, terms)
    p_value: np.ndarray


def run_chunk(plan: SimPlan, ns: Sequence[int], first: int, count: int) -> ChunkResult:
    """Simulate trials ``first .. first + count - 1`` and analyze each at every N in ``ns``."""
    data = stack([simulate_trial(plan, j) for j in range(first, first + count)])
    est, pv = [], []
    starts: dict = {}  # EMEE solutions at one N start the fits at the next
    # Many small products: threaded BLAS only contends (see the randomization check).
    with single_threaded_blas():
        for n in ns:
            e, _, p = analyze(plan, data.first(int(n)), starts)
            est.append(e)
            pv.append(p)
    return ChunkResult(first, np.stack(est, axis=1), np.stack(pv, axis=1))


def _chunks(trials: int) -> list[tuple[int, int]]:
    return [(s, min(CHUNK, trials - s)) for s in range(0, trials, CHUNK)]


def _execute(plan, ns, trials, workers, scheduler, progress, cancel) -> list[ChunkResult]:
    """Run every chunk (in order of completion) and return them in trial order."""
    jobs = _chunks(trials)
    done: list[ChunkResult] = []

    def tick() -> bool:
        go_on = True
        if (
            progress is not None
            and progress(sum(c.p_value.shape[0] for c in done), trials) is False
        ):
            go_on = False
        return go_on and not (cancel is not None and cancel.is_set())

    if scheduler:
        done = _on_dask(plan, ns, jobs, scheduler, tick, done)
    elif workers and workers > 1:
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from multiprocessing import get_context

        # spawn: a fresh interpreter, never a fork of a process with Qt or BLAS threads in it.
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(run_chunk, plan, ns, s, c) for s, c in jobs]
            for fut in as_completed(futures):
                done.append(fut.result())
                if not tick():
                    for f in futures:
                        f.cancel()
                    break
    else:
        for s, c in jobs:
            done.append(run_chunk(plan, ns, s, c))
            if not tick():
                break
    return sorted(done, key=lambda r: r.first)


def _on_dask(plan, ns, jobs, scheduler, tick, done):
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - a dependency of labmrt
        raise LabmrtError(
            Problem("--scheduler", "needs Dask distributed", "pip install 'dask[distributed]'")
        ) from None
    own = isinstance(scheduler, str)
    try:
        client = Client(scheduler, timeout=5) if own else scheduler
    except (OSError, TimeoutError, ValueError) as err:
        raise LabmrtError(
            Problem(
                "--scheduler",
                f"cannot reach the Dask scheduler at {scheduler!r}: {err}",
                "start one with `dask scheduler` and workers with `dask worker ADDRESS`, "
                "or check the address (tcp://host:8786)",
            )
        ) from None
    try:
        remote_plan = client.scatter(plan, broadcast=True)
        futures = [
            client.submit(run_chunk, remote_plan, list(ns), s, c, pure=False) for s, c in jobs
        ]
        for fut in as_completed(futures):
            done.append(fut.result())
            if not tick():
                client.cancel(futures)
                break
    finally:
        if own:
            client.close()
    return done


@dataclass
class TermPower:
    term: Term
    power: list[float]
    mc_se: list[float]
    failed: list[int]
    mean_estimate: list[float]
    n_for_target: int | None

    def to_dict(self, ns) -> dict:
        t = self.term
        return {
            "outcome": t.outcome,
            "contrast": f"{t.treated}-vs-{t.control}",
            "term": t.name,
            "meaning": t.meaning,
            "truth": t.truth,
            "n_for_target": self.n_for_target,
            "by_n": [
                {"n": int(n), "power": p, "mc_se": s, "failed_fits": f, "mean_estimate": m}
                for n, p, s, f, m in zip(
                    ns, self.power, self.mc_se, self.failed, self.mean_estimate, strict=True
                )
            ],
        }


@dataclass
class SimulationResult:
    ns: list[int]
    trials: int
    trials_done: int
    alpha: float
    target: float
    seed: int
    terms: list[TermPower]
    type_one: list[TermPower] = field(default_factory=list)
    null_trials: int = 0
    cancelled: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "method": "simulation through the protocol's randomizer, analyzed by WCLS "
            "(binary outcomes: EMEE, log relative risk)",
            "ns": self.ns,
            "trials": self.trials_done,
            "trials_requested": self.trials,
            "alpha": self.alpha,
            "target_power": self.target,
            "seed": self.seed,
            "cancelled": self.cancelled,
            "seconds": self.seconds,
            "terms": [t.to_dict(self.ns) for t in self.terms],
            "type_one_error": {
                "trials": self.null_trials,
                "terms": [t.to_dict(self.ns) for t in self.type_one],
            },
        }


def _summarize(terms, chunks, ns, alpha, target) -> tuple[list[TermPower], int]:
    if not chunks:
        return [], 0
    est = np.concatenate([c.estimate for c in chunks])
    pv = np.concatenate([c.p_value for c in chunks])
    b = pv.shape[0]
    reject = np.nan_to_num(pv, nan=1.0) < alpha
    power = reject.mean(axis=0)  # (ns, terms)
    se = np.sqrt(power * (1 - power) / b)
    failed = np.isnan(pv).sum(axis=0)
    with np.errstate(invalid="ignore"):
        mean_est = np.nanmean(np.where(np.isnan(pv), np.nan, est), axis=0)
    out = []
    for j, term in enumerate(terms):
        reached = [int(n) for n, p in zip(ns, power[:, j], strict=True) if p >= target]
        out.append(
            TermPower(
                term,
                power[:, j].tolist(),
                se[:, j].tolist(),
                failed[:, j].astype(int).tolist(),
                mean_est[:, j].tolist(),
                reached[0] if reached else None,
            )
        )
    return out, b


def min_participants(effects: EffectsFile) -> int:
    """The smallest N whose t tests (every outcome's) have a degree of freedom: p + q + 1."""
    need = 0
    for name in effects.outcomes:
        spec = effects.analysis_for(name)
        p = 2 if spec.moderator else 1
        need = max(need, 2 * p + len(spec.controls) + 1)
    return need


def check_ns(ns: Sequence[int], effects: EffectsFile, trials: int) -> list[int]:
    ns = sorted({int(n) for n in ns})
    low = min_participants(effects)
    if not ns:
        raise LabmrtError(Problem("--n", "no sample size given", "e.g. --n 20:80:10"))
    if ns[0] < low:
        raise LabmrtError(
            Problem(
                "--n",
                f"{ns[0]} participants leave no degrees of freedom for the analysis "
                f"({low - 1} parameters)",
                f"give at least {low} participants",
            )
        )
    if trials < 1:
        raise LabmrtError(Problem("--trials", f"is {trials}", "give at least 1 trial"))
    return ns


def simulate_power(
    protocol: Protocol,
    effects: EffectsFile,
    ns: Sequence[int],
    trials: int = 1000,
    *,
    alpha: float = 0.05,
    target: float = 0.8,
    seed: int = 0,
    null_trials: int | None = None,
    workers: int = 1,
    scheduler=None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> SimulationResult:
    """Power per effect term at each N, and the type I error with every effect set to 0.

    ``null_trials`` (default: ``trials``; 0 skips it) trials of the same study
    with zero effects give the type I error of each term. ``progress(done,
    total)`` counts trials of both runs; returning ``False`` or setting
    ``cancel`` stops after the running chunk and keeps what is done.
    ``scheduler``: a Dask scheduler address or a ``distributed.Client``.
    """
    import time

    for name, value in (("alpha", alpha), ("target power", target)):
        if not 0.0 < value < 1.0:
            raise LabmrtError(Problem(name, f"is {value:g}", "give a number between 0 and 1"))
    effects = as_differences(effects)  # relative risks as stated are drawn as differences
    ns = check_ns(ns, effects, trials)
    null_trials = trials if null_trials is None else int(null_trials)
    start = time.perf_counter()
    total = trials + null_trials
    offset = [0]
    stopped = [False]

    def relay(done: int, _: int) -> bool | None:
        go = progress(offset[0] + done, total) if progress is not None else None
        if go is False or (cancel is not None and cancel.is_set()):
            stopped[0] = True
            return False
        return go

    plan = SimPlan(protocol, effects, max(ns), seed)
    terms = plan.terms()
    chunks = _execute(plan, ns, trials, workers, scheduler, relay, cancel)
    power, done = _summarize(terms, chunks, ns, alpha, target)
    type_one, null_done = [], 0
    if null_trials > 0 and not stopped[0]:
        offset[0] = trials
        null_plan = SimPlan(protocol, with_zero_effects(effects), max(ns), seed + 1)
        null_terms = null_plan.terms()
        null_chunks = _execute(null_plan, ns, null_trials, workers, scheduler, relay, cancel)
        type_one, null_done = _summarize(null_terms, null_chunks, ns, alpha, target)
    return SimulationResult(
        ns=list(ns),
        trials=trials,
        trials_done=done,
        alpha=alpha,
        target=target,
        seed=seed,
        terms=power,
        type_one=type_one,
        null_trials=null_done,
        cancelled=stopped[0],
        seconds=time.perf_counter() - start,
    )


def parse_ns(text: str) -> list[int]:
    """``20:80:10`` (start:stop:step, stop included), ``30,40,60`` or ``40``."""
    text = str(text).strip()
    try:
        if ":" in text:
            parts = [int(x) for x in text.split(":")]
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] < 1):
                raise ValueError
            start, stop = parts[0], parts[1]
            step = parts[2] if len(parts) == 3 else 1
            if stop < start:
                raise ValueError
            return list(range(start, stop + 1, step))
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise LabmrtError(
            Problem("--n", f"{text!r} is not a list of sample sizes", "write 20:80:10 or 20,40,60")
        ) from None


def describe(result: SimulationResult) -> list[str]:
    """The answer as text lines: power per term and N, the N reaching the target, type I error."""
    ns = result.ns
    lines = [
        f"power by simulation: {result.trials_done} trials per N"
        + (" (cancelled)" if result.cancelled else "")
        + f", alpha {result.alpha:g}, target {result.target:g}, seed {result.seed}, "
        f"{result.seconds:.1f} s"
    ]
    head = f"{'term':<58} {'truth':>7} " + " ".join(f"{'N=' + str(n):>12}" for n in ns)
    lines.append(head)
    for tp in result.terms:
        cells = " ".join(f"{p:>6.3f}±{s:<5.3f}" for p, s in zip(tp.power, tp.mc_se, strict=True))
        lines.append(f"{tp.term.label:<58} {tp.term.truth:>7.3f} {cells}")
    lines.append("smallest N reaching the target power:")
    for tp in result.terms:
        found = (
            f"N = {tp.n_for_target}"
            if tp.n_for_target is not None
            else f"not reached up to N = {ns[-1]}"
        )
        lines.append(f"  {tp.term.label} ({tp.term.meaning}): {found}")
    if result.type_one:
        lines.append(
            f"type I error (every effect 0, {result.null_trials} trials; "
            f"Monte Carlo SE at alpha {math.sqrt(result.alpha * (1 - result.alpha) / max(result.null_trials, 1)):.3f}):"
        )
        for tp in result.type_one:
            cells = " ".join(f"{p:>6.3f}" for p in tp.power)
            lines.append(f"  {tp.term.label:<56} {cells}")
    failed = sum(sum(tp.failed) for tp in result.terms)
    if failed:
        lines.append(f"fits without a solution (counted as not significant): {failed}")
    return lines


def plot_power(result: SimulationResult, path: str | Path) -> Path:
    """Power against N per term, with 2 Monte Carlo SE bars and the target line."""
    from labmrt.analysis.plot import agg_figure, save_figure

    fig = agg_figure((10.0, 4.4))
    ax = fig.add_subplot(1, 1, 1)
    pairs: list[tuple[str, str]] = []
    for tp in result.terms:
        pair = (tp.term.outcome, tp.term.treated)
        if pair not in pairs:
            pairs.append(pair)
        # one colour per outcome and contrast; dashed: moderation terms
        ax.errorbar(
            result.ns,
            tp.power,
            yerr=2 * np.asarray(tp.mc_se),
            marker="o",
            ms=3,
            capsize=2,
            lw=1.4,
            color=f"C{pairs.index(pair)}",
            ls="-" if tp.term.name == "(Intercept)" else "--",
            label=tp.term.label,
        )
    ax.axhline(result.target, color="grey", ls="--", lw=1)
    ax.axhline(result.alpha, color="grey", ls=":", lw=1)
    ax.set_xlabel("participants (N)")
    ax.set_ylabel("power")
    ax.set_ylim(0, 1.02)
    ax.set_title(
        f"power by simulation ({result.trials_done} trials per N, alpha {result.alpha:g})",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return save_figure(fig, path)


__all__ = [
    "simulate_power",
    "SimulationResult",
    "run_chunk",
    "parse_ns",
    "describe",
    "plot_power",
    "contrasts_of",
]
