"""``labmrt sensors monitor``: the affective state of whatever ECG/PPG/EDA streams are on the network.

Resolves the streams (any vendor's), picks the channel of each signal by
the streams' channel metadata (:mod:`sensors.acquire.channels`; ``--pin`` names one
instead) and prints which and why, optionally calibrates (rest first, then
stressor, as the options say) or loads a model, and prints one line per state update. This is
how the pipeline is checked against any source, not only the simulator.
"""

from __future__ import annotations

import json
import math
import numbers
import queue
import sys
import time


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "monitor",
        help="print the live affective state from LSL ECG/PPG/EDA streams",
        description=(
            "Resolve ECG/PPG/EDA streams, calibrate (--calibrate-rest, then --calibrate-stress) "
            "or load --model, and print one state update per line: "
            '{"t", "state", "p_aroused", "features", "quality", ...} with --jsonl.'
        ),
    )
    parser.add_argument("--calibrate-rest", type=float, metavar="S", help="rest phase length (s)")
    parser.add_argument(
        "--calibrate-stress", type=float, metavar="S", help="stressor phase length (s), after rest"
    )
    parser.add_argument(
        "--duration", type=float, metavar="S", help="stop S seconds after calibration"
    )
    parser.add_argument("--jsonl", action="store_true", help="one JSON object per line")
    add_classifier_options(parser)
    parser.add_argument(
        "--name", metavar="REGEX", help="only streams whose name matches (case-insensitive)"
    )
    parser.add_argument("--timeout", type=float, default=2.0, metavar="S", help="resolve time")
    parser.add_argument(
        "--interval", type=float, default=1.0, metavar="S", help="update interval (default 1 s)"
    )
    parser.add_argument(
        "--hrv-window", type=float, default=60.0, metavar="S", help="HRV window (default 60 s)"
    )
    parser.add_argument(
        "--eda-window", type=float, default=30.0, metavar="S", help="EDA window (default 30 s)"
    )
    parser.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="KIND=STREAM:CHANNEL",
        help="read KIND (ecg, ppg, eda, ibi, hr) from this stream's channel (by label), "
        "instead of the channel the metadata rules pick; repeatable",
    )
    parser.set_defaults(handler=run)


def add_classifier_options(parser) -> None:
    """--model, --state-features, --not-separated, --save-model (`sensors monitor`, `replay`)."""
    parser.add_argument(
        "--model", metavar="MODEL", help="classifier file from 'labmrt sensors train'"
    )
    parser.add_argument(
        "--state-features",
        choices=("sustained", "responsive"),
        default="sustained",
        help="features a calibration fits: tonic skin-conductance level carried ahead along "
        "its fall (sustained, the default) or its rise over the last 2 min (responsive: back "
        "to calm within seconds)",
    )
    parser.add_argument(
        "--not-separated",
        choices=("rest_reference", "unknown"),
        default="rest_reference",
        help="a calibration that does not separate rest from stressor gives states from the "
        "rest reference (the default) or unknown",
    )
    parser.add_argument("--save-model", metavar="FILE", help="write the calibrated classifier")


def classifier_from_args(args):
    """The --model file, or an unfitted classifier of the --state-features set."""
    from sensors.state import FEATURE_SETS, AffectClassifier

    if args.model:
        return AffectClassifier.load(args.model)
    return AffectClassifier(
        features=FEATURE_SETS[args.state_features], not_separated=args.not_separated
    )


def parse_pins(values: list[str]) -> dict[str, dict[str, str]]:
    """``--pin KIND=STREAM:CHANNEL`` options as the protocol's ``[sensors.pins]`` table."""
    from labmrt.errors import LabmrtError
    from sensors.kinds import SOURCE_KINDS

    pins: dict[str, dict[str, str]] = {}
    for value in values:
        kind, _, rest = value.partition("=")
        stream, _, channel = rest.rpartition(":")
        kind = kind.strip().lower()
        if kind not in SOURCE_KINDS or not stream or not channel:
            raise LabmrtError(
                f"{value!r} is not KIND=STREAM:CHANNEL with KIND one of {', '.join(SOURCE_KINDS)}",
                where="--pin",
                fix='e.g. --pin "eda=Shimmer GSR:GSR_Skin_Conductance"',
            )
        if kind in pins:
            raise LabmrtError(f"{kind} is pinned twice", where="--pin", fix="pin it once")
        pins[kind] = {"stream": stream, "channel": channel}
    return pins


def pinned_streams(pins: dict, found: list, timeout: float) -> list:
    """The pinned streams ``find_streams`` left out (their metadata names no signal)."""
    import pylsl

    from sensors.acquire import StreamDescription

    have = {d.name.lower() for d in found}
    extra = []
    for pin in pins.values():
        if pin["stream"].lower() in have:
            continue
        for info in pylsl.resolve_byprop("name", pin["stream"], 1, timeout):
            extra.append(StreamDescription.fetch(info, timeout))
            have.add(pin["stream"].lower())
    return extra


