"""Simulated physiology with a known arousal truth: one kind's signal, block by block.

The waveforms come from NeuroKit2 (``ecg_simulate`` with the ECGSYN model,
``ppg_simulate``, and the skin-conductance response shape of
``eda_simulate``); this module decides *what* a participant's body does in each
state of an :class:`~sensors.simulate.schedule.ArousalSchedule` and stitches the pieces
into one continuous signal per kind:

* calm: lower heart rate, higher heart-rate variability, tonic skin
  conductance near the participant's baseline, few and small SCRs;
* aroused: higher heart rate, lower variability, tonic level raised by
  1.5-3.5 uS, frequent and larger SCRs.

Physiology parameters are drawn once per schedule segment from the seed (so
ECG and PPG of one simulation share the heart rate). Signals are generated in
blocks of at most ``BLOCK_S`` seconds. ECG and PPG blocks are cut at a quiet
point of the cardiac cycle (ECG: 62% into the R-R interval, inside the T-P
segment; PPG: the pulse onset) so no beat is ever split, and the residual
baseline step is ramped out over 100 ms. Skin conductance is built on one
continuous timeline: the tonic level follows each segment's target with a
first-order lag that is fast on the way up (``SCL_RISE_TAU_S``, a few seconds:
arousal brings a burst of responses that lifts the level at once) and slow on
the way down (``SCL_RECOVERY_TAU_S``, about a minute: sweat has to be
reabsorbed or evaporate, and real skin takes minutes to return to its level
before a stressor; Boucsein 2012, Electrodermal Activity, 2nd ed., ch. 2.3),
and SCRs are overlap-added, so a response that starts near a block end carries
into the next block. A state that follows skin conductance level alone
therefore returns to calm late, as it would on people.

Because generation is sequential and seeded per kind, the same seed and
schedule always give the same samples, whether generated offline
(:func:`sensors.simulate.offline.generate_recording`) or streamed as LSL
outlets (:class:`sensors.simulate.outlets.SimulatedSensors`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import neurokit2 as nk
import numpy as np

from sensors.simulate.schedule import ArousalSchedule

BLOCK_S = 10.0  # longest block generated at once (s)
SCL_RISE_TAU_S = 4.0  # time constant of the tonic level rising to a higher target (s)
SCL_RECOVERY_TAU_S = 60.0  # ... and of its recovery to a lower one (s)
SCR_SHAPE_S = 10  # length of one simulated skin-conductance response (s)
KIND_CODES = {"ecg": 1, "ppg": 2, "eda": 3}
# Noise amplitudes at noise=1.0, in the signal's units: laplace noise plus 50 Hz mains.
NOISE_AT_1 = {"ecg": (0.03, 0.01), "ppg": (0.03, 0.0), "eda": (0.004, 0.0)}
NOISE_FREQS = {"ecg": [10.0, 40.0], "ppg": [5.0, 10.0], "eda": [1.0, 5.0]}


@dataclass(frozen=True)
class Physiology:
    """What the body does in one segment of the schedule."""

    state: str
    hr: float  # mean heart rate (bpm)
    hr_std: float  # heart-rate standard deviation within the segment (bpm), ECGSYN
    ibi_randomness: float  # PPG inter-beat randomness (NeuroKit2 ppg_simulate)
    scl: float  # tonic skin-conductance target (uS)
    scr_per_min: float  # mean rate of skin-conductance responses
    scr_amp: tuple[float, float]  # range of SCR amplitudes (uS)


@dataclass(frozen=True)
class SimulationParams:
    """Everything that determines the samples (together with the schedule)."""

    seed: int = 0
    hr_calm: tuple[float, float] = (60.0, 72.0)
    hr_aroused: tuple[float, float] = (85.0, 100.0)
    noise: float = 1.0
    nan_share: float = 0.0

    def physiology(self, segment: int, state: str) -> Physiology:
        rng = np.random.default_rng([self.seed, 101, segment])
        baseline = np.random.default_rng([self.seed, 103]).uniform(1.5, 4.0)
        if state == "aroused":
            return Physiology(
                state=state,
                hr=float(rng.uniform(*self.hr_aroused)),
                hr_std=float(rng.uniform(1.0, 2.0)),
                ibi_randomness=float(rng.uniform(0.02, 0.05)),
                scl=float(baseline + rng.uniform(1.5, 3.5)),
                scr_per_min=float(rng.uniform(5.0, 10.0)),
                scr_amp=(0.2, 0.8),
            )
        return Physiology(
            state=state,
            hr=float(rng.uniform(*self.hr_calm)),
            hr_std=float(rng.uniform(3.5, 6.0)),
            ibi_randomness=float(rng.uniform(0.10, 0.18)),
            scl=float(baseline * rng.uniform(0.9, 1.1)),
            scr_per_min=float(rng.uniform(0.5, 2.0)),
            scr_amp=(0.03, 0.15),
        )


class SignalSynth:
    """One kind's endless signal, produced block by block, deterministic per seed."""

    def __init__(self, kind: str, rate: float, schedule: ArousalSchedule, params: SimulationParams):
        if kind not in KIND_CODES:
            raise ValueError(f"unknown kind {kind!r}")
        self.kind, self.rate = kind, float(rate)
        self.schedule, self.params = schedule, params
        self.rng = np.random.default_rng([params.seed, KIND_CODES[kind]])
        self.n = 0  # samples produced so far
        self._last = None  # last sample produced (for stitching)
        self._scl: float | None = None
        self._carry = np.zeros(0)  # phasic EDA spilling into the next block
        self._pending = np.zeros(0)  # produced but not yet taken (take() only)

    def next_block(self) -> np.ndarray:
        t = self.n / self.rate
        seg = self.schedule.segment_index(t)
        state = self.schedule.segments[seg][1]
        change = self.schedule.next_change_after(t)
        end = t + BLOCK_S if change is None else min(t + BLOCK_S, change)
        target = max(1, int(round(end * self.rate)) - self.n)
        phys = self.params.physiology(seg, state)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NeuroKit2 chatters about short signals
            block = getattr(self, f"_{self.kind}")(target, phys)
            block = self._distort(block)
        block = self._stitch(block)
        if self.params.nan_share > 0:
            block[self.rng.random(len(block)) < self.params.nan_share] = np.nan
        self.n += len(block)
        return block

    def take(self, n_samples: int) -> np.ndarray:
        """Exactly the next ``n_samples`` samples (offline recordings)."""
        parts, have = [self._pending], len(self._pending)
        while have < n_samples:
            parts.append(self.next_block())
            have += len(parts[-1])
        out = np.concatenate(parts)
        self._pending = out[n_samples:]
        return out[:n_samples]

    # ------------------------------------------------------------ per kind
    def _seed(self) -> int:
        return int(self.rng.integers(2**31 - 1))

    def _ecg(self, target: int, phys: Physiology) -> np.ndarray:
        fs = self.rate
        dur = max(8, int(math.ceil(target / fs + 4)))
        clean = nk.ecg_simulate(
            duration=dur,
            sampling_rate=int(fs),
            heart_rate=phys.hr,
            heart_rate_std=phys.hr_std,
            noise=0,
            random_state=self._seed(),
        )
        _, info = nk.ecg_peaks(clean, sampling_rate=int(fs))
        r = np.asarray(info["ECG_R_Peaks"])
        cuts = np.round(r[:-1] + 0.62 * np.diff(r)).astype(int)
        return _cut(clean, cuts, target)

    def _ppg(self, target: int, phys: Physiology) -> np.ndarray:
        fs = self.rate
        dur = max(8, int(math.ceil(target / fs + 4)))
        clean = nk.ppg_simulate(
            duration=dur,
            sampling_rate=int(fs),
            heart_rate=phys.hr,
            # NeuroKit2's slow (0.05 Hz) rate modulation restarts at phase 0 in every
            # block and would bias short blocks' rate low; variability comes from
            # the inter-beat randomness instead.
            frequency_modulation=0.0,
            ibi_randomness=phys.ibi_randomness,
            drift=0,
            motion_amplitude=0,
            powerline_amplitude=0,
            burst_number=0,
            random_state=self._seed(),
        )
        peaks = np.asarray(nk.ppg_findpeaks(clean, sampling_rate=int(fs))["PPG_Peaks"])
        onsets = np.array(
            [a + int(np.argmin(clean[a:b])) for a, b in zip(peaks[:-1], peaks[1:], strict=True)]
        )
        return _cut(clean, onsets, target)

    def _eda(self, target: int, phys: Physiology) -> np.ndarray:
        fs = self.rate
        if self._scl is None:
            self._scl = phys.scl
        k = np.arange(1, target + 1)
        tau = SCL_RISE_TAU_S if phys.scl > self._scl else SCL_RECOVERY_TAU_S
        tonic = phys.scl + (self._scl - phys.scl) * np.exp(-k / (tau * fs))
        self._scl = float(tonic[-1])
        shape_len = int(SCR_SHAPE_S * fs)
        phasic = np.zeros(target + shape_len)
        phasic[: len(self._carry)] += self._carry
        n_scr = self.rng.poisson(phys.scr_per_min / 60.0 * target / fs)
        for onset in np.sort(self.rng.integers(0, target, size=n_scr)):
            shape = nk.eda_simulate(
                duration=SCR_SHAPE_S,
                sampling_rate=int(fs),
                scr_number=1,
                drift=0,
                noise=0,
                random_state=self._seed(),
            )
            shape = shape[:shape_len] - 1.0  # eda_simulate sits on a tonic level of 1
            peak = shape.max()
            if peak > 0:
                phasic[onset : onset + shape_len] += shape / peak * self.rng.uniform(*phys.scr_amp)
        self._carry = phasic[target:]
        return tonic + phasic[:target]

    # ------------------------------------------------------------ shared steps
    def _distort(self, block: np.ndarray) -> np.ndarray:
        """Add NeuroKit2 noise in absolute units (uS, mV), the same level in every block.

        ``signal_distort`` scales noise by the signal's own SD; distorting zeros
        makes the amplitude absolute, so a quiet EDA block is as noisy as a busy one.
        """
        amp, mains = NOISE_AT_1[self.kind]
        scale = self.params.noise
        if scale <= 0:
            return block
        # NeuroKit2 only renders frequencies up to a tenth of the sampling rate.
        freqs = [f for f in NOISE_FREQS[self.kind] if f <= 0.1 * self.rate] or [0.1 * self.rate]
        noise = nk.signal_distort(
            np.zeros(len(block)),
            sampling_rate=int(self.rate),
            noise_amplitude=amp * scale,
            noise_frequency=freqs,
            powerline_amplitude=mains * scale if self.rate >= 500 else 0.0,
            random_state=self._seed(),
            silent=True,
        )
        return block + np.asarray(noise, dtype=float)

    def _stitch(self, block: np.ndarray) -> np.ndarray:
        """Ramp out the baseline step between the previous block and this one."""
        block = np.array(block, dtype=float)
        if self._last is not None and self.kind != "eda":
            m = min(len(block), max(1, int(0.1 * self.rate)))
            step = self._last - block[0]
            block[:m] += step * np.linspace(1.0, 0.0, m)
        finite = block[np.isfinite(block)]
        if len(finite):
            self._last = float(finite[-1])
        return block


def _cut(clean: np.ndarray, cuts: np.ndarray, target: int) -> np.ndarray:
    """From the first quiet point to the quiet point nearest ``target`` samples later."""
    cuts = cuts[(cuts > 0) & (cuts < len(clean))]
    if len(cuts) < 2:
        return np.asarray(clean[:target], dtype=float)
    start = int(cuts[0])
    later = cuts[cuts > start]
    end = int(later[np.argmin(np.abs(later - (start + target)))])
    return np.asarray(clean[start:end], dtype=float)


def signal_rates(ecg, ppg, eda, ecg_rate, ppg_rate, eda_rate) -> dict[str, float]:
    rates = {}
    if ecg:
        rates["ecg"] = float(ecg_rate)
    if ppg:
        rates["ppg"] = float(ppg_rate)
    if eda:
        rates["eda"] = float(eda_rate)
    if not rates:
        raise ValueError("simulate at least one of ecg, ppg, eda")
    for kind, rate in rates.items():
        if not (rate >= 16 and float(rate).is_integer()):
            raise ValueError(f"{kind} rate must be a whole number of Hz >= 16, got {rate}")
    return rates
