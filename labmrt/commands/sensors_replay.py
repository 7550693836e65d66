"""``labmrt sensors replay``: recorded signals through the live pipeline and classifier.

Labs check the affective state on pilot recordings this way, and it is how
the pipeline is measured on real data: the files are replayed one update per
second exactly as ``labmrt sensors monitor`` runs live (same pipeline,
calibration rules and classifier; see :mod:`sensors.replay`), and each
update is printed as the monitor prints it, with ``t`` on the recording's
time axis. With ``--segments`` the states are scored against known ones.
"""

from __future__ import annotations

import json
import math
import sys

from labmrt.commands.sensors_monitor import add_classifier_options


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay recorded ECG/PPG/EDA/RR/HR files through the live pipeline",
        description=(
            "Replay recorded signals (CSV/CSV.gz files with a time column, or an XDF file) "
            "one update per second through the same pipeline and classifier as "
            "`labmrt sensors monitor`, calibrated on spans of the recording (or with --model), "
            "and print the states; with --segments, score them against known states."
        ),
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--signal",
        action="append",
        metavar="KIND=FILE[:COLUMN]",
        help="a recorded signal (repeatable); KIND: ecg, ppg, eda, ibi (beat intervals, ms or s), "
        "hr (bpm); COLUMN may be left out when the file has one signal column or names it "
        "(bvp, eda_us, ...)",
    )
    source.add_argument(
        "--xdf", metavar="FILE", help="an XDF recording (LabRecorder's, or labmrt's export)"
    )
    parser.add_argument(
        "--time-column",
        default="time_s",
        metavar="COL",
        help="time column of the CSV files, in seconds (default time_s); the rate comes "
        "from the time stamps",
    )
    parser.add_argument(
        "--name", metavar="REGEX", help="XDF: only streams whose name matches (case-insensitive)"
    )
    parser.add_argument(
        "--calibrate-rest",
        metavar="START:END",
        help="rest span, in seconds of the recording's time (or a marker name in an XDF file)",
    )
    parser.add_argument(
        "--calibrate-stress",
        metavar="START:END",
        help="stressor span, in seconds of the recording's time (or a marker name)",
    )
    add_classifier_options(parser)
    parser.add_argument("--start", type=float, metavar="S", help="first update to print (s)")
    parser.add_argument("--end", type=float, metavar="S", help="last update to print (s)")
    parser.add_argument("--jsonl", action="store_true", help="one JSON object per update")
    parser.add_argument(
        "--no-updates",
        action="store_true",
        help="print no line per update (only the calibration and the score)",
    )
    parser.add_argument(
        "--segments",
        metavar="FILE",
        help="CSV start_s,end_s,state of known states: prints the confusion matrix and the "
        "balanced accuracy",
    )
    parser.add_argument(
        "--subject",
        metavar="ID",
        help="the rows of this subject/participant, when the segments file holds several",
    )
    parser.add_argument(
        "--skip",
        type=float,
        default=0.0,
        metavar="S",
        help="leave out the first S seconds of each segment from the score (default 0)",
    )
    parser.add_argument(
        "--every",
        type=int,
        default=1,
        metavar="K",
        help="score every K-th update of the segments (default 1: all)",
    )
    parser.add_argument(
        "--hrv-window", type=float, default=60.0, metavar="S", help="HRV window (default 60 s)"
    )
    parser.add_argument(
        "--eda-window", type=float, default=30.0, metavar="S", help="EDA window (default 30 s)"
    )
    parser.set_defaults(handler=run)


def _positive(args, *names: str) -> None:
    from labmrt.errors import LabmrtError

    for name in names:
        value = getattr(args, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise LabmrtError(
                f"must be a positive number of seconds, got {value}",
                where="--" + name.replace("_", "-"),
            )


def run(args) -> int:
    from labmrt.commands.sensors_monitor import (
        calibration_line,
        classifier_from_args,
        human_line,
        state_record,
    )
    from labmrt.errors import LabmrtError
    from sensors.replay import (
        load_csv_signals,
        load_xdf,
        parse_signal_spec,
        parse_span,
        read_segments,
        replay_recording,
        score,
    )

    _positive(args, "hrv_window", "eda_window")
    for name in ("start", "end", "skip"):
        value = getattr(args, name)
        if value is not None and not math.isfinite(value):
            raise LabmrtError(f"not a number of seconds: {value}", where=f"--{name}")
    if args.skip < 0:
        raise LabmrtError(f"must be 0 or more seconds, got {args.skip:g}", where="--skip")
    if args.every < 1:
        raise LabmrtError(f"must be 1 or more, got {args.every}", where="--every")
    if (args.subject or args.skip or args.every != 1) and not args.segments:
        raise LabmrtError(
            "--subject, --skip and --every choose what is scored", where="--segments", fix="add it"
        )
    # read everything that can be wrong before the (long) replay
    segments = read_segments(args.segments, args.subject) if args.segments else None
    model = classifier_from_args(args)
    if args.xdf:
        recording = load_xdf(args.xdf, args.name)
    else:
        if args.name:
            raise LabmrtError("picks streams of an XDF file", where="--name", fix="use --xdf")
        recording = load_csv_signals([parse_signal_spec(s) for s in args.signal], args.time_column)
    first, last = recording.span
    for text in recording.sources.values():
        print(f"using {text}", file=sys.stderr)
    if recording.t0:
        print(
            f"time 0 s = LSL time {recording.t0:.3f} (the first sample); recording "
            f"{first:g} to {last:g} s",
            file=sys.stderr,
        )
    for note in recording.notes:
        print(f"note: {note}", file=sys.stderr)
    rest = parse_span(args.calibrate_rest) if args.calibrate_rest else None
    stress = parse_span(args.calibrate_stress) if args.calibrate_stress else None
    if rest is None and stress is None and not args.model:
        print(
            "no calibration and no --model: the state stays unknown "
            "(use --calibrate-rest START:END [--calibrate-stress START:END] or --model MODEL)",
            file=sys.stderr,
        )
    progress = None
    if sys.stderr.isatty():

        def progress(t: float, t_to: float) -> None:
            print(f"\rreplaying: {t:.0f} of {t_to:.0f} s", end="", file=sys.stderr, flush=True)

    result = replay_recording(
        recording,
        rest,
        stress,
        model,
        args.start,
        args.end,
        hrv_window_s=args.hrv_window,
        eda_window_s=args.eda_window,
        progress=progress,
    )
    if progress is not None:
        print(file=sys.stderr)
    if result.phases:
        spans = ", ".join(f"{name} {ph.start:g}-{ph.end:g} s" for name, ph in result.phases.items())
        print(f"calibration spans: {spans}", file=sys.stderr)
        print(calibration_line(result.classifier), file=sys.stderr)
        if args.save_model:
            result.classifier.save(args.save_model)
    elif model is not None:
        clf = result.classifier
        print(
            f"model {args.model}: {clf.method} on {', '.join(clf.used_features)}", file=sys.stderr
        )
    if not args.no_updates:
        for state in result.states:
            rec = state_record(state, result.phase_at(state.t))
            print(json.dumps(rec) if args.jsonl else human_line(rec), flush=False)
        sys.stdout.flush()
    if segments is not None:
        sc = score(result, segments, args.skip, args.every)
        print(sc.table(), file=sys.stderr if args.jsonl and not args.no_updates else sys.stdout)
    return 0
