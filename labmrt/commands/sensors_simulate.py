"""``labmrt sensors simulate``: simulated physiology as real LSL outlets on this machine.

Starts ECG or PPG and/or EDA outlets whose arousal follows a schedule, plus a
``Markers`` outlet with the true state (``--layout`` publishes the same body
the way real devices do: a multi-channel hub, RR intervals, heart rate only,
raw ADC codes; see :mod:`sensors.simulate.layouts`), prints what it opened and every state
change, and runs until Ctrl-C or ``--duration``. Any LSL client (the monitor,
LabRecorder) sees them like a device.
"""

from __future__ import annotations

import sys

RATE_LIMITS = {"ecg": (250, 1000), "ppg": (25, 1000), "eda": (16, 256)}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="stream simulated ECG/PPG/EDA with a known arousal schedule over LSL",
        description=(
            "Stream NeuroKit2-simulated physiology over LSL, following a calm/aroused "
            "schedule, with the true state on a Markers stream. Without --ecg/--ppg/--eda "
            "it streams ECG and EDA."
        ),
    )
    heart = parser.add_mutually_exclusive_group()
    heart.add_argument("--ecg", action="store_true", help="stream an ECG (default 500 Hz)")
    heart.add_argument("--ppg", action="store_true", help="stream a PPG (default 100 Hz)")
    parser.add_argument("--eda", action="store_true", help="stream EDA (default 64 Hz)")
    parser.add_argument(
        "--layout",
        default="standard",
        choices=("standard", "hub", "rr-gsr", "hr-only", "bitalino"),
        help="how the signals are published: standard (one stream per signal, default), "
        "hub (one 250 Hz stream: counter, accelerometer, ECG in uV, EDA), rr-gsr (RR "
        "intervals in ms + a resistance/conductance GSR stream), hr-only (1 Hz heart rate + "
        "EDA), bitalino (raw 10-bit ADC codes at 1000 Hz: nSeq, ECG, EDA)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same samples)")
    parser.add_argument(
        "--schedule",
        default="random",
        metavar="FILE|random",
        help="CSV/TOML file of start_s,state rows, or 'random' (default)",
    )
    parser.add_argument(
        "--mean-segment",
        type=float,
        default=60.0,
        metavar="S",
        help="mean length of a random schedule's segments (default 60 s)",
    )
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument("--ecg-rate", type=int, default=500, metavar="HZ")
    parser.add_argument("--ppg-rate", type=int, default=100, metavar="HZ")
    parser.add_argument("--eda-rate", type=int, default=64, metavar="HZ")
    parser.add_argument(
        "--hr-calm",
        type=float,
        nargs=2,
        default=(60.0, 72.0),
        metavar=("LO", "HI"),
        help="range of calm heart rates in bpm (default 60 72)",
    )
    parser.add_argument(
        "--hr-aroused",
        type=float,
        nargs=2,
        default=(85.0, 100.0),
        metavar=("LO", "HI"),
        help="range of aroused heart rates in bpm (default 85 100)",
    )
    parser.add_argument(
        "--noise", type=float, default=1.0, help="noise level, 0 = clean, 1 = default, 3 = noisy"
    )
    parser.add_argument(
        "--chunk",
        type=float,
        default=0.05,
        metavar="S",
        help="push interval (default 0.05 s; 1 or more imitates a bursty Bluetooth device)",
    )
    parser.add_argument(
        "--nan-share",
        type=float,
        default=0.0,
        metavar="X",
        help="share of samples replaced by NaN (default 0), to test how consumers cope",
    )
    parser.add_argument("--name-prefix", default="labmrt-sim", help="stream name prefix")
    parser.add_argument(
        "--source-id",
        metavar="PREFIX",
        help="source id prefix (default: unique per run; give one to let clients reconnect "
        "to a restarted simulator)",
    )
    parser.set_defaults(handler=run)


