"""``labmrt sensors play``: a recording streamed back over LSL as if its devices were live.

Pilots a session, the console, a station or ``sensors monitor`` with a real
person's recording instead of the simulator (:mod:`sensors.replay.player`).
Prints a JSON line when the outlets are open (``"event": "open"``) and one when
playing starts (``"event": "playing"``), the latter with ``t0``, the LSL time of
the recording's second 0, so a reader maps stamps back to the file's time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

EPILOG = """\
examples:
  labmrt sensors play pilot.xdf
  labmrt sensors play pilot.xdf --speed 4 --loop
  labmrt sensors play --signal ppg=S02_bvp_64hz.csv.gz:bvp --signal eda=S02_eda_4hz.csv.gz \\
      --start 60 --end 600
"""


def register(subparsers) -> None:
    import argparse

    parser = subparsers.add_parser(
        "play",
        help="play an XDF recording or CSV signals back as live LSL streams",
        description=(
            "Publish each stream of an XDF file (signals and markers) as a live LSL outlet "
            "with its recorded name, type, channel metadata and nominal rate, or each "
            "--signal CSV file as one outlet of its kind, time-stamped with the recording's "
            "own spacing from now on. --speed plays faster (stamps then run ahead of the "
            "clock), --loop plays again and again."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", nargs="?", metavar="FILE", help="an XDF recording")
    parser.add_argument(
        "--signal",
        action="append",
        metavar="KIND=FILE[:COLUMN]",
        help="a CSV signal as `sensors replay` reads it (repeatable), instead of FILE",
    )
    parser.add_argument(
        "--time-column", default="time_s", metavar="COL", help="CSV time column (default time_s)"
    )
    parser.add_argument("--speed", type=float, default=1.0, help="play speed (default 1)")
    parser.add_argument("--loop", action="store_true", help="start again at the end, until ^C")
    parser.add_argument("--start", type=float, metavar="S", help="first second of the recording")
    parser.add_argument("--end", type=float, metavar="S", help="last second of the recording")
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="S",
        help="wait up to S seconds for a reader of every signal stream before playing",
    )
    parser.set_defaults(handler=run)


def run(args) -> int:
    from labmrt.errors import LabmrtError
    from sensors.replay import (
        Player,
        csv_streams,
        describe,
        load_csv_signals,
        load_xdf_streams,
        parse_signal_spec,
    )

    if bool(args.file) == bool(args.signal):
        raise LabmrtError(
            "give an XDF FILE or --signal CSV files (one of the two)",
            where="sensors play",
            fix="e.g. labmrt sensors play pilot.xdf",
        )
    if args.file:
        playable = load_xdf_streams(args.file)
        shown = str(args.file)
    else:
        specs = [parse_signal_spec(s) for s in args.signal]
        recording = load_csv_signals(specs, args.time_column)
        playable = csv_streams(recording, {s.kind: s.path for s in specs})
        shown = ", ".join(str(s.path) for s in specs)
    player = Player(
        playable, speed=args.speed, loop=args.loop, start=args.start, end=args.end, file=shown
    )
    for line in describe(playable):
        print(f"playing {line}", file=sys.stderr)
    for note in playable.notes:
        print(f"note: {note}", file=sys.stderr)
    player.open()
    print(json.dumps({"event": "open", "streams": [s.name for s in playable.streams]}), flush=True)
    if args.wait > 0 and not player.wait_for_consumers(args.wait):
        print(f"no reader after {args.wait:g} s: playing anyway", file=sys.stderr)
    player.start()
    print(
        json.dumps(
            {
                "event": "playing",
                "t0": player.t0,
                "file_t0": playable.t0,
                "start": player.start_s,
                "end": player.end_s,
                "speed": player.speed,
                "streams": [s.name for s in playable.streams],
            }
        ),
        flush=True,
    )
    try:
        while not player.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        player.stop()
    print(f"played {Path(shown).name if args.file else shown}", file=sys.stderr)
    return 0
