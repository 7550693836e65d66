"""The lab's messages on Lab Streaming Layer, the network every lab running labmrt has.

Two kinds of stream, each one string channel at an irregular rate, found by
type and by the study id in their ``source_id``:

* the console's **command stream** (type ``labmrt.commands``,
  ``source_id`` ``labmrt-console-STUDY-RANDOM``): sealed commands
  (:mod:`labmrt.lab.wire`);
* each station's **status stream** (type ``labmrt.station``, ``source_id``
  ``labmrt-station-STUDY-NAME``): a sealed heartbeat every second
  (:mod:`labmrt.lab.heartbeat`) and the station's sealed acknowledgements.

Anyone on the network can publish streams like these, so reading is built to
survive them. Each side keeps a :class:`pylsl.ContinuousResolver` running and
gives **every stream it finds a reader of its own**: a thread with its own
inlet (``recover=False``, a small buffer), which opens it with a timeout and
pulls raw bytes with a timeout, so one stream's flood, junk or silence never
delays another's. A stream that is lost (the reader's inlet raises, e.g.
pylsl's ``LostError``, which is ``pylsl.util.LostError`` in pylsl 1.18, or its
``TimeoutError`` on opening) is dropped and reported by :meth:`_Listener.gone`;
if the resolver lists it, or a stream of the same name, again, a new reader
opens it. A reader that stays inside one liblsl call longer than
:data:`STUCK_S` (liblsl can block in a pull when a stream vanishes just as it
connects) is abandoned by the listener's watchdog and replaced by a fresh
one (time the whole process was suspended does not count). Bytes longer than :data:`labmrt.lab.envelope.MAX_TEXT` are dropped on
arrival (their first bytes and length go on, to be refused and logged); each stream keeps at most :data:`QUEUE` messages waiting (the oldest
go first). Callers only take what has arrived (:meth:`_Listener.pull`), so a
caller on a GUI thread never waits on the network.

A station's ``source_id`` does not change when it restarts, so the console
finds it again by itself; a console started after the stations, or a second
console, finds them, and a restarted console is found by the stations.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from labmrt.lab.envelope import MAX_TEXT
from labmrt.lab.logbook import RateLimit

log = logging.getLogger(__name__)

COMMAND_TYPE = "labmrt.commands"
STATUS_TYPE = "labmrt.station"
OPEN_S = 2.0  # opening a stream (its full description) may take this long
PULL_S = 0.2  # one pull waits at most this long for a message
STUCK_S = 5.0  #: a reader inside one liblsl call for longer is taken for stuck
RETRY_S = 1.0  # a stream whose reader ended is opened again after this long
TICK_S = 0.25  # the watchdog looks this often
MAX_STREAMS = 64  # streams of one kind read at once
MAX_STUCK = 16  # abandoned readers whose threads may still be blocked in liblsl
QUEUE = 256  #: messages waiting per stream
BUFLEN = 1  # liblsl's buffer per inlet: for an irregular stream, 100 messages


@dataclass(frozen=True)
class Message:
    """One received text, with the stream it came on (all of it is the sender's say-so)."""

    data: bytes  # the first bytes only when it was longer than MAX_TEXT
    source_id: str
    uid: str
    host: str
    size: int = -1  # its length as sent (-1: len(data))


def _outlet(name: str, stype: str, source_id: str, study_id: str, **desc: str):
    import pylsl

    info = pylsl.StreamInfo(name, stype, 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, source_id)
    node = info.desc()
    node.append_child_value("manufacturer", "labmrt")
    node.append_child_value("study", study_id)
    for key, value in desc.items():
        node.append_child_value(key, value)
    return pylsl.StreamOutlet(info, chunk_size=1, max_buffered=60)


class _Reader:
    """One stream's inlet on a thread of its own (see the module docstring)."""

    def __init__(self, pylsl: Any, info: Any):
        self._pylsl = pylsl
        self._info = info
        self.uid = str(info.uid())
        self.source_id = str(info.source_id())
        self.host = str(info.hostname())
        self.queue: deque[Message] = deque(maxlen=QUEUE)
        self.busy_since: float | None = time.monotonic()
        self.done = False
        self.ended = ""  # why the reader stopped
        self.too_large = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(
            target=self._run, name=f"lsl-in-{self.source_id[:40]}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        inlet = None
        try:
            inlet = self._pylsl.StreamInlet(self._info, max_buflen=BUFLEN, recover=False)
            inlet.open_stream(timeout=OPEN_S)
            while not self._stop.is_set():
                self.busy_since = time.monotonic()
                samples, _ = inlet.pull_chunk(
                    timeout=PULL_S, max_samples=32, min_samples=1, as_numpy=True
                )
                self.busy_since = None
                if self._stop.is_set():
                    break  # abandoned or closed: what it pulled goes nowhere
                for row in samples:
                    self._take(row[0])
        except Exception as err:  # noqa: BLE001 - pylsl's Lost/TimeoutError and anything else
            self.ended = f"{type(err).__name__}: {err}"[:200]
        finally:
            self.busy_since = None
            self.done = True
            if inlet is not None:
                with contextlib.suppress(Exception):  # a stream already gone
                    inlet.close_stream()

    def _take(self, data: Any) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        data = bytes(data)
        size = len(data)
        if size > MAX_TEXT:  # kept as a head and a size, so it is refused and logged briefly
            self.too_large += 1
            data = data[:200]
        self.queue.append(Message(data, self.source_id, self.uid, self.host, size))

    def stuck(self, now: float) -> bool:
        since = self.busy_since
        return not self.done and since is not None and now - since > STUCK_S

    def stop(self) -> None:
        self._stop.set()


class _Listener:
    """Readers for every stream of one type and study, kept alive by a watchdog thread."""

    def __init__(self, stype: str, prefix: str, *, pylsl: Any = None):
        if pylsl is None:
            import pylsl
        self._pylsl = pylsl
        pred = f"type='{stype}' and starts-with(source_id,'{prefix}')"
        self._resolver = pylsl.ContinuousResolver(pred=pred, forget_after=5.0)
        self.readers: dict[str, _Reader] = {}
        self.abandoned: list[_Reader] = []
        self._draining: list[_Reader] = []
        self._gone: deque[str] = deque(maxlen=1024)
        self._retry_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._limit = RateLimit(per_s=0.2, burst=5)
        self._last_tick = time.monotonic()
        self._grace_until = 0.0
        self._thread = threading.Thread(target=self._loop, name=f"lsl-{stype}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._supervise()
            except Exception:  # noqa: BLE001 - the watchdog must outlive any hiccup
                if self._limit.allow()[0]:
                    log.exception("LSL listener")
            self._stop.wait(TICK_S)

    def _supervise(self) -> None:
        now = time.monotonic()
        if now - self._last_tick > 1.0:  # this process did not run (suspended): no reader's fault
            self._grace_until = now + STUCK_S
        self._last_tick = now
        infos = {str(info.uid()): info for info in self._resolver.results()}
        with self._lock:
            for uid, reader in list(self.readers.items()):
                if reader.done:
                    self._drop(uid, reader, now + RETRY_S)
                elif now >= self._grace_until and reader.stuck(now):
                    if self._limit.allow()[0]:
                        log.warning("LSL stream %s: reader stuck, replaced", reader.source_id)
                    reader.stop()
                    self.abandoned.append(reader)
                    self._drop(uid, reader, now)
            self.abandoned = [r for r in self.abandoned if not r.done]
            self._retry_at = {u: t for u, t in self._retry_at.items() if u in infos}
            for uid, info in infos.items():
                if uid in self.readers or self._retry_at.get(uid, 0.0) > now:
                    continue
                if len(self.readers) >= MAX_STREAMS or len(self.abandoned) >= MAX_STUCK:
                    if self._limit.allow()[0]:
                        log.warning(
                            "LSL: too many streams (%d read, %d stuck)",
                            len(self.readers),
                            len(self.abandoned),
                        )
                    break
                self.readers[uid] = _Reader(self._pylsl, info)

    def _drop(self, uid: str, reader: _Reader, retry_at: float) -> None:
        del self.readers[uid]
        self._draining.append(reader)
        self._gone.append(uid)
        self._retry_at[uid] = retry_at

    def pull(self, per_stream: int = QUEUE) -> list[Message]:
        """Every message that has arrived, stream by stream (at most ``per_stream`` each)."""
        with self._lock:
            readers = [*self.readers.values(), *self._draining]
        out: list[Message] = []
        for reader in readers:
            queue = reader.queue
            for _ in range(min(len(queue), per_stream)):
                out.append(queue.popleft())
        with self._lock:
            self._draining = [r for r in self._draining if r.queue]
        return out

    def gone(self) -> list[str]:
        """The uids of streams dropped since the last call (lost, or their reader stuck)."""
        out = []
        while self._gone:
            out.append(self._gone.popleft())
        return out

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            readers = list(self.readers.values())
            self.readers.clear()
        for reader in readers:
            reader.stop()
        for reader in readers:
            reader.thread.join(timeout=1.0)


class ConsoleLink:
    """The console's ends: one command outlet, readers of every station of the study."""

    def __init__(self, study_id: str):
        self.study_id = study_id
        self.source_id = f"labmrt-console-{study_id}-{uuid.uuid4().hex[:8]}"
        self._outlet = _outlet("labmrt-console", COMMAND_TYPE, self.source_id, study_id)
        self._listener = _Listener(STATUS_TYPE, station_source_id(study_id, ""))

    def send(self, text: str) -> None:
        self._outlet.push_sample([text])

    def have_stations(self) -> bool:
        return self._outlet.have_consumers()

    def poll(self) -> list[Message]:
        """Heartbeats and acknowledgements received since the last call."""
        return self._listener.pull()

    def gone(self) -> list[str]:
        return self._listener.gone()

    def close(self) -> None:
        self._listener.close()
        self.__dict__.pop("_outlet", None)  # the stream leaves the network


def station_source_id(study_id: str, station: str) -> str:
    """The ``source_id`` of a station's status stream (the console checks it on every message)."""
    return f"labmrt-station-{study_id}-{station}"


class StationLink:
    """A station's ends: its status outlet, readers of every console of its study."""

    def __init__(self, study_id: str, station: str):
        self.study_id = study_id
        self.station = station
        self.source_id = station_source_id(study_id, station)
        self._outlet = _outlet(
            f"labmrt-station-{station}", STATUS_TYPE, self.source_id, study_id, station=station
        )
        self._listener = _Listener(COMMAND_TYPE, f"labmrt-console-{study_id}-")

    def publish(self, text: str) -> None:
        self._outlet.push_sample([text])

    def commands(self) -> list[Message]:
        """What arrived on any console's command stream since the last call."""
        return self._listener.pull()

    def close(self) -> None:
        self._listener.close()
        self.__dict__.pop("_outlet", None)  # the stream leaves the network