def _check(args) -> list:
    from labmrt.errors import Problem

    problems = []
    kinds = {"ecg": args.ecg, "ppg": args.ppg, "eda": args.eda}
    for kind, (low, high) in RATE_LIMITS.items():
        rate = getattr(args, f"{kind}_rate")
        if kinds[kind] and not low <= rate <= high:
            problems.append(
                Problem(
                    f"--{kind}-rate",
                    f"{rate} Hz is outside {low}-{high} Hz",
                    "pick a rate in range",
                )
            )
    for opt in ("hr_calm", "hr_aroused"):
        lo, hi = getattr(args, opt)
        if not 30 <= lo <= hi <= 200:
            problems.append(
                Problem(
                    f"--{opt.replace('_', '-')}",
                    f"{lo:g} {hi:g} bpm",
                    "give LO <= HI within 30-200",
                )
            )
    if args.hr_calm[1] >= args.hr_aroused[0]:
        problems.append(
            Problem(
                "--hr-calm/--hr-aroused",
                "the calm range overlaps or exceeds the aroused one",
                "calm rates must lie below aroused rates",
            )
        )
    if args.duration is not None and args.duration <= 0:
        problems.append(Problem("--duration", f"{args.duration:g} s", "give a positive number"))
    if not 0.001 <= args.chunk <= 10:
        problems.append(Problem("--chunk", f"{args.chunk:g} s", "give 0.001-10 seconds"))
    if not 0 <= args.nan_share < 1:
        problems.append(Problem("--nan-share", f"{args.nan_share:g}", "give a share in [0, 1)"))
    if args.noise < 0:
        problems.append(Problem("--noise", f"{args.noise:g}", "give 0 or more"))
    if args.mean_segment <= 0:
        problems.append(
            Problem("--mean-segment", f"{args.mean_segment:g} s", "give a positive number")
        )
    return problems


def run(args) -> int:
    from labmrt.errors import LabmrtError

    if args.layout != "standard" and (args.ecg or args.ppg or args.eda):
        raise LabmrtError(
            f"--layout {args.layout} publishes its own set of signals",
            where="--ecg/--ppg/--eda",
            fix="leave them out, or use --layout standard",
        )
    if not (args.ecg or args.ppg or args.eda):
        args.ecg = args.eda = True
    problems = _check(args)
    if problems:
        raise LabmrtError(problems)

    from sensors.simulate import ArousalSchedule, SimulatedSensors

    if args.schedule == "random":
        schedule = ArousalSchedule.random(
            args.seed, args.duration or 24 * 3600.0, mean_segment_s=args.mean_segment
        )
    else:
        schedule = ArousalSchedule.from_file(args.schedule)
    options = dict(
        seed=args.seed,
        schedule=schedule,
        ecg_rate=args.ecg_rate,
        ppg_rate=args.ppg_rate,
        eda_rate=args.eda_rate,
        hr_calm=tuple(args.hr_calm),
        hr_aroused=tuple(args.hr_aroused),
        noise=args.noise,
        name_prefix=args.name_prefix,
        source_id_prefix=args.source_id,
        duration=args.duration,
        chunk_s=args.chunk,
        nan_share=args.nan_share,
    )
    if args.layout == "standard":
        sim = SimulatedSensors(ecg=args.ecg, ppg=args.ppg, eda=args.eda, **options)
    else:
        from sensors.simulate import LayoutSensors

        sim = LayoutSensors(args.layout, **options)
    sim.start()
    try:
        print(f"{'name':<28} {'type':<8} {'rate':>6}  source_id")
        for row in sim.streams:
            rate = f"{row['rate']:g}" if row["rate"] else "-"
            print(f"{row['name']:<28} {row['type']:<8} {rate:>6}  {row['source_id']}")
        until = f"for {args.duration:g} s" if args.duration else "until Ctrl-C"
        print(f"streaming seed {args.seed} {until}; true state changes:", flush=True)
        announced = 0
        while True:
            finished = sim.wait(0.1)
            elapsed = _elapsed(sim)
            while announced < len(schedule) and schedule.segments[announced][0] <= elapsed:
                start, state = schedule.segments[announced]
                print(f"  t={start:8.1f} s  {state}", flush=True)
                announced += 1
            if finished:
                break
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        sim.stop()
    return 0


def _elapsed(sim) -> float:
    import pylsl

    elapsed = pylsl.local_clock() - sim.t0
    return min(elapsed, sim.duration) if sim.duration else elapsed
