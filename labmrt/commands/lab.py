"""``labmrt lab --study DIR``: the console's lab view over every station of a study.

Opens the lab view (one tile per station found on the network; start,
pause, resume, abort; decision logs). ``--protocol`` creates the lab study
(its secret included) when the folder has none yet. ``--stations N`` also
starts N simulated stations on this machine (``labmrt station --simulated``),
which is what ``labmrt demo --stations N`` does with the demo protocol.
``--headless`` (or no display) runs the lab without a screen instead: every
station runs one participant, the console follows them to the end, and the
stations are merged into the study store.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

EPILOG = """\
examples:
  labmrt lab --study studies/framing --protocol protocols/framing_affect.toml
  labmrt lab --study /tmp/lab --protocol protocols/demo.toml --stations 3 --time-scale 5
  labmrt lab --study /tmp/lab --stations 2 --time-scale 40 --headless
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "lab",
        help="open the console's lab view: every station of a study at once",
        description=__doc__.split("\n\n", 1)[1],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--study", required=True, metavar="DIR", help="the lab study folder")
    parser.add_argument("--protocol", metavar="FILE", help="create the lab study with it first")
    add_station_options(parser)
    parser.set_defaults(handler=_run)


def add_station_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stations", type=int, default=0, metavar="N", help="start N simulated stations here"
    )
    parser.add_argument(
        "--time-scale", type=float, default=1.0, metavar="X", help="pace of simulated stations"
    )
    parser.add_argument("--headless", action="store_true", help="run the lab without a screen")


def spawn_station(
    study_dir: Path, name: str, time_scale: float, *, seed: int = 0, log: Path | None = None
) -> subprocess.Popen:
    """One ``labmrt station --simulated`` process (output to ``log``, else to ours)."""
    argv = [sys.executable, "-m", "labmrt.cli", "station", "--study", str(study_dir)]
    argv += ["--name", name, "--simulated", "--time-scale", f"{time_scale:g}"]
    argv += ["--seed", str(seed), "--no-markers"]
    out = log.open("ab") if log is not None else None
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)


def spawn_stations(study_dir: Path, n: int, time_scale: float) -> list[subprocess.Popen]:
    """N ``labmrt station --simulated`` processes named ws-1 ... ws-N, logging in the study."""
    return [
        spawn_station(
            study_dir, f"ws-{i}", time_scale, seed=i, log=study_dir / f"station-ws-{i}.log"
        )
        for i in range(1, n + 1)
    ]


def stop_stations(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def merge_all(study) -> str:
    from labmrt.store.merge import merge_stations

    folders = [d for d in study.station_dirs() if (d / "labmrt.sqlite").is_file()]
    if not folders:
        return "no station recorded anything yet"
    report = merge_stations(folders, study.dir, protocol_hash=study.protocol_hash)
    return f"merged {len(folders)} station(s) into {study.dir}: {report.total_rows} new row(s)"


def run_headless(study, n: int, procs=(), timeout_s: float = 3600.0) -> int:
    """Every station found runs one participant to the end; then merge. Exit code."""
    from labmrt.errors import LabmrtError, Problem
    from labmrt.lab.console import ENDED, LabConsole
    from labmrt.lab.transport import ConsoleLink

    console = LabConsole(study, ConsoleLink(study.study_id), merge_on_end=False)
    end = time.monotonic() + timeout_s
    started: dict[str, str] = {}
    try:
        while time.monotonic() < end:
            if procs and all(p.poll() is not None for p in procs):
                raise LabmrtError(
                    Problem(
                        "lab",
                        "every station process stopped",
                        f"see the station logs in {study.dir} (station-ws-*.log)",
                    )
                )
            console.poll()
            for name, view in sorted(console.stations.items()):
                if name not in started and view.status.get("status") == "idle":
                    started[name] = console.start(name).args["participant"]
                    print(f"{name}: started {started[name]}", flush=True)
            states = {s: console.stations[s].status.get("status") for s in started}
            if len(started) >= n and all(v in ENDED for v in states.values()):
                break
            time.sleep(0.1)
        else:
            raise LabmrtError(Problem("lab", "the sessions did not end in time", ""))
    finally:
        console.link.close()
    for name, code in sorted(started.items()):
        view = console.stations[name]
        print(f"{name}: {code} {view.status.get('status')} ({view.status.get('task_k')} tasks)")
    failed = [c for c in console.commands() if c.state != "acked"]
    print(f"{len(console.commands())} command(s) sent, {len(failed)} not acknowledged")
    print(merge_all(study))
    return 0 if not failed else 1


def open_lab(study, n: int, time_scale: float, headless: bool) -> int:
    from labmrt.commands.gui import interactive_display, platform_problem

    procs = spawn_stations(study.dir, n, time_scale) if n else []
    try:
        if not headless and interactive_display() and platform_problem() is None:
            from ui.lab import run_lab_window

            return run_lab_window(study, on_close=lambda: print(merge_all(study)))
        if not headless:
            print("labmrt lab: no display here; running the lab headless", file=sys.stderr)
        if not n:
            print("labmrt lab: waiting for the study's stations (Ctrl+C to stop)")
        return run_headless(study, max(n, 1), procs)
    finally:
        stop_stations(procs)


def _run(args: argparse.Namespace) -> int:
    from labmrt.commands.station import open_or_create
    from labmrt.errors import LabmrtError, Problem

    if args.stations < 0 or args.stations > 16:
        raise LabmrtError(Problem("--stations", f"is {args.stations}", "use 0 to 16"))
    if args.time_scale <= 0:
        raise LabmrtError(Problem("--time-scale", f"is {args.time_scale:g}", "use a number > 0"))
    study = open_or_create(args.study, args.protocol)
    return open_lab(study, args.stations, args.time_scale, args.headless)
