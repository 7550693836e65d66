"""``labmrt merge STATION_DIRS... --into STUDY_DIR``: one study from many stations.

Copies what is new in each station store into the study store (see
``labmrt.store.merge``): merging twice adds nothing, a station that ran
another protocol or a participant code recorded on two stations is refused
(exit 2, nothing written), and each merged session keeps its station. The
merged study exports and analyzes like one recorded on a single machine.
"""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  labmrt merge studies/framing/stations/* --into studies/framing
  labmrt merge /media/usb/ws-3 --into studies/framing
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "merge",
        help="merge station stores into the study store (idempotent)",
        description=__doc__.split("\n\n", 1)[1],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("stations", nargs="+", metavar="STATION_DIR", help="station folders")
    parser.add_argument("--into", required=True, metavar="STUDY_DIR", help="the study folder")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from labmrt.lab.study import LAB_FILE, open_lab_study
    from labmrt.store.merge import merge_stations

    expected = None
    if (Path(args.into) / LAB_FILE).is_file():
        expected = open_lab_study(args.into).protocol_hash
    report = merge_stations(args.stations, args.into, protocol_hash=expected)
    for station, rows in report.rows.items():
        print(f"{station}: {report.sessions[station]} new session(s), {rows} new row(s)")
    print(report.describe(args.into))
    return 0
