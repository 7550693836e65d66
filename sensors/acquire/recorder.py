"""Raw-sample recording: stream buffers -> the study store, with each stream's clock offset.

The session engine stores decisions and states; the raw physiology has to be
kept as well (reanalysis, audits, XDF export). A background thread copies what
each :class:`~sensors.acquire.buffer.StreamBuffer` received since its last copy into
``store.add_samples`` every ``period_s`` (so at most about a second is lost in a
crash), and the latest LSL clock offset of each source every 5 s. It reads the
buffers through its own cursors, so plots and the monitor can read the same
buffers at any rate without taking samples away from the recording.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from labmrt.errors import LabmrtError

log = logging.getLogger(__name__)

OFFSET_PERIOD_S = 5.0


class SampleRecorder:
    """Copies each buffer's new samples (and clock offset) into the store every ``period_s``.

    ``buffers`` maps a stream kind to its buffer (``AffectMonitor.buffers``);
    :attr:`n_samples` counts the samples written, :attr:`n_missed` those that
    were overwritten in a buffer before they could be copied (a stall longer
    than the buffer holds).
    """

    def __init__(self, buffers: dict[str, Any], store: Any, session_id: int, period_s: float = 0.5):
        self.buffers = buffers
        self.store = store
        self.session_id = session_id
        self.period_s = period_s
        self._cursor: dict[str, int] = {}
        # stop() copies the tail itself; if the thread is still inside a slow
        # copy (its join timed out), the lock keeps the two from writing the
        # same samples twice: cursors move under it.
        self._copy_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sample-recorder", daemon=True)
        self.n_samples = 0  #: samples written to the store
        self.n_missed = 0  #: samples overwritten in a buffer before they were copied

    def start(self) -> SampleRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop and write the last samples; blocks up to 5 s (the app calls it off its GUI thread)."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._copy()
        self._offsets()  # a recording shorter than the offset period still gets one

    def _run(self) -> None:
        next_offset = 0.0
        while not self._stop.wait(self.period_s):
            try:
                self._copy()
                if time.monotonic() >= next_offset:
                    self._offsets()
                    next_offset = time.monotonic() + OFFSET_PERIOD_S
            except LabmrtError as err:  # full disk: the session's next write stops it
                log.error("raw samples not recorded: %s", err.message)
                return

    def _copy(self) -> None:
        with self._copy_lock:
            self._copy_new_samples()

    def _copy_new_samples(self) -> None:
        for kind, buf in self.buffers.items():
            cursor = self._cursor.get(kind, 0)
            data, ts, new_cursor = buf.get_since(cursor)
            missed = new_cursor - cursor - len(ts)
            if missed > 0 and cursor > 0:
                self.n_missed += missed
                log.warning(
                    "%d %s samples were overwritten before they were recorded", missed, kind
                )
            if len(ts):
                self.store.add_samples(self.session_id, kind, buf.source_id, data, ts, buf.sfreq)
                self.n_samples += len(ts)
            self._cursor[kind] = new_cursor

    def _offsets(self) -> None:
        from pylsl import local_clock

        for buf in self.buffers.values():
            offset = buf.clock_offset
            if offset is not None:
                self.store.add_clock_offset(
                    self.session_id, buf.source_id, float(local_clock()), float(offset)
                )
