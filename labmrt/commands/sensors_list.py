"""``labmrt sensors list``: the physiological streams on the lab network, channel by channel.

Prints each stream (name, type, channels, nominal rate, format, source id,
host) and, below it, which of its channels carries which signal and why,
how the values are converted, and why every other channel is left out (a
counter, an accelerometer, a second EDA channel...), read from the
stream's channel metadata (:mod:`sensors.acquire.channels`). Then the channel per
kind the monitor would use across all streams, and the streams it would
leave out. A wrong channel format or an absurd rate is named here, before a
session starts.
"""

from __future__ import annotations

import json
import re


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "list",
        help="list ECG/PPG/EDA/RR/HR streams on the network and the channels used",
        description=(
            "Resolve LSL streams and print the physiological ones, each with the channel "
            "used for each signal and why (read from the stream's channel metadata), the "
            "unit conversion, and why other channels are left out."
        ),
    )
    parser.add_argument(
        "--timeout", type=float, default=1.0, metavar="S", help="how long to listen (default 1 s)"
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="also list streams that carry no ECG, PPG, EDA, RR or HR channel",
    )
    parser.add_argument(
        "--name", metavar="REGEX", help="only streams whose name matches (case-insensitive)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from labmrt.errors import LabmrtError

    if not 0 < args.timeout <= 60:
        raise LabmrtError(f"{args.timeout:g} s", where="--timeout", fix="give 0-60 seconds")

    import pylsl

    from sensors.acquire import StreamDescription, check_stream, choose_sources, find_streams

    if args.all:
        pattern = re.compile(args.name, re.IGNORECASE) if args.name else None
        streams = sorted(
            (
                StreamDescription.fetch(i, args.timeout)
                for i in pylsl.resolve_streams(args.timeout)
                if pattern is None or pattern.search(i.name())
            ),
            key=lambda d: (d.kind or "~", d.name, d.source_id),
        )
    else:
        streams = find_streams(timeout=args.timeout, kinds=None, name_pattern=args.name)
    selection = choose_sources(streams)
    used = {(c.stream.uid, c.channel, c.kind) for c in selection.choices.values()}
    rows = []
    for d, plan in zip(streams, selection.plans, strict=True):
        row = d.as_row()
        uses = []
        for c in plan.choices:
            use = c.as_row()
            use["status"] = check_stream(d, c.channel, c.kind) or "ok"
            # whether the monitor, given every stream listed, would read this channel
            use["selected"] = (d.uid, c.channel, c.kind) in used
            uses.append(use)
        row["uses"] = uses
        row["ignored"] = [
            {"channel": i, "label": lbl, "reason": why} for i, lbl, why in plan.ignored
        ]
        row["status"] = "ok" if uses else "no ECG, PPG, EDA, RR or HR channel"
        rows.append(row)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    if not rows:
        print(f"no ECG, PPG, EDA, RR or HR streams found within {args.timeout:g} s")
        return 0
    cols = ["name", "type", "channels", "srate", "format", "source_id", "host", "status"]
    text = [[_fmt(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    for row, t in zip(rows, text, strict=True):
        print("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=True)).rstrip())
        for u in row["uses"]:
            label = f" {u['label']!r}" if u["label"] else ""
            status = "" if u["status"] == "ok" else f"  UNUSABLE: {u['status']}"
            print(
                f"    ch{u['channel']}{label} -> {u['kind'].upper()} [{u['conversion']}]: "
                f"{u['reason']}{status}"
            )
        for ign in row["ignored"]:
            label = f" {ign['label']!r}" if ign["label"] else ""
            print(f"    ch{ign['channel']}{label} not used: {ign['reason']}")
    print()
    print("the monitor would read:")
    for c in selection.choices.values():
        print(f"  {c.describe()}")
    for note in selection.notes:
        print(f"  not used: {note}")
    return 0


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
