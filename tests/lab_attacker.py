"""Someone on the lab network who knows only what every labmrt stream shows.

Built on pylsl alone (no labmrt code): it sees the study id in the streams'
source ids, the station names in their headers, and can open streams of its
own, with any source id, type and content, and read every stream. Its streams
stay open until it is dropped; streams that must vanish the moment they are
connected to are made in a process of their own (``python lab_attacker.py
vanish TYPE SOURCE_ID TIMES``), because liblsl may crash the process that
destroys an outlet during a connection, and an attacker crashing itself must
not take the test down with it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

import pylsl

COMMANDS = "labmrt.commands"
STATUS = "labmrt.station"


class Attacker:
    def __init__(self, study_id: str):
        self.study_id = study_id
        self.sent = 0
        self.outlets: list[pylsl.StreamOutlet] = []

    # ------------------------------------------------------------------ streams of its own
    def outlet(self, stype: str, source_id: str, name: str = "labmrt") -> pylsl.StreamOutlet:
        info = pylsl.StreamInfo(name, stype, 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, source_id)
        info.desc().append_child_value("manufacturer", "labmrt")
        info.desc().append_child_value("study", self.study_id)
        outlet = pylsl.StreamOutlet(info, chunk_size=1, max_buffered=60)
        self.outlets.append(outlet)
        return outlet

    def fake_console(self, tag: str = "evil") -> pylsl.StreamOutlet:
        return self.outlet(COMMANDS, f"labmrt-console-{self.study_id}-{tag}")

    def fake_station(self, name: str) -> pylsl.StreamOutlet:
        """A status stream with exactly the source id of station ``name``."""
        return self.outlet(
            STATUS, f"labmrt-station-{self.study_id}-{name}", f"labmrt-station-{name}"
        )

    @staticmethod
    def heard(outlet: pylsl.StreamOutlet, timeout: float = 15.0) -> bool:
        end = time.monotonic() + timeout
        while not outlet.have_consumers():
            if time.monotonic() > end:
                return False
            time.sleep(0.005)
        return True

    def flood(self, outlet, messages: list, hz: float = 100.0, seconds: float = 2.0) -> int:
        """Push ``messages`` round and round at ``hz`` for ``seconds``; how many were sent."""
        n, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            outlet.push_sample([messages[n % len(messages)]])
            n += 1
            time.sleep(1.0 / hz)
        self.sent += n
        return n

    @staticmethod
    def vanish_on_connect(stype: str, source_id: str, times: int = 3) -> int:
        """Streams that close the moment a labmrt reader has connected; how many were heard.

        Run in a process of its own (see the module docstring).
        """
        done = subprocess.run(
            [sys.executable, __file__, "vanish", stype, source_id, str(times)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.stdout.split().count("heard")

    # ------------------------------------------------------------------ listening
    def tap(self, stype: str, source_id: str) -> pylsl.StreamInlet:
        """An inlet of its own on a labmrt stream (everything on it, from now on)."""
        found = pylsl.resolve_byprop("source_id", source_id, minimum=1, timeout=10.0)
        found = [f for f in found if f.type() == stype]
        assert found, f"no stream {source_id}"
        inlet = pylsl.StreamInlet(found[0], max_buflen=60)
        inlet.open_stream(timeout=5.0)
        return inlet

    @staticmethod
    def read(inlet: pylsl.StreamInlet, seconds: float = 0.5) -> list[str]:
        end, out = time.monotonic() + seconds, []
        while time.monotonic() < end:
            samples, _ = inlet.pull_chunk(timeout=0.1)
            out += [s[0] for s in samples]
        return out

    # ------------------------------------------------------------------ what it sends
    def junk_commands(self, station: str) -> list:
        """Commands as the issue found them to stop a station, and worse."""
        study = self.study_id
        return [
            json.dumps(
                {
                    "v": 1,
                    "type": "command",
                    "study": study,
                    "station": station,
                    "seq": 1,
                    "cmd": "abort",
                    "args": {},
                    "mac": "\u00e9\u00e9",
                }
            ),
            json.dumps({"_text": 1}),
            b"\xff\xfe not utf-8 \xc3\x28",
            "[" * 20_000 + "]" * 20_000,
            json.dumps({"v": 2, "type": "command", "study": study, "station": station})[:-1]
            + ',"seq":'
            + "9" * 4300
            + ',"box":""}',
            json.dumps(
                {
                    "v": 2,
                    "type": "command",
                    "study": study,
                    "station": [station],
                    "seq": 1,
                    "box": "",
                }
            ),
            self.random_box("command", station, seq=10**15),
            "x" * 1_000_000,
        ]

    def random_box(self, kind: str, station: str, seq: int) -> str:
        """A message of the right shape whose box is random bytes (no key to make a real one)."""
        box = base64.b64encode(os.urandom(12 + 512 + 16)).decode()
        doc = {"v": 2, "type": kind, "study": self.study_id, "station": station, "seq": seq}
        return json.dumps({**doc, "box": box})

    def fake_statuses(self, study_protocol_hash: str) -> list:
        """Status messages of the issue: a busy ws-1, a phantom, an interrupted ws-2, poisons."""
        base = {
            "v": 1,
            "type": "status",
            "study": self.study_id,
            "protocol_hash": study_protocol_hash,
            "t": time.time(),
        }
        busy = {
            **base,
            "station": "ws-1",
            "status": "running",
            "participant": "P001",
            "affect_state": "calm",
            "p_aroused": 0.03,
            "quality": {"ecg": 0.99},
        }
        return [
            json.dumps(busy),
            json.dumps({**busy, "station": "ws-9"}),
            json.dumps({**base, "station": "ws-2", "status": "idle", "interrupted": ["P001"]}),
            json.dumps({**base, "station": "ws-1", "task_k": "x"}),
            json.dumps({**base, "station": "ws-1"})[:-1] + ',"last_seq":' + "9" * 4300 + "}",
            json.dumps({**base, "station": ["ws-1"]}),
            json.dumps({**base, "station": "../../etc"}),
            b"\xff\xfe not utf-8",
            "{" * 10_000,
            json.dumps({**base, "station": "ws-1", "warnings": ["x" * 1_000_000]}),
            self.random_box("status", "ws-1", seq=10**15),
            self.random_box("ack", "ws-1", seq=10**15),
        ]


def _vanish(stype: str, source_id: str, times: int) -> None:
    """Says 'heard' each time a reader connected, just before its stream goes."""
    for i in range(times):
        name = source_id if stype == STATUS else f"{source_id}-{i}"
        info = pylsl.StreamInfo("labmrt", stype, 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, name)
        outlet = pylsl.StreamOutlet(info)
        if Attacker.heard(outlet, 10.0):
            print("heard", flush=True)
        del outlet
        time.sleep(0.3)


if __name__ == "__main__":
    if sys.argv[1] == "vanish":
        _vanish(sys.argv[2], sys.argv[3], int(sys.argv[4]))
