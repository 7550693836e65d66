"""``labmrt export STUDY_DIR``: tidy tables, codebook and signals from a study folder.

Reads the study database read-only, so it is safe to run beside a session that
is still recording (it exports what is committed so far).
"""

from __future__ import annotations

import argparse
import json

EPILOG = """\
examples:
  labmrt export studies/framing
  labmrt export studies/framing --format parquet --out /tmp/framing-export
  labmrt export studies/framing --no-signals --json
  labmrt export studies/framing --bids /data/framing-bids
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a study: decision-point table, events, states, codebook, signals (XDF/CSV)",
        description=(
            "Write one tidy decision-point table for all sessions (the input of labmrt analyze), "
            "the feature-use events, the state updates, the sessions, a codebook (JSON and "
            "Markdown) and the raw signals with the LSL markers as XDF (and CSV/Parquet)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("study_dir", metavar="STUDY_DIR", help="study folder (holds labmrt.sqlite)")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv", help="table format")
    parser.add_argument("--out", metavar="DIR", help="output folder (default: STUDY_DIR/export)")
    parser.add_argument(
        "--no-signals", action="store_true", help="skip raw signals (XDF and signal tables)"
    )
    parser.add_argument(
        "--bids",
        metavar="OUT",
        help="write a BIDS dataset to OUT instead (events, decision-point table and physio "
        "per session; replaces an earlier labmrt BIDS export there)",
    )
    parser.add_argument("--json", action="store_true", help="print the written files as JSON")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import pandas as pd

    from labmrt.export import export_study
    from labmrt.textcols import text_as_objects

    if args.bids:
        return _run_bids(args)
    written = export_study(
        args.study_dir, args.out, format=args.format, signals=not args.no_signals
    )
    if args.json:
        print(json.dumps({k: str(p) for k, p in written.items()}, indent=2))
        return 0
    dp = written["decision_points"]
    frame = text_as_objects(pd.read_csv(dp) if dp.suffix == ".csv" else pd.read_parquet(dp))
    print(
        f"exported {len(frame)} decision points of {frame['participant'].nunique()} "
        f"participant(s) to {dp.parent}"
    )
    for name, path in written.items():
        print(f"  {name:<16} {path.name}")
    return 0


def _run_bids(args: argparse.Namespace) -> int:
    from labmrt.export.bids import export_bids

    result = export_bids(args.study_dir, args.bids)
    if args.json:
        files = [str(p.relative_to(result.root)) for p in result.files]
        print(json.dumps({"root": str(result.root), "files": files, "left_out": result.left_out}))
        return 0
    subjects = len(
        {p.relative_to(result.root).parts[0] for p in result.files} - {p.name for p in result.files}
    )
    print(
        f"wrote a BIDS dataset of {subjects} participant(s) to {result.root}: "
        f"{result.count('_events.tsv')} events files, {result.count('_beh.tsv')} decision-point "
        f"tables, {result.count('_physio.tsv.gz')} physio recordings"
    )
    for item in result.left_out:
        print(f"  left out: {item}")
    return 0
