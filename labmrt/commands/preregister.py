"""``labmrt preregister``: the pre-registration bundle, and the check of a study against it.

``labmrt preregister PROTOCOL --plan PLAN [--power FILE] --out DIR`` checks
the plan against the protocol and freezes both (with the tasks CSV, the
classifier model, the sample-size calculation and the software versions)
into a bundle with a SHA-256 manifest and a readable document.
``labmrt preregister --verify BUNDLE STUDY_DIR`` lists every session whose
protocol or software differs from the registered ones (exit code 1 if any).
"""

from __future__ import annotations

import argparse
import json

EPILOG = """\
examples:
  labmrt power --sessions 1 --per-session 30 --prob 0.25 --availability-shape constant \\
      --availability-mean 0.9 --effect-shape constant --effect-mean 0.3 --json > power.json
  labmrt preregister protocols/framing_affect.toml --plan protocols/framing_affect_plan.toml \\
      --power power.json --out prereg/
  labmrt preregister --verify prereg/ studies/framing
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "preregister",
        help="pre-registration bundle of a protocol and its analysis plan; --verify a study",
        description=__doc__.split("\n\n", 1)[1],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("protocol", nargs="?", metavar="PROTOCOL", help="protocol file (TOML)")
    parser.add_argument("--plan", metavar="PLAN", help="analysis plan (TOML) with [[hypotheses]]")
    parser.add_argument("--power", metavar="FILE", help="output of 'labmrt power --json'")
    parser.add_argument("--out", metavar="DIR", help="new folder for the bundle")
    parser.add_argument(
        "--verify",
        nargs=2,
        metavar=("BUNDLE", "STUDY_DIR"),
        help="check every session of STUDY_DIR against the bundle",
    )
    parser.add_argument("--json", action="store_true", help="--verify: print JSON")
    parser.set_defaults(handler=_run)


def _run(args) -> int:
    from labmrt.errors import LabmrtError, Problem

    if args.verify:
        if args.protocol or args.plan or args.out:
            raise LabmrtError(
                Problem(
                    "labmrt preregister --verify",
                    "takes only BUNDLE and STUDY_DIR",
                    "leave out PROTOCOL, --plan and --out",
                )
            )
        return verify(args.verify[0], args.verify[1], as_json=args.json)
    missing = [
        n
        for n, v in (("PROTOCOL", args.protocol), ("--plan", args.plan), ("--out", args.out))
        if not v
    ]
    if missing:
        raise LabmrtError(
            Problem(
                "labmrt preregister",
                f"missing {', '.join(missing)}",
                "give PROTOCOL --plan PLAN --out DIR, or --verify BUNDLE STUDY_DIR",
            )
        )
    return create(args.protocol, args.plan, args.out, args.power)


def create(protocol_path: str, plan_path: str, out: str, power_path: str | None) -> int:
    from labmrt.errors import LabmrtError, Problem
    from labmrt.protocol import load_protocol
    from labmrt.report.bundle import read_power, write_bundle
    from labmrt.report.catalog import checked_plan
    from labmrt.report.prereg_doc import preregistration_document

    protocol = load_protocol(protocol_path)
    plan = checked_plan(plan_path, protocol)
    named = plan.protocol_path()
    if named is not None and named.is_file():
        other = load_protocol(named)
        if other.content_hash != protocol.content_hash:
            raise LabmrtError(
                Problem(
                    f"{plan_path}: protocol",
                    f"names {plan.protocol!r}, whose content differs from {protocol_path}",
                    "register the protocol the plan was written for",
                )
            )
    if not plan.hypotheses:
        raise LabmrtError(
            Problem(str(plan_path), "states no hypotheses", "add [[hypotheses]] tables")
        )
    power = read_power(power_path) if power_path else None
    simulated_for = (power or {}).get("protocol_hash")
    if simulated_for and simulated_for != protocol.content_hash:
        raise LabmrtError(
            Problem(
                str(power_path),
                f"was simulated for protocol {simulated_for[:12]}, not {protocol_path} "
                f"({protocol.content_hash[:12]})",
                "rerun `labmrt power --simulate` on the protocol you register",
            )
        )
    folder, digest = write_bundle(
        protocol,
        plan_path,
        out,
        lambda reg: preregistration_document(protocol, plan, reg, power),
        power,
        power_path,
    )
    print(f"pre-registration bundle: {folder}")
    print(
        f"  protocol {protocol.content_hash}  ({protocol.study.title}, version {protocol.study.version})"
    )
    print(f"  {len(plan.hypotheses)} hypotheses; document: {folder / 'preregistration.html'}")
    if power is None:
        print("  note: no sample-size calculation (--power FILE from `labmrt power --json`)")
    print(f"bundle hash (sha256 of MANIFEST.sha256): {digest}")
    return 0


def verify(bundle_dir: str, study_dir: str, *, as_json: bool = False) -> int:
    from labmrt.protocol import load_protocol
    from labmrt.report.bundle import check_sessions, read_bundle
    from labmrt.store import StudyStore

    bundle = read_bundle(bundle_dir)
    registered = load_protocol(bundle.protocol_path)
    with StudyStore.open(study_dir, readonly=True) as store:
        checks = check_sessions(
            store, bundle.protocol_hash, bundle.software, registered.canonical_json
        )
    differing = [c for c in checks if not c.matches]
    if as_json:
        print(
            json.dumps(
                {
                    "bundle": str(bundle.folder),
                    "bundle_hash": bundle.bundle_hash,
                    "bundle_damaged": bundle.damaged,
                    "protocol_hash": bundle.protocol_hash,
                    "sessions": [c.to_dict() for c in checks],
                    "differing": len(differing),
                },
                indent=2,
            )
        )
        return 1 if differing or bundle.damaged else 0
    print(f"bundle {bundle.folder}: hash {bundle.bundle_hash}")
    if bundle.damaged:
        for line in bundle.damaged:
            print(f"  DAMAGED {line}")
    else:
        print("  every file matches its manifest")
    print(
        f"  registered protocol {bundle.protocol_hash[:12]}; software "
        + ", ".join(f"{k} {v}" for k, v in bundle.software.items() if k != "os")
    )
    for c in differing:
        where = f"session {c.session} ({c.participant}, no {c.session_no}, {c.status})"
        if not c.protocol_matches:
            print(
                f"{where}: protocol {c.protocol_hash[:12]} differs from the registered "
                f"{bundle.protocol_hash[:12]}"
            )
            for change in c.protocol_changes:
                print(f"    {change}")
        for diff in c.software_differences:
            print(f"{where}: software differs: {diff}")
    print(
        f"{len(checks)} sessions: {len(checks) - len(differing)} as registered, "
        f"{len(differing)} differ"
    )
    return 1 if differing or bundle.damaged else 0
