"""Raw-sample recording: stream buffers -> the study store, with each stream's clock offset.

The session engine stores decisions and states; the raw physiology has to be
kept as well (reanalysis, audits, XDF export). A background thread copies what
each :class:`~sensors.buffer.StreamBuffer` received since its last copy into
``store.add_samples`` every ``period_s`` (so at most about a second is lost in a
crash), and the latest LSL clock offset of each source every 5 s.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np

from labmrt.errors import LabmrtError

log = logging.getLogger(__name__)

OFFSET_PERIOD_S = 5.0


class SampleRecorder:
    """Copies each buffer's new samples (and clock offset) into the store every ``period_s``.

    ``buffers`` maps a stream kind to its buffer (``AffectMonitor.buffers``);
    :attr:`n_samples` counts the samples written.
    """

    def __init__(self, buffers: dict[str, Any], store: Any, session_id: int, period_s: float = 0.5):
        self.buffers = buffers
        self.store = store
        self.session_id = session_id
        self.period_s = period_s
        self._last: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sample-recorder", daemon=True)
        self.n_samples = 0

    def start(self) -> SampleRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._copy()

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
        for kind, buf in self.buffers.items():
            data, ts = buf.get_data()
            if len(ts) == 0:
                continue
            new = ts > self._last.get(kind, -np.inf)
            if not new.any():
                continue
            self.store.add_samples(
                self.session_id, kind, buf.source_id, data[new], ts[new], buf.sfreq
            )
            self._last[kind] = float(ts[new][-1])
            self.n_samples += int(new.sum())

    def _offsets(self) -> None:
        from pylsl import local_clock

        for buf in self.buffers.values():
            offset = buf.clock_offset
            if offset is not None:
                self.store.add_clock_offset(
                    self.session_id, buf.source_id, float(local_clock()), float(offset)
                )
