"""``labmrt sensors train``: fit the calm/aroused classifier offline from a labelled feature CSV.

The model file it writes can replace the live calibration
(``labmrt sensors monitor --model MODEL``, or the protocol's model option).
"""

from __future__ import annotations

import json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the affect classifier from a labelled features CSV",
        description=(
            "Fit the calm/aroused logistic model on a CSV with one row per window, feature "
            "columns named as the monitor names them (hr, rmssd, sdnn, hf, lf, lf_hf, scl, "
            "scr_rate, scr_amp) and a label column (calm/rest/baseline/0 vs "
            "aroused/stress/1; other labels are left out). Prints a JSON summary."
        ),
    )
    parser.add_argument("--features", required=True, metavar="FILE.csv", help="labelled features")
    parser.add_argument("--label", required=True, metavar="COL", help="the label column")
    parser.add_argument("--out", required=True, metavar="MODEL", help="model file to write (JSON)")
    parser.add_argument(
        "--group",
        metavar="COL",
        help="participant column: standardise each participant against their own calm rows "
        "(the model then takes each new participant's rest baseline)",
    )
    parser.add_argument(
        "--use",
        metavar="F1,F2",
        help="features to use (default: those of hr,rmssd,sdnn,scl,scr_rate in the file)",
    )
    parser.set_defaults(handler=run)


def run(args) -> int:
    from sensors.state import train_from_csv

    features = [f.strip() for f in args.use.split(",") if f.strip()] if args.use else None
    summary = train_from_csv(args.features, args.label, args.out, features, args.group)
    print(json.dumps(summary, indent=2))
    return 0
