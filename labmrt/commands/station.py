"""``labmrt station --study DIR [--name ws-3]``: a workstation of a lab, run by the console.

The station announces itself on LSL (status every second: participant, phase,
task k of N, affective state, signal quality, warnings) and runs the sessions
the study's console starts, pauses, resumes and aborts; commands must carry
the study's signature (see the guide "A lab of stations" in docs/). It records into
its own store, ``DIR/stations/NAME``, and goes on recording when the console or
the network goes away. ``labmrt merge`` gathers the stations into the study.

Who takes part: the participant screen (default), or ``--simulated``, a
simulated participant paced ``--time-scale`` times faster than real time.
Where the state comes from: ``--sensors REGEX``, the lab's LSL sensor streams
whose names match (every cubicle's devices are on the same network, so a
station names its own), read by the live monitor as the protocol says and
recorded raw with each session; ``--simulated-sensors`` (simulated ECG/EDA on
LSL and the live monitor, in real time); else with ``--simulated`` the scripted
state of ``labmrt simulate``, and without it none (state unknown).
"""

from __future__ import annotations

import argparse
import socket
from collections.abc import Callable
from typing import Any

EPILOG = """\
examples:
  labmrt station --study studies/framing --protocol protocols/framing_affect.toml --name ws-1
  labmrt station --study studies/framing --name ws-2 --simulated --time-scale 20
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "station",
        help="run a lab workstation that the study's console commands",
        description=__doc__.split("\n\n", 1)[1],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--study", required=True, metavar="DIR", help="the lab study folder")
    parser.add_argument("--name", default=None, help="station name (default: the host name)")
    parser.add_argument(
        "--protocol", metavar="FILE", help="create the lab study with this protocol first"
    )
    parser.add_argument("--simulated", action="store_true", help="a simulated participant")
    parser.add_argument(
        "--simulated-sensors", action="store_true", help="simulated ECG/EDA sensors (real time)"
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="with --simulated: X times faster",
    )
    parser.add_argument(
        "--sensors",
        metavar="REGEX",
        help="this station's own LSL sensor streams: a pattern their names match (e.g. 'ws3')",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated participants")
    parser.add_argument("--no-markers", action="store_true", help="no LSL marker outlet")
    parser.add_argument(
        "--labrecorder",
        metavar="HOST:PORT",
        help="start and stop LabRecorder (remote control) with every session; default: the "
        "protocol's [recording] labrecorder",
    )
    parser.set_defaults(handler=_run)


def open_or_create(study_dir: str, protocol: str | None):
    from pathlib import Path

    from labmrt.lab.study import LAB_FILE, create_lab_study, open_lab_study

    if protocol and not (Path(study_dir) / LAB_FILE).exists():
        return create_lab_study(study_dir, protocol)
    return open_lab_study(study_dir)


def simulated_factory(
    protocol: Any,
    station: str,
    *,
    time_scale: float = 1.0,
    sensors: bool = False,
    seed: int = 0,
    markers: bool = True,
    live: Any = None,
) -> Callable[[str, Any, bool], tuple[Any, list]]:
    """Sessions with a simulated participant (as ``labmrt run --simulated``) for a station.

    ``live``: a started state source on real streams (:func:`lab_sensors`), used by every
    session and recorded with it.
    """

    outlet = None
    if markers:  # opened with the study, before any session: one stream for all of them
        from labmrt.session.markers import station_outlet

        outlet = station_outlet(station, study=protocol.study.title)

    def make(code: str, store: Any, resume: bool) -> tuple[Any, list]:
        import numpy as np

        from labmrt.commands.run import _origin, _state_source
        from labmrt.session import SessionEngine
        from labmrt.session.clock import LSLClock, ScaledClock
        from labmrt.simulate import SimulatedParticipant, load_effect_model

        real_time = sensors or live is not None
        clock: Any = (
            LSLClock() if real_time else ScaledClock(time_scale, start=_origin(store, code))
        )
        seq = np.random.SeedSequence([int(seed), sum(map(ord, code)), len(code)])
        p_seed = int(seq.generate_state(1)[0]) % (2**31)
        opts = argparse.Namespace(simulated=True, simulated_sensors=sensors, effects=None)
        cleanup: list = []
        if live is not None:
            source, truth = live, (lambda t: "calm")
        else:
            source, truth = _state_source(opts, protocol, clock, p_seed, cleanup)
        model, _ = load_effect_model(None, protocol)
        person = SimulatedParticipant(protocol, model, clock, truth, seed=p_seed + int(resume))
        kwargs = dict(
            state_source=source,
            clock=clock,
            markers=outlet,
            workstation=station,
            streams=getattr(source, "stream_info", None),
        )
        if resume:
            engine = SessionEngine.resume_interrupted(protocol, store, code, person, **kwargs)
        else:
            engine = SessionEngine(protocol, store, code, person, **kwargs)
        person.request_break = engine.pause
        if sensors or live is not None:
            recorded(source, store, engine, cleanup)
        return engine, cleanup

    return make


def lab_sensors(protocol: Any, pattern: str, cleanup: list, timeout: float = 3.0) -> Any:
    """The live monitor on this station's own streams (names matching ``pattern``), started."""
    from labmrt.errors import LabmrtError, Problem
    from sensors.acquire import find_streams
    from sensors.state import MonitorStateSource, monitor_for_protocol

    found = find_streams(timeout=timeout, name_pattern=pattern)
    if not found:
        raise LabmrtError(
            Problem(
                "--sensors",
                f"no sensor stream on the network has a name matching {pattern!r}",
                "switch the devices on, and check their names with `labmrt sensors list`",
            )
        )
    monitor = monitor_for_protocol(found, protocol).start()
    cleanup.append(monitor.stop)
    return MonitorStateSource(monitor, streams=[d.as_row() for d in found])


