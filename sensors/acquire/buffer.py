"""A ring buffer behind one LSL inlet, fed by its own acquisition thread.

Why it looks the way it does:

* The Qt thread and the feature code must never wait on the network, so one
  background thread per inlet pulls chunks into a preallocated numpy ring,
  and readers copy a window out of it. The lock only publishes indices (the
  write position and the region being written); readers copy outside it and
  retry in the rare case the writer overwrote what they were copying.
* Losses must be seen. liblsl's ``recover=True`` silently re-opens a stream
  and the caller never learns there was an outage, so inlets are opened with
  ``recover=False``: a closed source raises ``LostError`` at once, and a
  source that goes silent (crashed host, pulled cable, stalled driver) is
  declared lost after ``lost_after_s`` without samples. Either way the buffer
  re-resolves the same ``source_id`` and reconnects when it comes back; the
  hole in the timeline is recorded in :attr:`StreamBuffer.gaps`.
* Time stays on this machine's LSL clock: the inlet applies clock
  synchronisation (``proc_clocksync``) and keeps timestamps non-decreasing
  (``proc_monotonize``). Dejittering is left off on purpose: liblsl's
  dejitter fits timestamps against the sample count, which smears a stall of
  a still-connected source over the following samples and would hide the gap.
  The offsets (``time_correction``) are kept in :attr:`~StreamBuffer.clock_offsets`.

States: ``disconnected`` (before :meth:`~StreamBuffer.connect`/after
:meth:`~StreamBuffer.disconnect`), ``connecting``, ``streaming``, ``lost``, and
``invalid`` (the stream can never be used: too few channels, an absurd or
irregular rate, a string format; the reason is in :attr:`~StreamBuffer.problem`).
Listeners registered with :meth:`~StreamBuffer.on_state` are called from the
acquisition thread on every change.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pylsl
from pylsl.util import LostError

from sensors.acquire.streams import StreamDescription, find_stream

log = logging.getLogger(__name__)

#: A buffer's states, in the order a connection goes through them (see the module docstring).
STATES: tuple[str, ...] = ("disconnected", "connecting", "streaming", "lost", "invalid")

# Nominal rates a stream of each kind can sensibly have (Hz). Below the lower
# bound beats or responses cannot be resolved; above the upper bound the value
# is a configuration error. Empatica-style EDA at 4 Hz is plausible.
PLAUSIBLE_RATES: dict[str | None, tuple[float, float]] = {
    "ecg": (50.0, 20_000.0),
    "ppg": (10.0, 20_000.0),
    "eda": (1.0, 20_000.0),
    "ibi": (0.2, 10.0),
    "hr": (0.1, 100.0),
    None: (0.5, 100_000.0),
}
# Beat-level sources may be irregular (one sample per beat, nominal rate 0):
# their buffers are sized for IRREGULAR_SIZING_HZ samples a second (240 bpm),
# and they count as lost only after IRREGULAR_LOST_S without a sample.
IRREGULAR_KINDS = frozenset({"ibi", "hr"})
IRREGULAR_SIZING_HZ = 4.0
#: Seconds without a sample after which an irregular (beat-level) stream counts as lost.
IRREGULAR_LOST_S = 6.0

DEFAULT_PROCESSING_FLAGS = pylsl.proc_clocksync | pylsl.proc_monotonize


@dataclass(frozen=True)
class StateChange:
    """One state transition of a buffer, as handed to :meth:`StreamBuffer.on_state` listeners."""

    buffer: StreamBuffer
    old: str
    new: str
    t: float  # local LSL clock when the change was noticed
    reason: str


def _describe(source: StreamDescription | pylsl.StreamInfo) -> StreamDescription:
    if isinstance(source, StreamDescription):
        return source
    if isinstance(source, pylsl.StreamInfo):
        return StreamDescription.from_info(source)
    raise TypeError(f"StreamBuffer needs a StreamDescription or pylsl.StreamInfo, got {source!r}")


def check_stream(desc: StreamDescription, channel: int = 0, kind: str | None = None) -> str | None:
    """Why this stream cannot feed a physiological buffer, or None when it can.

    ``kind``: what the channel carries, when the channel metadata says more
    than the stream type (default: the stream's own kind).
    """
    kind = kind or desc.kind
    if desc.channel_format in ("string", "unknown"):
        return f"stream {desc.name!r} carries {desc.channel_format} values, not numbers"
    if desc.channel_count <= channel:
        return (
            f"stream {desc.name!r} has {desc.channel_count} channel(s), "
            f"channel index {channel} does not exist"
        )
    rate = desc.nominal_srate
    low, high = PLAUSIBLE_RATES.get(kind, PLAUSIBLE_RATES[None])
    if kind in IRREGULAR_KINDS and rate == 0:
        return None  # one sample per beat
    if not math.isfinite(rate) or rate <= 0:
        return f"stream {desc.name!r} has no regular sampling rate (nominal {rate} Hz)"
    if not low <= rate <= high:
        what = kind.upper() if kind else "a physiological signal"
        return (
            f"stream {desc.name!r} declares {rate:g} Hz, implausible for {what} "
            f"(expected {low:g}-{high:g} Hz)"
        )
    return None


class StreamBuffer:
    """The last ``bufsize_s`` seconds of one channel of one LSL stream.

    ``source`` is a :class:`~sensors.acquire.streams.StreamDescription` (from
    :func:`~sensors.acquire.discovery.find_streams`) or a resolved ``pylsl.StreamInfo``.
    ``kind`` says what ``channel`` carries when it differs from the stream's
    type (a hub's ECG channel; see :mod:`sensors.acquire.channels`); ``convert`` maps
    the channel's values to that kind's unit (:class:`sensors.kinds.units.Conversion`)
    before they are stored, so every reader sees uS, mV, s or bpm.
    """

    def __init__(
        self,
        source: StreamDescription | pylsl.StreamInfo,
        bufsize_s: float = 120.0,
        channel: int = 0,
        *,
        lost_after_s: float = 1.5,
        processing_flags: int = DEFAULT_PROCESSING_FLAGS,
        kind: str | None = None,
        convert: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        if bufsize_s <= 0:
            raise ValueError("bufsize_s must be positive")
        self.description = _describe(source)
        self.channel = int(channel)
        self._kind = kind or self.description.kind
        self.convert = convert
        self.bufsize_s = float(bufsize_s)
        self.processing_flags = processing_flags
        #: Why the stream can never be used (the ``invalid`` state), or None.
        self.problem: str | None = check_stream(self.description, self.channel, self._kind)
        rate = self.description.nominal_srate if self.problem is None else 1.0
        irregular = rate <= 0
        if irregular:
            rate = IRREGULAR_SIZING_HZ
        self._size_rate = rate
        # A silent stream is lost after lost_after_s, or after 3 sample periods for
        # very slow streams, whichever is longer.
        self.lost_after_s = max(float(lost_after_s), 3.0 / rate)
        # A timestamp jump longer than this between consecutive samples is a gap.
        self.gap_threshold_s = max(0.25, 10.0 / rate)
        if irregular:
            self.lost_after_s = max(self.lost_after_s, IRREGULAR_LOST_S)
            self.gap_threshold_s = IRREGULAR_LOST_S

        self._capacity = max(16, int(math.ceil(self.bufsize_s * rate)))
        self._data = np.full(self._capacity, np.nan)
        self._ts = np.zeros(self._capacity)
        self._written = 0  # samples ever written (absolute index of the next one)
        self._reserved = 0  # end of the region the writer may be touching
        self._lock = threading.Lock()

        self._state = "disconnected"
        self._listeners: list[Callable[[StateChange], None]] = []
        self._inlet: pylsl.StreamInlet | None = None
        self._inlet_uid: str | None = None
        self._chunk: np.ndarray | None = None
        self._max_chunk = max(32, int(rate * 0.5))
        self._last_rx = 0.0  # local clock of the last received chunk
        self._lost_since = 0.0
        self._next_resolve = 0.0
        self._next_offset = 0.0
        self._last_ts: float | None = None
        self._offset_pending = True

        self.gaps: list[tuple[float, float]] = []
        #: ``(local time, time_correction)`` pairs: the clock offsets the inlet measured.
        self.clock_offsets: deque[tuple[float, float]] = deque(maxlen=2000)
        self.n_nan = 0
        self.n_received = 0
        self.n_reconnects = 0
        self.state_log: list[StateChange] = []

        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._poll_s: float | None = None
        self._connect_timeout = 2.0

    # ------------------------------------------------------------------ public API
    @property
    def name(self) -> str:
        return self.description.name

    @property
    def kind(self) -> str | None:
        return self._kind

    @property
    def source_id(self) -> str:
        return self.description.source_id

    @property
    def sfreq(self) -> float:
        """Nominal sampling rate declared by the source (Hz)."""
        return self.description.nominal_srate

    @property
    def state(self) -> str:
        return self._state

    @property
    def clock_offset(self) -> float | None:
        """Latest ``time_correction()`` of the source (s to add to remote stamps), if known."""
        return self.clock_offsets[-1][1] if self.clock_offsets else None

    @property
    def n_written(self) -> int:
        """Samples ever written into the buffer: grows only, never reset by reading.

        Several readers share one buffer (plots, the monitor, the raw-sample
        recorder), so no read may change what another sees. A reader that needs
        "what is new" keeps its own cursor: a past value of this counter, handed
        to :meth:`get_since`.
        """
        return self._written

    @property
    def n_samples(self) -> int:
        """Samples currently held (at most the buffer capacity)."""
        return min(self._written, self._capacity)

    @property
    def observed_rate(self) -> float | None:
        """Sampling rate measured from the timestamps of the last 10 s (Hz), or None."""
        _, ts = self._copy_last(int(math.ceil(10.0 * max(self.sfreq, 1.0))) + 1)
        if len(ts) < 3 or ts[-1] <= ts[0]:
            return None
        return (len(ts) - 1) / (ts[-1] - ts[0])

    def on_state(self, callback: Callable[[StateChange], None]) -> Callable[[], None]:
        """Call ``callback(StateChange)`` on every state change; returns an unsubscribe function.

        Callbacks run on the acquisition thread: keep them short, and hop to the
        GUI thread (queued signal) before touching widgets.
        """
        self._listeners = [*self._listeners, callback]

        def unsubscribe() -> None:
            self._listeners = [c for c in self._listeners if c is not callback]

        return unsubscribe

    def connect(self, timeout: float = 2.0, acquisition_delay: float | None = 0.1) -> StreamBuffer:
        """Open the inlet and start acquiring.

        ``acquisition_delay`` is the longest the thread waits for a sample
        before checking for loss and stop requests (a chunk is taken the moment
        it arrives, so this does not add latency); ``None`` starts no thread
        and leaves acquisition to explicit :meth:`acquire` calls (deterministic
        tests). Never raises for stream trouble: an unusable stream ends in
        state ``invalid``, an unreachable one in ``lost`` (and is retried).
        """
        if self._state not in ("disconnected",):
            raise RuntimeError(f"buffer for {self.name!r} is already connected ({self._state})")
        self._connect_timeout = float(timeout)
        self._stop.clear()
        if self.problem is not None:
            self._set_state("invalid", self.problem)
            return self
        self._set_state("connecting", "opening inlet")
        info = self.description.info
        if info is None:
            found = find_stream(source_id=self.source_id, name=self.name, timeout=timeout)
            info = found.info if found else None
        if info is None or not self._open(info, timeout):
            self._mark_lost("could not open the stream")
        self._poll_s = acquisition_delay
        if acquisition_delay is not None:
            self._thread = threading.Thread(
                target=self._run, name=f"lsl-acquire-{self.name}", daemon=True
            )
            self._thread.start()
        return self

    def disconnect(self) -> None:
        """Stop the thread and close the inlet; the buffered data stays readable."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self._drop_inlet()
        if self._state != "disconnected":
            self._set_state("disconnected", "disconnected by the application")

    def __enter__(self) -> StreamBuffer:
        if self._state == "disconnected":
            self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.disconnect()

    def acquire(self) -> int:
        """Pull whatever is available now (manual mode); returns the number of new samples."""
        if self._state in ("disconnected", "invalid"):
            return 0
        return self._step(wait=0.0)

    def get_data(self, winsize_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the last ``winsize_s`` seconds (all held data when None).

        Returns ``(data, timestamps)``, both 1-D float64, oldest first, timestamps
        on the local LSL clock. The window is cut by timestamp, so a gap inside
        it shows up as fewer samples, never as invented ones. NaN samples are
        passed through as they came.
        """
        if winsize_s is None:
            n = self._capacity
        else:
            n = int(math.ceil(max(winsize_s, 0.0) * self._size_rate)) + 1
        data, ts = self._copy_last(n)
        if winsize_s is not None and len(ts):
            # A sample that sits on the window's edge to within 1% of a sample period is
            # outside it: LSL stamps carry rounding noise of ~1e-6 s, and a window of
            # 0.25 s at 100 Hz must hold 25 samples whichever way that noise falls.
            keep = ts > ts[-1] - winsize_s + 0.01 / self._size_rate
            data, ts = data[keep], ts[keep]
        return data, ts

    def get_since(self, cursor: int) -> tuple[np.ndarray, np.ndarray, int]:
        """The samples written after ``cursor``: ``(data, timestamps, new_cursor)``.

        ``cursor`` is a value of :attr:`n_written` (0 for everything held); pass
        the returned ``new_cursor`` on the next call to get each sample exactly
        once. Reading changes nothing for other readers. Samples overwritten
        before they were read are skipped: then ``new_cursor - cursor`` exceeds
        ``len(data)`` by their number.
        """
        data, ts, end = self._copy(lambda end: max(0, min(int(cursor), end)))
        return data, ts, end

    def status(self) -> dict[str, object]:
        """A JSON-ready summary for monitors and logs."""
        rate = self.observed_rate
        warning = None
        if rate is not None and self.sfreq > 0 and abs(rate / self.sfreq - 1.0) > 0.2:
            warning = f"observed rate {rate:.1f} Hz differs from nominal {self.sfreq:g} Hz"
        return {
            "name": self.name,
            "kind": self.kind,
            "source_id": self.source_id,
            "state": self._state,
            "problem": self.problem,
            "warning": warning,
            "nominal_srate": self.sfreq,
            "observed_rate": rate,
            "clock_offset": self.clock_offset,
            "n_received": self.n_received,
            "n_nan": self.n_nan,
            "n_gaps": len(self.gaps),
            "n_reconnects": self.n_reconnects,
        }

    # ------------------------------------------------------------------ acquisition
    def _run(self) -> None:
        wait = self._poll_s or 0.1
        while not self._stop.is_set():
            try:
                got = self._step(wait=wait)
            except Exception as err:  # noqa: BLE001 - the thread must survive and report
                log.exception("acquisition of %s failed", self.name)
                self._drop_inlet()
                self._mark_lost(f"acquisition error: {type(err).__name__}: {err}")
                got = 0
            if got == 0 and self._inlet is None:
                self._stop.wait(wait)

    def _step(self, wait: float) -> int:
        now = pylsl.local_clock()
        if self._inlet is None:
            if now >= self._next_resolve:
                self._try_reconnect(now)
            return 0
        if now >= self._next_offset:
            self._refresh_offset(now)
        total = 0
        while True:
            try:
                _, ts = self._inlet.pull_chunk(
                    timeout=wait if total == 0 else 0.0,
                    max_samples=self._max_chunk,
                    dest_obj=self._chunk,
                    min_samples=1 if wait > 0 and total == 0 else None,
                    as_numpy=True,
                )
            except LostError:
                self._drop_inlet()
                self._mark_lost("the source closed the stream")
                return total
            n = len(ts)
            if n:
                values = self._chunk[:n, self.channel]
                if self.convert is not None:
                    values = self.convert(values)
                self._write(values, np.asarray(ts, dtype=float))
                total += n
            if n < self._max_chunk:
                break
        now = pylsl.local_clock()
        if total:
            self._last_rx = now
            if self._state != "streaming":
                self._set_state("streaming", "samples arriving")
        elif (
            self._state in ("streaming", "connecting") and now - self._last_rx >= self.lost_after_s
        ):
            self._mark_lost(f"no samples for {now - self._last_rx:.1f} s")
        elif self._state == "lost" and now >= self._next_resolve:
            # Still silent on the old inlet: the source may have restarted
            # elsewhere (new uid, same source id) without the old link noticing.
            self._next_resolve = now + 1.0
            found = self._resolve(0.1)
            if found is not None and found.uid != self._inlet_uid:
                self._drop_inlet()
                self._try_reconnect(now, found)
        return total

    def _write(self, values: np.ndarray, ts: np.ndarray) -> None:
        n = len(ts)
        if n > self._capacity:
            values, ts, n = values[-self._capacity :], ts[-self._capacity :], self._capacity
        if self._last_ts is not None and ts[0] - self._last_ts > self.gap_threshold_s:
            self.gaps.append((self._last_ts, float(ts[0])))
        self._last_ts = float(ts[-1])
        nan = int(np.count_nonzero(~np.isfinite(values)))
        with self._lock:
            start = self._written
            self._reserved = start + n
        i = start % self._capacity
        first = min(n, self._capacity - i)
        self._data[i : i + first] = values[:first]
        self._ts[i : i + first] = ts[:first]
        if first < n:
            self._data[: n - first] = values[first:]
            self._ts[: n - first] = ts[first:]
        with self._lock:
            self._written = start + n
        self.n_nan += nan
        self.n_received += n

    def _copy_last(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Copy the newest ``n`` samples."""
        data, ts, _ = self._copy(lambda end: end - n)
        return data, ts

    def _copy(self, first: Callable[[int], int]) -> tuple[np.ndarray, np.ndarray, int]:
        """Copy samples ``first(end)`` .. ``end`` (absolute indices) without holding the lock.

        ``end`` is the write position when the copy starts; indices older than
        the capacity are no longer held and are left out. Returns ``(data, ts, end)``.
        """
        for _ in range(3):
            with self._lock:
                end = self._written
            start = max(first(end), end - self._capacity, 0)
            idx = np.arange(start, end) % self._capacity
            data, ts = self._data[idx], self._ts[idx]
            with self._lock:
                reserved = self._reserved
            if reserved - self._capacity <= start:
                return data, ts, end  # nothing we copied was overwritten meanwhile
        with self._lock:  # a burst kept overtaking us: copy under the lock once
            end = self._written
            start = max(first(end), end - self._capacity, 0)
            idx = np.arange(start, end) % self._capacity
            return self._data[idx], self._ts[idx], end

    # ------------------------------------------------------------------ connection
    def _open(self, info: pylsl.StreamInfo, timeout: float) -> bool:
        try:
            inlet = pylsl.StreamInlet(
                info,
                max_buflen=max(10, int(math.ceil(self.bufsize_s))),
                recover=False,
                processing_flags=self.processing_flags,
            )
            inlet.open_stream(timeout=timeout)
        except (LostError, TimeoutError, RuntimeError) as err:
            log.info("could not open %s: %s", self.name, err)
            return False
        dtype = np.float64 if info.channel_format() == pylsl.cf_double64 else np.float32
        if info.channel_format() in (pylsl.cf_int32, pylsl.cf_int16, pylsl.cf_int8):
            dtype = {pylsl.cf_int32: np.int32, pylsl.cf_int16: np.int16, pylsl.cf_int8: np.int8}[
                info.channel_format()
            ]
        elif info.channel_format() == pylsl.cf_int64:
            dtype = np.int64
        self._chunk = np.empty((self._max_chunk, info.channel_count()), dtype=dtype)
        self._inlet = inlet
        self._inlet_uid = info.uid()
        now = pylsl.local_clock()
        self._last_rx = now
        # The first clock offset takes ~0.6 s to estimate: the acquisition step
        # fetches it, so connect() returns at once.
        self._next_offset = now
        self._offset_pending = True
        return True

    def _drop_inlet(self) -> None:
        inlet, self._inlet = self._inlet, None
        if inlet is not None:
            # closing a dead link may fail; there is nothing left to keep
            with contextlib.suppress(Exception):
                inlet.close_stream()
            del inlet

    def _resolve(self, timeout: float) -> StreamDescription | None:
        return find_stream(source_id=self.source_id or None, name=self.name, timeout=timeout)

    def _try_reconnect(self, now: float, found: StreamDescription | None = None) -> None:
        self._next_resolve = now + 0.5
        if found is None:
            found = self._resolve(0.2)
        if found is None:
            return
        problem = check_stream(found, self.channel, self._kind)
        if problem is not None:
            self.problem = problem
            self._set_state("invalid", f"the source came back unusable: {problem}")
            self._stop.set()
            return
        if self._open(found.info, min(self._connect_timeout, 1.0)):
            self.description = found
            self.n_reconnects += 1
            self._set_state("connecting", "reconnected, waiting for samples")

    def _refresh_offset(self, now: float) -> None:
        self._next_offset = now + 5.0
        timeout = 2.0 if self._offset_pending else 0.0
        with contextlib.suppress(TimeoutError, LostError):
            offset = float(self._inlet.time_correction(timeout=timeout))
            self.clock_offsets.append((pylsl.local_clock(), offset))
            self._offset_pending = False

    def _mark_lost(self, reason: str) -> None:
        self._lost_since = pylsl.local_clock()
        self._next_resolve = self._lost_since + (0.5 if self._inlet is None else 1.0)
        if self._state != "lost":
            self._set_state("lost", reason)

    def _set_state(self, new: str, reason: str) -> None:
        old, self._state = self._state, new
        if old == new:
            return
        change = StateChange(self, old, new, pylsl.local_clock(), reason)
        self.state_log.append(change)
        log.info("%s: %s -> %s (%s)", self.name, old, new, reason)
        for callback in self._listeners:
            try:
                callback(change)
            except Exception:  # noqa: BLE001 - a listener bug must not stop acquisition
                log.exception("state listener of %s failed", self.name)

    def __repr__(self) -> str:
        return (
            f"StreamBuffer({self.name!r}, kind={self.kind}, state={self._state}, "
            f"sfreq={self.sfreq:g}, held={self.n_samples})"
        )


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    """Poll ``predicate`` until true or ``timeout`` s pass (for scripts and tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
