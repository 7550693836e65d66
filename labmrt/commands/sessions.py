"""``labmrt sessions STUDY_DIR``: the sessions of a study and their status, for the experimenter.

Interrupted sessions (the program was closed or killed mid-session) are marked
so the experimenter can resume them or close them as incomplete. Sessions run
with different software versions (labmrt, the data packages, Python, the OS) are
flagged, and so is a workstation whose software differs from the last session's.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sessions",
        help="list the sessions of a study folder with their status",
        description="List every session of the study: participant code, status, progress.",
        epilog="example:\n  labmrt sessions studies/framing",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("study_dir", metavar="STUDY_DIR", help="study folder (holds labmrt.sqlite)")
    parser.add_argument("--json", action="store_true", help="print the table as JSON records")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from labmrt.store import OPEN_STATUSES, StudyStore
    from labmrt.store.provenance import parse_software, study_version_warnings

    with StudyStore.open(args.study_dir, readonly=True) as store:
        table = store.sessions()
        software = store.software()
    interrupted = table["status"].isin(sorted(OPEN_STATUSES)) & table["resumed_by"].isna()
    warnings = study_version_warnings(software)
    if args.json:
        records = table.drop(columns="software_json").assign(interrupted=interrupted)
        records = records.astype(object)
        records = records.where(records.notna(), None).to_dict(orient="records")
        for record, text in zip(records, table["software_json"], strict=True):
            record["software"] = parse_software(text)
        print(json.dumps(records, indent=2, default=str))
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        return 0
    if table.empty:
        print(f"{args.study_dir}: no sessions yet")
        return 0
    header = f"{'session':>7}  {'participant':<12} {'no':>3}  {'status':<11} {'decisions':>9}  "
    header += f"{'events':>6}  {'workstation':<12} protocol"
    print(header)
    for row, stopped in zip(table.itertuples(index=False), interrupted, strict=True):
        status = row.status + ("*" if stopped else "")
        print(
            f"{row.session:>7}  {row.participant:<12} {row.session_no:>3}  {status:<11} "
            f"{row.n_decisions:>9}  {row.n_events:>6}  {row.workstation or '-':<12} "
            f"{row.protocol_hash[:12]}"
        )
    n = int(interrupted.sum())
    if n:
        print(
            f"\n* {n} interrupted session(s): nothing recorded was lost; resume one with "
            "`labmrt run --resume CODE`"
        )
    for warning in warnings:
        print(f"\nwarning: {warning}")
    return 0
