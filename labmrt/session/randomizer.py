"""The micro-randomizer: one auditable draw per decision point.

Why a stream per participant and session
----------------------------------------
Every draw must be reproducible from the record alone, so an auditor can
replay a session draw by draw and an interrupted session can resume the same
stream. Each (study seed, participant code, session number) owns one numpy
``Generator``::

    entropy  = [study seed,
                int(sha256(participant code as UTF-8)[:16], big-endian),
                session number]
    stream   = numpy.random.Generator(PCG64(SeedSequence(entropy)))

The participant code is used exactly as given (case and spaces matter).
SeedSequence mixes the three numbers so neighbouring participants or sessions
get unrelated streams.

One uniform per decision point
------------------------------
Decision point ``k`` (numbered from 0 within the session) always uses the
``k``-th uniform of the stream, ``u_k = stream.random()``, whether the
participant is available or not: an unavailable point consumes its uniform
and discards it (it draws no arm). So the stream position equals the
decision-point index, and resuming at decision point ``k`` is
``MicroRandomizer(protocol, code, session).resume_at(k)``: it skips ``k``
uniforms. Skipping ahead in :meth:`MicroRandomizer.draw` (e.g. numbering from 1)
also keeps ``u_k`` tied to ``k``; going back is refused because it would
re-randomize a decision point that already happened.

The arm is the inverse CDF of ``u`` over the arms in protocol order: the first
arm whose cumulative probability exceeds ``u``. The probabilities come from
:meth:`labmrt.protocol.Protocol.lookup_probabilities` for the context at the
decision point, and the decision records every arm's probability, the context
used and the table row, and the uniform, so the draw can be checked by hand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from labmrt.protocol import Protocol


def participant_entropy(participant_code: str) -> int:
    """The 128-bit number a participant code contributes to the seed."""
    digest = hashlib.sha256(participant_code.encode("utf-8")).digest()
    return int.from_bytes(digest[:16], "big")


def seed_sequence(study_seed: int, participant_code: str, session: int) -> np.random.SeedSequence:
    """The documented seed derivation (see the module docstring)."""
    if session < 0:
        raise ValueError(f"session number must be >= 0, got {session}")
    return np.random.SeedSequence([int(study_seed), participant_entropy(participant_code), session])


@dataclass(frozen=True)
class Decision:
    """What happened at one decision point, with everything needed to audit the draw.

    ``arm`` is ``None`` when the participant was unavailable (no draw; ``u`` is
    then ``None`` too, though its uniform was consumed). ``probabilities``
    holds every arm's probability (arm order) that applied at this point, also
    when unavailable. ``context`` is the context as given; ``table_key`` is the
    probability-table row used (``None`` with constant probabilities) and
    ``fell_back`` tells whether that was the fallback row.
    """

    decision_point: int
    arm: str | None
    probabilities: dict[str, float]
    context: dict[str, str]
    available: bool
    u: float | None
    protocol_hash: str
    participant: str
    session: int
    table_key: str | None = None
    fell_back: bool = False

    @property
    def p_arm(self) -> float | None:
        """Probability of the arm drawn (``None`` when unavailable)."""
        return None if self.arm is None else self.probabilities[self.arm]

    def as_record(self) -> dict[str, Any]:
        """A plain dict (JSON-friendly) for the store; ``uniform`` names ``u`` there."""
        rec = asdict(self)
        rec["uniform"] = rec.pop("u")
        return rec


def choose_arm(u: float, probabilities: Mapping[str, float]) -> str:
    """Inverse CDF over the arms in the given order: first arm with cumulative p > u."""
    if not 0.0 <= u < 1.0:
        raise ValueError(f"u must be in [0, 1), got {u}")
    arms = list(probabilities)
    cumulative = 0.0
    for arm in arms:
        cumulative += probabilities[arm]
        if u < cumulative:
            return arm
    # Rounding can leave the total a hair below 1 (sums are checked to 1e-9).
    return arms[-1]


class MicroRandomizer:
    """The random stream of one participant in one session (see module docstring)."""

    def __init__(self, protocol: Protocol, participant_code: str, session: int = 1):
        if not isinstance(participant_code, str) or not participant_code:
            raise ValueError("participant_code must be non-empty text")
        self.protocol = protocol
        self.participant = participant_code
        self.session = int(session)
        self.seed_sequence = seed_sequence(protocol.randomization.seed, participant_code, session)
        self._rng = np.random.Generator(np.random.PCG64(self.seed_sequence))
        self._position = 0

    @property
    def next_decision_point(self) -> int:
        """The decision point whose uniform comes next (= uniforms consumed so far)."""
        return self._position

    def resume_at(self, decision_point: int) -> MicroRandomizer:
        """Position the stream so the next draw is ``decision_point`` (returns self).

        Use it when resuming an interrupted session: the draws from
        ``decision_point`` on are exactly those the uninterrupted session made.
        """
        self._skip_to(decision_point)
        return self

    def _skip_to(self, decision_point: int) -> None:
        if decision_point < self._position:
            raise ValueError(
                f"decision point {decision_point} was already randomized (the stream is at "
                f"{self._position}); a decision point is never drawn twice"
            )
        if decision_point > self._position:
            self._rng.random(decision_point - self._position)
            self._position = decision_point

    def draw(
        self,
        decision_point: int,
        context: Mapping[str, Any] | None = None,
        available: bool = True,
    ) -> Decision:
        """Randomize decision point ``decision_point`` (consumes exactly one uniform).

        ``context`` maps context variable names to values (e.g.
        ``{"affect_state": "aroused"}``); values are recorded as text. When
        ``available`` is false no arm is drawn but the uniform is still consumed.
        """
        self._skip_to(int(decision_point))
        u = float(self._rng.random())
        self._position += 1
        ctx = {str(k): ("" if v is None else str(v)) for k, v in (context or {}).items()}
        lookup = self.protocol.lookup_probabilities(context or {})
        probs = lookup.probabilities
        arm = choose_arm(u, probs) if available else None
        return Decision(
            decision_point=int(decision_point),
            arm=arm,
            probabilities=dict(probs),
            context=ctx,
            available=bool(available),
            u=u if available else None,
            protocol_hash=self.protocol.content_hash,
            participant=self.participant,
            session=self.session,
            table_key=lookup.table_key,
            fell_back=lookup.fell_back,
        )

    def draw_block(
        self,
        contexts: Sequence[Mapping[str, Any] | None] | Mapping[str, Sequence[Any]],
        available: Sequence[bool],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Randomize the next ``len(available)`` decision points at once (power simulations).

        Exactly the draws of as many :meth:`draw` calls in a row: one uniform
        per decision point from the same stream (``Generator.random(n)`` yields
        the same numbers as ``n`` single calls), probabilities from the
        protocol's lookup, and the first arm whose cumulative probability
        (summed in arm order, as :func:`choose_arm` does) exceeds ``u``.
        ``contexts``: one context mapping per point, or columns
        (``{"affect_state": [...]}``, one value per point). Returns the arm
        index per point (-1 when unavailable) and every arm's probability per
        point (``n x arms``). Only the audit record is left out, which is what
        makes it fast enough for thousands of simulated studies.
        """
        available = np.asarray(available, dtype=bool)
        n = available.size
        if isinstance(contexts, Mapping):
            names = list(contexts)
            columns = [
                c.tolist() if isinstance(c, np.ndarray) else list(c) for c in contexts.values()
            ]
            if any(len(c) != n for c in columns):
                raise ValueError("every context column needs one value per decision point")
            keys = list(zip(*columns, strict=True)) if names else [()] * n
        else:
            if len(contexts) != n:
                raise ValueError("one availability flag per context is needed")
            names = None
            keys = [tuple((c or {}).items()) for c in contexts]
        u = self._rng.random(n)
        self._position += n
        arms = self.protocol.arm_ids
        rows: dict[tuple, int] = {}
        which = np.fromiter((rows.setdefault(k, len(rows)) for k in keys), np.int64, count=n)
        lookups = (
            self.protocol.lookup_probabilities(
                dict(zip(names, key, strict=True)) if names is not None else dict(key)
            ).probabilities
            for key in rows
        )
        table = np.array([[row[a] for a in arms] for row in lookups]).reshape(len(rows), len(arms))
        probs = table[which]
        cumulative = np.cumsum(probs, axis=1)
        picked = np.minimum((u[:, None] >= cumulative).sum(axis=1), len(arms) - 1)
        return np.where(available, picked, -1), probs
