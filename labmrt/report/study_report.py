"""The study report: from a study folder and its analysis plan to one self-contained HTML file.

Sections: participant flow; randomization check; availability; sensor data
quality; the hypotheses as one results table with their plots; the
pre-registered robustness checks; deviations (sessions run with another
protocol or software than registered, hypotheses not in the registered
plan, which are labelled exploratory). The same study, plan and bundle give
the same bytes but for the one generation line: the re-draws are seeded by
the plan, figures carry no metadata, and nothing else depends on the clock.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from labmrt import __version__
from labmrt.analysis.hypotheses import (
    HypothesisResult,
    evaluate_hypotheses,
    redraw_check,
    robustness_hypotheses,
    variant_checks,
)
from labmrt.analysis.spec import AnalysisPlan, load_plan
from labmrt.errors import LabmrtError, Problem
from labmrt.protocol import Protocol, load_protocol
from labmrt.report import figures
from labmrt.report.bundle import Bundle, SessionCheck, check_sessions, read_bundle
from labmrt.report.catalog import checked_plan
from labmrt.report.document import Document, Figure, Heading, Para, Table, fmt, fmt_p
from labmrt.report.study_data import (
    StudyData,
    availability_by_participant,
    availability_over_session,
    data_quality,
    participant_flow,
    randomization_check,
)
from labmrt.store.provenance import describe, parse_software

GENERATED_PREFIX = "Generated"


@dataclass
class Reference:
    """What the study is compared with: the registered (or planned) protocol and software."""

    protocol: Protocol
    software: dict[str, str]
    source: str  # where the reference comes from, for the reader
    bundle: Bundle | None = None
    unregistered: dict[str, str] = field(default_factory=dict)  # hypothesis id -> why


def _reference(
    data: StudyData, plan: AnalysisPlan, bundle: Bundle | None, plan_path: Path
) -> Reference:
    records = [parse_software(t) for t in data.sessions["software_json"]]
    common = Counter(json.dumps(r, sort_keys=True) for r in records if r).most_common(1)
    usual = json.loads(common[0][0]) if common else {}
    if bundle is not None:
        return Reference(
            load_protocol(bundle.protocol_path),
            bundle.software,
            f"the registration {bundle.folder.name} (bundle hash {bundle.bundle_hash[:12]})",
            bundle,
        )
    path = plan.protocol_path()
    if path is not None and path.is_file():
        return Reference(load_protocol(path), usual, f"the plan's protocol {plan.protocol}")
    counts = Counter(data.sessions["protocol_hash"]).most_common(1)
    return Reference(data.protocols[counts[0][0]], usual, "the protocol most sessions ran")


def _unregistered(plan: AnalysisPlan, bundle: Bundle) -> dict[str, str]:
    """Hypotheses of ``plan`` that the registered plan lacks or states differently."""
    registered = {h.id: h for h in load_plan(bundle.plan_path).hypotheses}
    out = {}
    for h in plan.hypotheses:
        if h.id not in registered:
            out[h.id] = "not in the registered plan"
        elif h.model_dump() != registered[h.id].model_dump():
            out[h.id] = "differs from the registered hypothesis"
    return out


def build_report(
    study_dir: str | Path, plan_path: str | Path, bundle_dir: str | Path | None = None
) -> Document:
    """The report of ``study_dir`` under the plan (and the registration, when given)."""
    from labmrt.analysis.api import read_table
    from labmrt.export import export_study
    from labmrt.store import StudyStore

    study_dir, plan_path = Path(study_dir), Path(plan_path)
    bundle = read_bundle(bundle_dir) if bundle_dir is not None else None
    with StudyStore.open(study_dir, readonly=True) as store:
        data = StudyData.read(store)
        if data.sessions.empty:
            raise LabmrtError(
                Problem(str(study_dir), "the study has no sessions yet", "run sessions first")
            )
        plan = load_plan(plan_path)
        ref = _reference(data, plan, bundle, plan_path)
        checks = check_sessions(
            store, ref.protocol.content_hash, ref.software, ref.protocol.canonical_json
        )
    plan = checked_plan(plan_path, ref.protocol)
    if bundle is not None:
        ref.unregistered = _unregistered(plan, bundle)
        if ref.unregistered:
            plan = plan.model_copy(
                update={
                    "hypotheses": [
                        h.model_copy(update={"role": "exploratory"})
                        if h.id in ref.unregistered
                        else h
                        for h in plan.hypotheses
                    ]
                }
            )
    with tempfile.TemporaryDirectory(prefix="labmrt-report-") as tmp:
        export_study(study_dir, tmp, "csv", signals=False)
        frame = read_table(Path(tmp) / "decision_points.csv")
    results = evaluate_hypotheses(plan, frame)

    p = ref.protocol
    doc = Document(f"Study report: {p.study.title}")
    doc.add(
        Table(
            ["", ""],
            [
                ["study folder", study_dir.resolve().name],
                ["study version", p.study.version],
                ["analysis plan", plan_path.name],
                ["compared with", ref.source],
                ["protocol content hash", p.content_hash],
            ],
        )
    )
    _summary(doc, results, checks, ref)
    _flow(doc, data, p)
    _randomization(doc, data, ref, checks)
    _quality(doc, data)
    _hypotheses(doc, plan, results)
    _robustness(doc, plan, frame, results, ref)
    _deviations(doc, plan, ref, checks, results)
    return doc


# --------------------------------------------------------------------------- sections
def _as_referenced(ref: Reference) -> str:
    """``as registered`` only against a verified pre-registration bundle, else ``as planned``."""
    return "as registered" if ref.bundle is not None else "as planned"


def _summary(
    doc: Document, results: list[HypothesisResult], checks: list[SessionCheck], ref: Reference
) -> None:
    primary = [r for r in results if r.hypothesis.role == "primary"]
    supported = [r.id for r in primary if r.supported]
    text = (
        f"{len(supported)} of {len(primary)} primary hypotheses supported"
        + (f" ({', '.join(supported)})" if supported else "")
        + f"; {len(results)} hypotheses in all."
    )
    differ = [c for c in checks if not c.matches]
    against = "the registration" if ref.bundle is not None else "the plan"
    if differ:
        doc.add(
            Para(
                text + f" Deviations: {len(differ)} of {len(checks)} sessions differ from "
                f"{against} (see Deviations).",
                "warn",
            )
        )
    else:
        unverified = "" if ref.bundle is not None else " (no pre-registration bundle was given)"
        doc.add(
            Para(
                text + f" All {len(checks)} sessions ran {_as_referenced(ref)}{unverified}.",
                "ok",
            )
        )


def _flow(doc: Document, data: StudyData, p: Protocol) -> None:
    doc.add(Heading("Participant flow"), Table(["", "count"], participant_flow(data, p.arm_ids)))


def _randomization(
    doc: Document, data: StudyData, ref: Reference, checks: list[SessionCheck]
) -> None:
    doc.add(
        Heading("Randomization check"),
        Para(
            "Arms drawn at the randomized (available) decision points, per row of the "
            "randomization table, against the expected counts (the sum of the recorded "
            "probabilities). Pearson's chi-square test with arms - 1 degrees of freedom; a small "
            "p-value would point to a randomizer that does not follow the design."
        ),
    )
    by_hash: dict[str, list[int]] = {}
    for c in checks:
        by_hash.setdefault(c.protocol_hash, []).append(c.session)
    ordered = sorted(by_hash, key=lambda h: (h != ref.protocol.content_hash, h))
    for h in ordered:
        protocol = data.protocols[h]
        part = _subset(data, set(by_hash[h]))
        ctx = randomization_check(part, protocol)
        if len(ordered) > 1:
            tag = "registered protocol" if h == ref.protocol.content_hash else "DEVIATING protocol"
            doc.add(Heading(f"Sessions with the {tag} {h[:12]}", 3))
        rows = []
        for c in ctx:
            for arm in protocol.arm_ids:
                rows.append(
                    [
                        c.context,
                        arm,
                        c.observed[arm],
                        fmt(c.expected[arm], 2),
                        fmt(c.observed[arm] / max(c.n, 1), 3),
                        fmt(c.designed[arm], 3),
                        fmt(c.chi2, 3) if arm == protocol.arm_ids[0] else "",
                        fmt_p(c.p_value) if arm == protocol.arm_ids[0] else "",
                    ]
                )
        doc.add(
            Table(
                [
                    "context",
                    "arm",
                    "observed",
                    "expected",
                    "observed share",
                    "designed",
                    "chi-square",
                    "p",
                ],
                rows,
            ),
        )
        if ctx:
            doc.add(
                Figure(
                    figures.randomization_figure(ctx),
                    "observed vs designed arm shares",
                    name="randomization.png",
                )
            )
    by_p = availability_by_participant(data)
    over = availability_over_session(data)
    doc.add(
        Heading("Availability", 3),
        Table(
            list(by_p.columns),
            [[r[0], r[1], r[2], fmt(r[3], 3), r[4]] for r in by_p.itertuples(index=False)],
        ),
        Figure(
            figures.availability_figure(by_p, over),
            "availability by participant and over the session",
            name="availability.png",
        ),
    )


def _subset(data: StudyData, sessions: set[int]) -> StudyData:
    def keep(frame):
        return frame[frame["session"].isin(sessions)]

    return StudyData(
        keep(data.sessions),
        keep(data.decisions),
        keep(data.presentations),
        keep(data.states),
        keep(data.markers),
        keep(data.statuses),
        data.protocols,
    )


def _quality(doc: Document, data: StudyData) -> None:
    q = data_quality(data)
    doc.add(
        Heading("Sensor data quality"),
        Para(
            "Share of `unknown` affective states per participant (from the classifier's state "
            "updates, or from the decision points where none were stored), the calibration each "
            "session recorded (`calibration` marker: whether rest and stressor separated, the "
            "cross-validated AUC and warnings), and stream losses (state updates naming a lost "
            "or silent stream; decision points unavailable for want of a valid signal)."
        ),
        Table(
            list(q.columns),
            [[r[0], fmt(r[1], 3), r[2], r[3], r[4], r[5]] for r in q.itertuples(index=False)],
        ),
        Figure(
            figures.unknown_figure(q), "share of unknown states by participant", name="unknown.png"
        ),
    )


def _ci(r: HypothesisResult) -> str:
    return f"[{fmt(r.ci_lower)}, {fmt(r.ci_upper)}]"


def _support(r: HypothesisResult) -> str:
    if r.supported is None:
        return "not estimable"
    answer = "yes" if r.supported else "no"
    return f"{answer} (exploratory)" if r.hypothesis.role == "exploratory" else answer


def _hypotheses(doc: Document, plan: AnalysisPlan, results: list[HypothesisResult]) -> None:
    doc.add(
        Heading("Hypotheses"),
        Para(
            "One row per pre-registered hypothesis. Directional hypotheses: one-sided p and "
            "one-sided (1 - alpha) confidence bound; `!=0`: two-sided. p adjusted: "
            + (
                f"{plan.multiplicity} over the primary family"
                if plan.multiplicity != "none"
                else "no adjustment"
            )
            + "; secondary and exploratory hypotheses are not adjusted. Supported: adjusted "
            "p below alpha."
            + (
                " Distal hypotheses (dcee) are effects of one decision point's framing on the "
                "distal outcome, mediated ones (mcee) its natural direct or indirect part "
                "through the named proximal outcome, averaged over all decision points."
                if any(r.hypothesis.is_distal(plan.method) for r in results)
                else ""
            )
        ),
    )
    rows = []
    for r in results:
        h = r.hypothesis
        rows.append(
            [
                h.id,
                h.role,
                h.text,
                f"{h.contrast}, `{h.outcome}`, {h.effect_label()}",
                h.direction,
                fmt(r.estimate),
                _ci(r),
                fmt_p(r.p_value),
                fmt_p(r.p_adjusted),
                fmt(r.alpha, 3),
                _support(r),
            ]
        )
    doc.add(
        Table(
            [
                "id",
                "role",
                "hypothesis",
                "effect",
                "direction",
                "estimate",
                "CI",
                "p",
                "p adjusted",
                "alpha",
                "supported",
            ],
            rows,
            "Results",
        )
    )
    errors = [f"{r.id}: {r.error}" for r in results if r.error]
    if errors:
        doc.add(Para("Not estimable: " + " | ".join(errors), "warn"))
    n = {(r.n_participants, r.n_used) for r in results if r.result is not None}
    if n:
        doc.add(
            Para(
                "Participants with weight and decision points used: "
                + "; ".join(
                    f"{r.id} {r.n_participants} / {r.n_used}"
                    for r in results
                    if r.result is not None
                )
                + "."
            )
        )
    doc.add(
        Figure(
            figures.hypotheses_figure(results),
            "estimates of every hypothesis",
            name="hypotheses.png",
        )
    )
    seen = set()
    for r in results:
        h = r.hypothesis
        key = (h.outcome, h.contrast, h.moderator, h.method or plan.method)
        if r.result is None or h.moderator is None or key in seen:
            continue
        seen.add(key)
        doc.add(
            Figure(
                figures.effect_figure(r.result),
                f"effect of {h.contrast} on {h.outcome} by {h.moderator}",
                f"{h.contrast} on `{h.outcome}` by `{h.moderator}` (95% intervals; "
                f"fit of {', '.join(x.id for x in results if (x.hypothesis.outcome, x.hypothesis.contrast, x.hypothesis.moderator, x.hypothesis.method or plan.method) == key)})",
                name=f"effect_{h.id}.png",
            )
        )


def _robustness(
    doc: Document, plan: AnalysisPlan, frame, results: list[HypothesisResult], ref: Reference
) -> None:
    doc.add(Heading("Robustness (as pre-registered)" if ref.bundle else "Robustness (as planned)"))
    rb = plan.robustness
    checked = robustness_hypotheses(plan)
    if rb is None or not checked:
        doc.add(Para("The plan registers no robustness checks."))
        return
    redraws = []
    if rb.draws > 0:
        redraws = [redraw_check(plan, h, frame, rb.draws, rb.seed) for h in checked]
        rows = []
        for h, r in zip(checked, redraws, strict=True):
            rows.append(
                [
                    h.id,
                    r.draws,
                    r.seed,
                    fmt(h.alpha or plan.alpha, 3),
                    fmt(100 * r.share_significant, 3) + "%",
                    fmt_p(r.randomization_p),
                    r.error or "",
                ]
            )
        doc.add(
            Para(
                f"Re-draws: each analysis re-run {rb.draws} times with the arm at every available "
                "decision point drawn again from the probabilities recorded there (seed "
                f"{rb.seed}). Share significant: re-drawn analyses significant (two-sided) at "
                "alpha; expected about alpha. Randomization p: share of re-drawn estimates at "
                "least as extreme as the observed one, in the hypothesis's direction."
            ),
            Table(
                [
                    "hypothesis",
                    "draws",
                    "seed",
                    "alpha",
                    "share significant",
                    "randomization p",
                    "note",
                ],
                rows,
            ),
            Figure(
                figures.null_figure(redraws),
                "re-drawn estimates with the observed one",
                name="redraws.png",
            ),
        )
    rows = []
    by_id = {r.id: r for r in results}
    for h in checked:
        main = by_id[h.id]
        rows.append(
            [
                h.id,
                f"{_as_referenced(ref)} (all rows)",
                fmt(main.estimate),
                _ci(main),
                fmt_p(main.p_value),
                _support_raw(main),
            ]
        )
        for v in variant_checks(plan, h, frame):
            r = v.result
            rows.append(
                [
                    h.id,
                    f"{v.kind}: {v.variant}",
                    fmt(r.estimate),
                    _ci(r),
                    fmt_p(r.p_value),
                    _support_raw(r),
                ]
            )
    if len(rows) > len(checked):
        doc.add(
            Para("Alternative outcomes, subsets and per-protocol re-runs (p not adjusted)."),
            Table(["hypothesis", "analysis", "estimate", "CI", "p", "p < alpha"], rows),
        )


def _support_raw(r: HypothesisResult) -> str:
    if r.error or r.p_value != r.p_value:
        return "not estimable"
    return "yes" if r.p_value < r.alpha else "no"


def _deviations(
    doc: Document, plan: AnalysisPlan, ref: Reference, checks: list[SessionCheck], results
) -> None:
    doc.add(Heading("Deviations"))
    other = [c for c in checks if not c.protocol_matches]
    soft = [c for c in checks if c.software_differences]
    if not other and not soft:
        doc.add(Para(f"Every session ran the protocol and the software of {ref.source}.", "ok"))
    else:
        doc.add(
            Para(
                f"{len(other)} session(s) ran another protocol and {len(soft)} other software "
                f"than {ref.source}. They are included in the analyses above.",
                "warn",
            )
        )
        rows = []
        for c in checks:
            if c.matches:
                continue
            rows.append(
                [
                    c.session,
                    c.participant,
                    c.status,
                    c.protocol_hash[:12],
                    _as_referenced(ref) if c.protocol_matches else "DIFFERS",
                    "; ".join(c.protocol_changes) or "–",
                    "; ".join(c.software_differences) or _as_referenced(ref),
                ]
            )
        doc.add(
            Table(
                [
                    "session",
                    "participant",
                    "status",
                    "protocol",
                    "protocol check",
                    "what changed",
                    "software",
                ],
                rows,
            )
        )
    doc.add(Para("Software of the reference: " + describe(ref.software) + "."))
    exploratory = [r for r in results if r.hypothesis.role == "exploratory"]
    if ref.bundle is not None:
        reg_sha = ref.bundle.registration["plan"]["sha256"]
        from labmrt.protocol.files import sha256_file

        if plan.source and sha256_file(Path(plan.source)) != reg_sha:
            doc.add(Para("The analysis plan differs from the registered plan (sha256).", "warn"))
    if exploratory:
        doc.add(
            Para("Exploratory analyses (no confirmatory claim):"),
            Table(
                ["id", "hypothesis", "why exploratory"],
                [
                    [
                        r.id,
                        r.hypothesis.text,
                        ref.unregistered.get(r.id, "registered as exploratory"),
                    ]
                    for r in exploratory
                ],
            ),
        )


# --------------------------------------------------------------------------- output
def generation_line() -> str:
    return (
        f"{GENERATED_PREFIX} by labmrt {__version__} on {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC."
    )


def write_report(
    study_dir: str | Path,
    plan_path: str | Path,
    out: str | Path,
    bundle_dir: str | Path | None = None,
) -> Path:
    """Build the report and write it as one self-contained HTML file."""
    doc = build_report(study_dir, plan_path, bundle_dir)
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(doc.to_html(generation_line()), "utf-8")
    except OSError as err:
        raise LabmrtError(
            Problem(str(out), f"cannot write the report: {err.strerror or err}", "check the folder")
        ) from None
    return out
