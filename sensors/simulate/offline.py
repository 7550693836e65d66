"""A simulated session offline: the signals the LSL simulator would stream, at once.

Tests, benchmarks and the accuracy study need the simulated body without
waiting for it in real time; :func:`generate_recording` produces exactly the
samples :class:`~sensors.simulate.outlets.SimulatedSensors` would push, with
the same time stamps relative to its start, and keeps the schedule as truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sensors.kinds import SignalWindow
from sensors.simulate.schedule import ArousalSchedule
from sensors.simulate.synth import SignalSynth, SimulationParams, signal_rates


@dataclass
class SimulatedRecording:
    """An offline simulation: per kind the :class:`~sensors.kinds.SignalWindow` of the whole
    recording, plus the truth."""

    signals: dict[str, SignalWindow]
    truth: ArousalSchedule
    t0: float = 0.0
    params: SimulationParams = field(default_factory=SimulationParams)

    @property
    def sfreq(self) -> dict[str, float]:
        """Sampling rate (Hz) per kind."""
        return {kind: window.sfreq for kind, window in self.signals.items()}

    def __getitem__(self, kind: str) -> SignalWindow:
        return self.signals[kind]

    def state_at(self, t: float) -> str:
        """True state at timestamp ``t`` (same clock as the signals' timestamps)."""
        return self.truth.state_at(t - self.t0)

    def states_at(self, t) -> np.ndarray:
        return self.truth.states_at(np.asarray(t, dtype=float) - self.t0)


def generate_recording(
    seed: int = 0,
    schedule: ArousalSchedule | None = None,
    duration_s: float = 600.0,
    *,
    ecg: bool = True,
    ppg: bool = False,
    eda: bool = True,
    ecg_rate: float = 500,
    ppg_rate: float = 100,
    eda_rate: float = 64,
    hr_calm: tuple[float, float] = (60.0, 72.0),
    hr_aroused: tuple[float, float] = (85.0, 100.0),
    noise: float = 1.0,
    nan_share: float = 0.0,
    t0: float = 0.0,
) -> SimulatedRecording:
    """The same signals :class:`~sensors.simulate.outlets.SimulatedSensors` would stream, without LSL or waiting.

    Sample ``i`` of a kind at rate ``fs`` is stamped ``t0 + i / fs``, exactly as
    the live simulator stamps it relative to its start. ``schedule=None`` is
    ``ArousalSchedule.random(seed, duration_s)``.
    """
    schedule = schedule or ArousalSchedule.random(seed, duration_s)
    params = SimulationParams(int(seed), tuple(hr_calm), tuple(hr_aroused), noise, nan_share)
    rates = signal_rates(ecg, ppg, eda, ecg_rate, ppg_rate, eda_rate)
    signals = {}
    for kind, rate in rates.items():
        n = int(round(duration_s * rate))
        data = SignalSynth(kind, rate, schedule, params).take(n)
        signals[kind] = SignalWindow(data, t0 + np.arange(n) / rate, rate)
    return SimulatedRecording(signals, schedule, t0, params)
