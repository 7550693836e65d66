"""Simulated physiology as real LSL outlets on this machine, streamed in real time.

The app, the monitor and the tests meet simulated sensors exactly as they
meet real ones: through LSL outlets with channel metadata, found by
discovery and read by buffers. Blocks of signal (:mod:`sensors.simulate.synth`)
are generated ahead on one thread and pushed on another at their sampling
rate, so pushing never waits for NeuroKit2.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections import deque

import numpy as np
import pylsl

from sensors.simulate.schedule import ArousalSchedule
from sensors.simulate.synth import SignalSynth, SimulationParams, signal_rates

log = logging.getLogger(__name__)

STREAM_TYPES = {"ecg": "ECG", "ppg": "PPG", "eda": "EDA"}
UNITS = {"ecg": "millivolts", "ppg": "arbitrary", "eda": "microsiemens"}


class SampleFeed:
    """Samples generated ahead of the pusher for one kind."""

    def __init__(self, synth: SignalSynth):
        self.synth = synth
        self.blocks: deque[np.ndarray] = deque()
        self.generated = 0  # samples in self.blocks + already pushed
        self.pushed = 0
        self.outlet: pylsl.StreamOutlet | None = None
        self.paused = False

    def take(self, n: int) -> np.ndarray:
        parts, have = [], 0
        while have < n and self.blocks:
            block = self.blocks.popleft()
            if have + len(block) > n:
                self.blocks.appendleft(block[n - have :])
                block = block[: n - have]
            parts.append(block)
            have += len(block)
        return np.concatenate(parts) if parts else np.zeros(0)


class SimulatedSensors:
    """NeuroKit2 physiology following an arousal schedule, as real LSL outlets.

    One outlet per simulated kind (type ``ECG``/``PPG``/``EDA``, name
    ``<name_prefix>-<kind>``, two double channels: the signal and the sample
    index), plus a ``Markers`` outlet ``<name_prefix>-truth`` that sends the
    true state at the start and at every change, stamped at the change. Sample
    ``i`` is stamped ``t0 + i / rate`` on the local LSL clock, where ``t0`` is
    the clock at :meth:`start`. Blocks are generated ``lead_s`` ahead on a
    background thread, so pushing (every ``chunk_s``) never waits for NeuroKit2.
    """

    def __init__(
        self,
        seed: int = 0,
        ecg: bool = True,
        ppg: bool = False,
        eda: bool = True,
        schedule: ArousalSchedule | None = None,
        ecg_rate: float = 500,
        ppg_rate: float = 100,
        eda_rate: float = 64,
        hr_calm: tuple[float, float] = (60.0, 72.0),
        hr_aroused: tuple[float, float] = (85.0, 100.0),
        noise: float = 1.0,
        name_prefix: str = "labmrt-sim",
        source_id_prefix: str | None = None,
        duration: float | None = None,
        chunk_s: float = 0.05,
        nan_share: float = 0.0,
        lead_s: float = 12.0,
    ):
        self.rates = signal_rates(ecg, ppg, eda, ecg_rate, ppg_rate, eda_rate)
        self.seed = int(seed)
        self.schedule = schedule or ArousalSchedule.random(seed, duration or 24 * 3600.0)
        self.params = SimulationParams(
            self.seed, tuple(hr_calm), tuple(hr_aroused), noise, nan_share
        )
        self.name_prefix = name_prefix
        self.source_id_prefix = source_id_prefix or f"labmrt-sim-{uuid.uuid4().hex[:12]}"
        self.duration = duration
        self.chunk_s = float(chunk_s)
        self.lead_s = float(lead_s)
        self.t0: float | None = None
        self.underruns = 0
        self._feeds: dict[str, SampleFeed] = {}
        self._truth: pylsl.StreamOutlet | None = None
        self._truth_sent = 0  # segments announced
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._done = threading.Event()

    # ------------------------------------------------------------ description
    def stream_name(self, kind: str) -> str:
        return f"{self.name_prefix}-{kind}"

    def source_id(self, kind: str) -> str:
        return f"{self.source_id_prefix}-{kind}"

    @property
    def streams(self) -> list[dict[str, object]]:
        """The outlets this simulator opens: name, type, rate, source_id, kind."""
        rows = [
            {
                "name": self.stream_name(k),
                "type": STREAM_TYPES[k],
                "rate": r,
                "source_id": self.source_id(k),
                "kind": k,
            }
            for k, r in self.rates.items()
        ]
        rows.append(
            {
                "name": self.stream_name("truth"),
                "type": "Markers",
                "rate": 0.0,
                "source_id": self.source_id("truth"),
                "kind": "truth",
            }
        )
        return rows

    @property
    def running(self) -> bool:
        return bool(self._threads) and not self._done.is_set()

    def truth_at(self, lsl_time: float) -> str:
        """The true state at an LSL time (after :meth:`start`)."""
        if self.t0 is None:
            raise RuntimeError("the simulator has not started")
        return self.schedule.state_at(lsl_time - self.t0)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> SimulatedSensors:
        if self._threads:
            raise RuntimeError("the simulator is already running")
        for kind, rate in self.rates.items():
            feed = SampleFeed(SignalSynth(kind, rate, self.schedule, self.params))
            feed.outlet = pylsl.StreamOutlet(self._info(kind, rate), 0, 60)
            self._feeds[kind] = feed
            self._fill(feed, until_s=1.0)  # the first second is ready before t0
        self._truth = pylsl.StreamOutlet(self._truth_info(), 1, 60)
        self._stop.clear()
        self._done.clear()
        self.t0 = pylsl.local_clock()
        self._threads = [
            threading.Thread(target=self._generate_loop, name="sim-generate", daemon=True),
            threading.Thread(target=self._push_loop, name="sim-push", daemon=True),
        ]
        for th in self._threads:
            th.start()
        return self

    def stop(self) -> None:
        """Stop pushing and close the outlets (inlets see the streams disappear)."""
        self._stop.set()
        for th in self._threads:
            th.join(timeout=5.0)
        self._threads = []
        for feed in self._feeds.values():
            feed.outlet = None
        self._truth = None
        self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until ``duration`` has been streamed (or stop); True when finished."""
        return self._done.wait(timeout)

    def pause(self, *kinds: str) -> None:
        """Stop pushing the given kinds (all when none given): a stalled device.

        The samples that fall due meanwhile are dropped on :meth:`resume`, so
        receivers see a real gap in the timeline.
        """
        for kind in kinds or tuple(self._feeds):
            self._feeds[kind].paused = True

    def resume(self, *kinds: str) -> None:
        for kind in kinds or tuple(self._feeds):
            self._feeds[kind].paused = False

    def __enter__(self) -> SimulatedSensors:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ threads
    def _fill(self, feed: SampleFeed, until_s: float) -> None:
        target = int(until_s * feed.synth.rate)
        while feed.generated < target and not self._stop.is_set():
            block = feed.synth.next_block()
            feed.blocks.append(block)
            feed.generated += len(block)

    def _generate_loop(self) -> None:
        try:
            while not self._stop.is_set():
                elapsed = pylsl.local_clock() - self.t0
                for feed in self._feeds.values():
                    self._fill(feed, elapsed + self.lead_s)
                self._stop.wait(0.25)
        except Exception:  # noqa: BLE001 - report and stop rather than die silently
            log.exception("signal generation failed")
            self._stop.set()

    def _push_loop(self) -> None:
        try:
            while not self._stop.is_set():
                now = pylsl.local_clock()
                elapsed = now - self.t0
                if self.duration is not None:
                    elapsed = min(elapsed, self.duration)
                self._push_truth(elapsed)
                for kind, feed in self._feeds.items():
                    self._push(kind, feed, elapsed)
                if self.duration is not None and elapsed >= self.duration:
                    break
                self._stop.wait(self.chunk_s)
        except Exception:  # noqa: BLE001
            log.exception("pushing simulated samples failed")
        finally:
            self._done.set()

    def _push(self, kind: str, feed: SampleFeed, elapsed: float) -> None:
        rate = feed.synth.rate
        due = int(math.floor(elapsed * rate)) + 1 - feed.pushed
        if due <= 0:
            return
        values = feed.take(due)
        if len(values) < due:
            self.underruns += 1
        if len(values) == 0:
            return
        first = feed.pushed
        feed.pushed += len(values)
        if feed.paused:
            return  # the device is stalled: these samples are never sent
        chunk = np.column_stack([values, np.arange(first, first + len(values), dtype=float)])
        stamp = self.t0 + (feed.pushed - 1) / rate
        outlet = feed.outlet
        if outlet is not None:
            outlet.push_chunk(np.ascontiguousarray(chunk), stamp)

    def _push_truth(self, elapsed: float) -> None:
        while self._truth_sent < len(self.schedule.segments):
            start, state = self.schedule.segments[self._truth_sent]
            if start > elapsed:
                break
            if self._truth is not None:
                self._truth.push_sample([state], self.t0 + start)
            self._truth_sent += 1

    # ------------------------------------------------------------ stream info
    def _info(self, kind: str, rate: float) -> pylsl.StreamInfo:
        info = pylsl.StreamInfo(
            self.stream_name(kind), STREAM_TYPES[kind], 2, rate, "double64", self.source_id(kind)
        )
        desc = info.desc()
        desc.append_child_value("manufacturer", "labmrt simulator")
        chans = desc.append_child("channels")
        for label, unit, ctype in (
            (STREAM_TYPES[kind], UNITS[kind], STREAM_TYPES[kind]),
            ("sample_index", "count", "MISC"),
        ):
            ch = chans.append_child("channel")
            ch.append_child_value("label", label)
            ch.append_child_value("unit", unit)
            ch.append_child_value("type", ctype)
        sim = desc.append_child("labmrt")
        sim.append_child_value("seed", str(self.seed))
        sim.append_child_value("noise", str(self.params.noise))
        return info

    def _truth_info(self) -> pylsl.StreamInfo:
        info = pylsl.StreamInfo(
            self.stream_name("truth"),
            "Markers",
            1,
            pylsl.IRREGULAR_RATE,
            "string",
            self.source_id("truth"),
        )
        info.desc().append_child_value("manufacturer", "labmrt simulator")
        return info
