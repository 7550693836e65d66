"""The lab's messages on Lab Streaming Layer, the network every lab running labmrt has.

Two kinds of stream, each one string channel at an irregular rate, found by
type and by the study id in their ``source_id``:

* the console's **command stream** (type ``labmrt.commands``,
  ``source_id`` ``labmrt-console-STUDY-RANDOM``): signed commands
  (:mod:`labmrt.lab.wire`);
* each station's **status stream** (type ``labmrt.station``, ``source_id``
  ``labmrt-station-STUDY-NAME``): a status message every second (the
  heartbeat) and the station's signed acknowledgements.

A station's ``source_id`` does not change when it restarts, so the console's
inlet picks the station up again by itself (LSL recovers inlets whose source
comes back). Each side keeps a :class:`pylsl.ContinuousResolver` running, so a
console started after the stations, or a second console, finds them, and a
restarted console is found by the stations. Messages are JSON texts; the
receiving side pulls without blocking, so a caller on a GUI thread never waits
on the network.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from typing import Any

log = logging.getLogger(__name__)

COMMAND_TYPE = "labmrt.commands"
STATUS_TYPE = "labmrt.station"


def _outlet(name: str, stype: str, source_id: str, study_id: str, **desc: str):
    import pylsl

    info = pylsl.StreamInfo(name, stype, 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, source_id)
    node = info.desc()
    node.append_child_value("manufacturer", "labmrt")
    node.append_child_value("study", study_id)
    for key, value in desc.items():
        node.append_child_value(key, value)
    return pylsl.StreamOutlet(info, chunk_size=1, max_buffered=60)


class _Listener:
    """Inlets to every stream of one type and study, opened as the resolver finds them.

    A thread of its own resolves, opens inlets (which can take a second) and
    pulls; callers only take what has arrived, so they never wait on the network.
    """

    def __init__(self, stype: str, prefix: str, tick_s: float = 0.02):
        import pylsl

        self._pylsl = pylsl
        pred = f"type='{stype}' and starts-with(source_id,'{prefix}')"
        self._resolver = pylsl.ContinuousResolver(pred=pred, forget_after=5.0)
        self.inlets: dict[str, Any] = {}
        self._queue: deque[tuple[str, dict]] = deque()
        self._stop = threading.Event()
        self._tick_s = tick_s
        self._next_refresh = 0.0
        self._thread = threading.Thread(target=self._loop, name=f"lsl-{stype}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._refresh()
                self._pull()
            except Exception:  # noqa: BLE001 - the listener must outlive a network hiccup
                log.exception("LSL listener")
            self._stop.wait(self._tick_s)

    def _refresh(self) -> None:
        now = time.monotonic()
        if now < self._next_refresh:
            return
        self._next_refresh = now + 0.5
        for info in self._resolver.results():
            uid = info.source_id()
            if uid not in self.inlets:
                inlet = self._pylsl.StreamInlet(info, max_buflen=30, recover=True)
                inlet.open_stream(timeout=2.0)
                self.inlets[uid] = inlet

    def _pull(self) -> None:
        for uid, inlet in list(self.inlets.items()):
            try:
                texts, _ = inlet.pull_chunk(timeout=0.0)
            except self._pylsl.LostError:
                continue
            for (text,) in texts:
                try:
                    doc = json.loads(text)
                except ValueError:
                    doc = {"text": text}
                if isinstance(doc, dict):
                    doc.setdefault("_text", text)
                    self._queue.append((uid, doc))

    def pull(self) -> list[tuple[str, dict]]:
        """Every message that has arrived, as (source_id, parsed JSON); never blocks."""
        out = []
        while self._queue:
            out.append(self._queue.popleft())
        return out

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for inlet in self.inlets.values():
            inlet.close_stream()
        self.inlets.clear()


class ConsoleLink:
    """The console's ends: one command outlet, inlets to every station of the study."""

    def __init__(self, study_id: str):
        self.study_id = study_id
        self.source_id = f"labmrt-console-{study_id}-{uuid.uuid4().hex[:8]}"
        self._outlet = _outlet("labmrt-console", COMMAND_TYPE, self.source_id, study_id)
        self._listener = _Listener(STATUS_TYPE, f"labmrt-station-{study_id}-")

    def send(self, text: str) -> None:
        self._outlet.push_sample([text])

    def have_stations(self) -> bool:
        return self._outlet.have_consumers()

    def poll(self) -> list[dict]:
        """Status messages and acknowledgements received since the last call."""
        return [doc for _, doc in self._listener.pull()]

    def close(self) -> None:
        self._listener.close()
        self.__dict__.pop("_outlet", None)  # the stream leaves the network


class StationLink:
    """A station's ends: its status outlet, inlets to every console of its study."""

    def __init__(self, study_id: str, station: str):
        self.study_id = study_id
        self.station = station
        self.source_id = f"labmrt-station-{study_id}-{station}"
        self._outlet = _outlet(
            f"labmrt-station-{station}", STATUS_TYPE, self.source_id, study_id, station=station
        )
        self._listener = _Listener(COMMAND_TYPE, f"labmrt-console-{study_id}-")

    def publish(self, text: str) -> None:
        self._outlet.push_sample([text])

    def commands(self) -> list[str]:
        """Texts received on any console's command stream since the last call."""
        return [doc["_text"] for _, doc in self._listener.pull()]

    def close(self) -> None:
        self._listener.close()
        self.__dict__.pop("_outlet", None)  # the stream leaves the network
