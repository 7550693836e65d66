"""``labmrt sensors list``: the ECG/PPG/EDA streams visible on the lab network.

Prints name, type, the kind labmrt reads it as, channels, nominal rate,
format, source id and host, and whether the stream is usable (a wrong
channel format or an absurd rate is named here, before a session starts).
"""

from __future__ import annotations

import json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "list",
        help="list ECG/PPG/EDA streams on the network",
        description="Resolve LSL streams and print the physiological ones as a table.",
    )
    parser.add_argument(
        "--timeout", type=float, default=1.0, metavar="S", help="how long to listen (default 1 s)"
    )
    parser.add_argument(
        "--all", action="store_true", help="also list streams that are not ECG, PPG or EDA"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from labmrt.errors import LabmrtError

    if not 0 < args.timeout <= 60:
        raise LabmrtError(f"{args.timeout:g} s", where="--timeout", fix="give 0-60 seconds")

    import pylsl

    from sensors.buffer import check_stream
    from sensors.discovery import StreamDescription, find_streams

    if args.all:
        streams = sorted(
            (StreamDescription.from_info(i) for i in pylsl.resolve_streams(args.timeout)),
            key=lambda d: (d.kind or "~", d.name, d.source_id),
        )
    else:
        streams = find_streams(timeout=args.timeout, kinds=None)
    rows = []
    for d in streams:
        row = d.as_row()
        problem = check_stream(d) if d.kind else "not ECG/PPG/EDA"
        row["status"] = problem or "ok"
        rows.append(row)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    if not rows:
        print(f"no ECG, PPG or EDA streams found within {args.timeout:g} s")
        return 0
    cols = ["name", "type", "kind", "channels", "srate", "format", "source_id", "host", "status"]
    text = [[_fmt(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    for t in text:
        print("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=True)).rstrip())
    return 0


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
