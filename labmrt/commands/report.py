"""``labmrt report STUDY_DIR --plan PLAN --out report.html``: the study report, one HTML file.

Participant flow, randomization check, availability, sensor data quality,
every hypothesis of the plan tested as registered (adjusted, supported or
not, with plots), the pre-registered robustness checks and the deviations.
With ``--bundle`` the study is compared with the registration (protocol
hash, software, hypotheses not in the registered plan labelled exploratory).
"""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  labmrt report studies/framing --plan protocols/framing_affect_plan.toml --out report.html
  labmrt report studies/framing --plan prereg/study/framing_affect_plan.toml --bundle prereg/ \\
      --out report.html
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="study report (HTML): flow, randomization, data quality, hypotheses, robustness",
        description=__doc__.split("\n\n", 1)[1],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("study_dir", metavar="STUDY_DIR", help="study folder (holds labmrt.sqlite)")
    parser.add_argument("--plan", required=True, metavar="PLAN", help="analysis plan (TOML)")
    parser.add_argument("--out", required=True, metavar="HTML", help="report file to write")
    parser.add_argument("--bundle", metavar="DIR", help="pre-registration bundle to compare with")
    parser.set_defaults(handler=_run)


def _run(args) -> int:
    from labmrt.report.study_report import write_report

    out = write_report(args.study_dir, args.plan, args.out, args.bundle)
    print(f"report: {out}")
    return 0