def recorded(source: Any, store: Any, engine: Any, cleanup: list) -> None:
    """Record the raw samples the monitor reads into the session (stopped by ``cleanup``)."""
    from sensors.acquire import SampleRecorder

    recorder = SampleRecorder(source.buffers, store, engine.session_id).start()
    cleanup.append(recorder.stop)


def _run(args: argparse.Namespace) -> int:
    import signal
    import threading

    from labmrt.errors import LabmrtError, Problem
    from labmrt.lab.station import Station
    from labmrt.lab.study import validate_station_name
    from labmrt.lab.transport import StationLink

    study = open_or_create(args.study, args.protocol)
    name = validate_station_name(args.name or socket.gethostname().split(".")[0])
    if args.time_scale <= 0:
        raise LabmrtError(Problem("--time-scale", f"is {args.time_scale:g}", "use a number > 0"))
    if args.sensors and args.simulated_sensors:
        raise LabmrtError(Problem("--sensors", "and --simulated-sensors", "choose one"))
    protocol = study.load_protocol()
    from labmrt.recording import RecorderSettings

    recorder = RecorderSettings.of(protocol, args.labrecorder or "")
    if not args.simulated:
        from labmrt.commands.gui import require_display

        require_display()
    station_cleanup: list = []
    live = lab_sensors(protocol, args.sensors, station_cleanup) if args.sensors else None
    if not args.simulated:
        from ui.lab import run_station_window

        try:
            return run_station_window(
                study, name, markers=not args.no_markers, live=live, labrecorder=recorder
            )
        finally:
            for stop in reversed(station_cleanup):
                stop()
    factory = simulated_factory(
        protocol,
        name,
        time_scale=args.time_scale,
        sensors=args.simulated_sensors,
        seed=args.seed,
        markers=not args.no_markers,
        live=live,
    )
    link = StationLink(study.study_id, name)
    station = Station(study, name, factory, link, sensors=live, labrecorder=recorder)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"station {name} of {study.dir} ready (protocol {protocol.short_hash})", flush=True)
    try:
        station.serve(stop)
    except KeyboardInterrupt:
        pass
    finally:
        engine = station.engine
        if engine is not None and engine.status not in ("completed", "aborted", "failed"):
            print(f"station {name}: the session of {engine.participant} stays resumable")
        station.close()
        link.close()
        for stop in reversed(station_cleanup):
            stop()
    return 0