def _clean(value):
    """A JSON-safe number: NaN and infinities (of any float type) become null."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool | int):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def state_record(state, phase: str | None = None) -> dict:
    """The JSON line for one :class:`~labmrt.state.AffectState`."""
    return {
        "t": round(state.t, 4),
        "state": state.label,
        "p_aroused": None if state.p_aroused is None else round(state.p_aroused, 4),
        "features": {k: _clean(v) for k, v in state.features.items()},
        "quality": {k: _clean(round(float(v), 3)) for k, v in state.quality.items()},
        "windows": {k: [round(a, 3), round(b, 3)] for k, (a, b) in state.windows.items()},
        "phase": phase,
        "reason": state.reason,
    }


def calibration_line(clf) -> str:
    """What a fitted classifier learned from the calibration, in one console line."""
    note = "; ".join(clf.notes)
    line = (
        f"calibrated: {clf.method} on {', '.join(clf.used_features)} "
        f"({clf.n_rest} rest, {clf.n_stress} stressor windows)" + (f"; {note}" if note else "")
    )
    from sensors.state import describe_calibration

    summary = getattr(clf, "calibration_summary", None)
    quality = describe_calibration(summary()) if callable(summary) else ""
    return line + (f"\n{quality}" if quality else "")


def human_line(rec: dict) -> str:
    f = rec["features"]

    def fmt(name, spec):
        v = f.get(name)
        return "-" if v is None else format(v, spec)

    p = "-" if rec["p_aroused"] is None else f"{rec['p_aroused']:.2f}"
    q = " ".join(f"{k}={v:.2f}" for k, v in rec["quality"].items())
    phase = f" [{rec['phase']}]" if rec["phase"] else ""
    line = (
        f"{rec['t']:.2f} {rec['state']:>7} p={p} hr={fmt('hr', '.1f')} "
        f"rmssd={fmt('rmssd', '.1f')} scl={fmt('scl', '.2f')} scr/min={fmt('scr_rate', '.1f')} "
        f"q: {q}{phase}"
    )
    return line + (f"  ({rec['reason']})" if rec["reason"] else "")


def run(args) -> int:
    from labmrt.errors import LabmrtError
    from sensors.acquire import find_streams
    from sensors.state import AffectMonitor

    for opt in ("calibrate_rest", "calibrate_stress", "duration", "interval", "timeout"):
        value = getattr(args, opt)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise LabmrtError(
                f"must be a positive number of seconds, got {value}",
                where="--" + opt.replace("_", "-"),
            )
    if args.calibrate_stress and not args.calibrate_rest and not args.model:
        raise LabmrtError(
            "a stressor phase needs a rest phase before it",
            where="--calibrate-stress",
            fix="add --calibrate-rest S",
        )
    classifier = classifier_from_args(args)
    pins = parse_pins(args.pin)
    streams = find_streams(timeout=args.timeout, name_pattern=args.name)
    if pins:
        streams += pinned_streams(pins, streams, args.timeout)
    if not streams:
        raise LabmrtError(
            "no ECG, PPG, EDA, RR or HR stream found on the network",
            where="LSL",
            fix="start the device's LSL app (or `labmrt sensors simulate`) and check --name",
        )
    monitor = AffectMonitor(
        streams,
        classifier,
        update_interval_s=args.interval,
        hrv_window_s=args.hrv_window,
        eda_window_s=args.eda_window,
        pins=pins,
    )
    for choice in monitor.channels:
        d = choice.stream
        print(
            f"using {choice.describe()} ({d.type}, {d.nominal_srate:g} Hz, "
            f"{d.channel_count} ch, source {d.source_id or '-'}, host {d.hostname})",
            file=sys.stderr,
        )
    for name in monitor.ignored:
        print(f"not using {name}", file=sys.stderr)
    updates: queue.Queue = queue.Queue()
    monitor.on_update(lambda s: updates.put((s, monitor.phase)))

    def drain(until: float) -> None:
        while True:
            left = until - time.monotonic()
            try:
                state, phase = updates.get(timeout=max(0.0, min(left, 0.5)))
            except queue.Empty:
                if time.monotonic() >= until:
                    return
                continue
            rec = state_record(state, phase)
            print(json.dumps(rec) if args.jsonl else human_line(rec), flush=True)

    monitor.start(connect_timeout=args.timeout)
    try:
        phases = [("rest", args.calibrate_rest), ("stressor", args.calibrate_stress)]
        calibrating = any(s for _, s in phases)
        for phase, seconds in phases:
            if seconds:
                monitor.begin_phase(phase)
                print(f"calibration: {phase} for {seconds:g} s", file=sys.stderr)
                drain(time.monotonic() + seconds)
        if calibrating:
            try:
                clf = monitor.fit_calibration()
                print(calibration_line(clf), file=sys.stderr)
                if args.save_model:
                    clf.save(args.save_model)
            except LabmrtError as err:
                print(f"calibration failed, state stays unknown: {err.message}", file=sys.stderr)
        elif not args.model:
            print(
                "no calibration and no --model: the state stays unknown "
                "(use --calibrate-rest S [--calibrate-stress S] or --model MODEL)",
                file=sys.stderr,
            )
        end = time.monotonic() + args.duration if args.duration else math.inf
        drain(end)
    finally:
        monitor.stop()
    return 0
