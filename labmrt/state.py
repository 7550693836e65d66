"""The affective state at a moment, as the session engine sees it.

Sensors produce :class:`AffectState` values; the session engine only knows the
:class:`StateSource` protocol, so the same engine runs with the live LSL
monitor, a simulated participant, or a scripted source in tests. The state
carries the feature values and the window bounds they were computed on, so a
moderator can be shown to precede the treatment it moderates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

StateLabel = Literal["calm", "aroused", "unknown"]
STATE_LABELS: tuple[str, ...] = ("calm", "aroused", "unknown")


@dataclass(frozen=True)
class AffectState:
    """Classifier output at LSL time ``t``.

    ``features`` maps feature names (e.g. ``hr``, ``rmssd``, ``scl``) to values or
    ``None`` when not computable; ``windows`` maps the same names (or a stream
    kind such as ``ecg``/``eda``) to the ``(start, end)`` LSL times the value was
    computed on; ``quality`` maps stream kinds to a signal quality in [0, 1].
    ``reason`` explains an ``unknown`` state (e.g. "EDA stream lost").
    """

    t: float
    label: StateLabel = "unknown"
    p_aroused: float | None = None
    features: dict[str, float | None] = field(default_factory=dict)
    windows: dict[str, tuple[float, float]] = field(default_factory=dict)
    quality: dict[str, float] = field(default_factory=dict)
    reason: str = ""

    @property
    def min_quality(self) -> float | None:
        return min(self.quality.values()) if self.quality else None

    @property
    def signal_valid(self) -> bool:
        """True when at least one physiological stream delivered usable signal."""
        return bool(self.quality) and max(self.quality.values()) > 0.0


@runtime_checkable
class StateSource(Protocol):
    """Anything that can tell the current affective state (live monitor, simulation, script)."""

    def current_state(self) -> AffectState: ...
