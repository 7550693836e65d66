"""``labmrt validate FILE [FILE ...]``: check protocol files before a study starts.

Prints a summary of each valid protocol (arms and probabilities, tasks and
decision points, outcomes, calibration, content hash) and every problem of
each invalid one; exits 2 when any file has a problem, so it can gate a
pre-registration or a CI job.
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check protocol files and print their summary",
        description="Check protocol files; print a summary of each, or every problem found.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="protocol file(s) (.toml)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from labmrt.errors import EXIT_USER_ERROR, LabmrtError
    from labmrt.protocol import load_protocol

    failed = 0
    for i, name in enumerate(args.files):
        if i:
            print()
        try:
            protocol = load_protocol(name)
            pins = protocol.sensors.pins if protocol.sensors is not None else {}
            if pins:  # units and devices are known to the sensors package only
                from sensors.channels import pin_problems

                problems = pin_problems(pins, where=f"{name}: ")
                if problems:
                    raise LabmrtError(problems)
        except LabmrtError as err:
            failed += 1
            print(err.message, file=sys.stderr)
            continue
        print(f"{name}: OK")
        print(protocol.summary_text())
    if failed:
        if len(args.files) > 1:
            print(f"{failed} of {len(args.files)} protocol file(s) have problems", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0
