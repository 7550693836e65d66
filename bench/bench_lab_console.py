"""The console's longest GUI stall and CPU with 8 stations streaming to its lab view.

Eight ``labmrt station --simulated`` processes run on this machine (each a
session engine with a simulated participant, a store, an LSL status outlet
beating every second); the console's lab view runs offscreen in this process
with its real LSL link, starts a session on every station and follows them.
A 2 ms heartbeat timer on the GUI thread (``bench_gui_stall.Heartbeat``)
records the gaps between its ticks; the same heartbeat on the lab view before
any station exists is the baseline of this machine and the Qt event loop.
CPU is this (console) process's CPU time over wall time, and the GUI thread's.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_lab_console.py [--seconds 30]

Goal: longest stall under 50 ms. The stations share the machine's cores with
the console, as a console on a busy lab machine would.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_gui_stall import Heartbeat  # noqa: E402


def spin(app: QApplication, seconds: float, until=None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not (until is not None and until()):
        app.processEvents()
        time.sleep(0.001)


def run(n_stations: int, seconds: float, time_scale: float) -> None:
    from labmrt.commands.lab import spawn_stations, stop_stations
    from labmrt.lab.console import LabConsole
    from labmrt.lab.study import create_lab_study
    from labmrt.lab.transport import ConsoleLink
    from ui.lab import LabView
    from ui.widgets import apply_style

    app = QApplication.instance() or QApplication([])
    apply_style()
    folder = Path(tempfile.mkdtemp(prefix="labmrt-bench-lab-"))
    study = create_lab_study(folder / "study", ROOT / "protocols" / "framing_affect.toml")
    link = ConsoleLink(study.study_id)
    console = LabConsole(study, link, merge_on_end=False)
    view = LabView(console)
    view.resize(1200, 800)
    view.show()
    beat = Heartbeat()
    beat.start()
    spin(app, 5.0)
    idle = beat.stalls()
    procs = spawn_stations(study.dir, n_stations, time_scale)
    try:
        t_found = time.monotonic()
        spin(app, 60.0, until=lambda: len(console.stations) >= n_stations)
        found_s = time.monotonic() - t_found
        for name in sorted(console.stations):
            view.start(name)
        spin(app, 3.0)
        beat.start()
        cpu0, gui0, wall0 = time.process_time(), time.thread_time(), time.monotonic()
        spin(app, seconds)
        wall = time.monotonic() - wall0
        cpu, gui = time.process_time() - cpu0, time.thread_time() - gui0
        busy = beat.stalls()
        longest, gui_ms, proc_ms = beat.longest()
        running = sum(
            v.status.get("status") in ("running", "resumed", "paused")
            for v in console.stations.values()
        )
        online = sum(console.online(n) for n in console.stations)
        acked = sum(c.state == "acked" for c in console.commands())
    finally:
        link.close()
        stop_stations(procs)

    def describe(name: str, stalls: np.ndarray, span: float) -> None:
        print(
            f"{name:<32} ticks {len(stalls):>6}  longest stall {stalls.max():6.1f} ms  "
            f"p99 {np.percentile(stalls, 99):5.1f} ms  median {np.median(stalls):4.1f} ms  "
            f"({span:.0f} s)"
        )

    print(f"{n_stations} stations found in {found_s:.1f} s; heartbeat every {beat.interval_ms} ms")
    describe("lab view, no stations (baseline)", idle, 5.0)
    describe(f"lab view, {n_stations} stations streaming", busy, wall)
    print(
        f"{online} stations online, {running} running a session, "
        f"{acked} of {len(console.commands())} start commands acknowledged"
    )
    print(
        f"console CPU: process {100 * cpu / wall:.1f}% of one core, GUI thread "
        f"{100 * gui / wall:.1f}%; during the longest stall the GUI thread ran {gui_ms:.1f} ms, "
        f"the process {proc_ms:.1f} ms"
    )
    print(
        f"longest stall {busy.max():.1f} ms = {busy.max() / max(idle.max(), 0.1):.1f}x the "
        f"baseline's; goal < 50 ms: {'met' if busy.max() < 50 else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured stretch")
    parser.add_argument("--time-scale", type=float, default=10.0, help="pace of the stations")
    args = parser.parse_args()
    run(args.stations, args.seconds, args.time_scale)


if __name__ == "__main__":
    main()
