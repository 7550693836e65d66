"""The readable pre-registration: the usual questions, answered from the protocol and the plan.

Sections follow what OSF's and AsPredicted's templates ask (hypotheses,
design, outcomes and their measurement, moderators, sample size and stopping
rule, analysis, inference criteria, robustness, exclusions) plus what an MRT
adds: the randomization probabilities per context and the availability rules.
Every sentence is generated from the frozen files, so the document cannot
drift from what is registered.
"""

from __future__ import annotations

from pathlib import Path

from labmrt.analysis.spec import AnalysisPlan
from labmrt.protocol import Protocol
from labmrt.report.document import Bullets, Document, Heading, Para, Table, fmt
from labmrt.store.provenance import SOFTWARE_KEYS

BUILTIN_CONTROLS = ("task_index", "difficulty", "time_in_session_s")
ROLE_ORDER = {"primary": 0, "secondary": 1, "exploratory": 2}
DIRECTION_TEXT = {
    ">0": "greater than 0 (one-sided test)",
    "<0": "less than 0 (one-sided test)",
    "!=0": "different from 0 (two-sided test)",
}


def estimator_text(method: str) -> str:
    if method == "dcee":
        return (
            "DCEE (distal causal excursion effect, Qian 2025, Biometrics, "
            "doi:10.1093/biomtc/ujaf134): the effect of the framing at a decision point on a "
            "distal outcome measured once per participant, as MRTAnalysis 0.4 `dcee()` "
            "computes it"
        )
    if method == "mcee":
        return (
            "MCEE (mediated causal excursion effects, Qian 2025, arXiv:2506.20027): the "
            "natural direct and indirect excursion effects of the framing on a distal outcome "
            "through a proximal outcome, as MRTAnalysis 0.4 `mcee()` computes them"
        )
    if method == "emee":
        return (
            "EMEE (estimator for the marginal excursion effect, Qian et al. 2021), the causal "
            "excursion effect on the log relative risk scale, as the R package MRTAnalysis "
            "`emee()` computes it"
        )
    return (
        "WCLS (weighted and centred least squares, Boruvka et al. 2018), the causal excursion "
        "effect on the outcome's scale, as the R package MRTAnalysis `wcls()` computes it"
    )


def hypotheses_table(plan: AnalysisPlan) -> Table:
    rows = []
    for h in sorted(plan.hypotheses, key=lambda h: ROLE_ORDER[h.role]):
        rows.append(
            [
                h.id,
                h.role,
                h.text,
                h.outcome,
                h.contrast,
                h.effect_label(),
                h.direction,
                fmt(h.alpha if h.alpha is not None else plan.alpha, 3),
                h.method_of(plan.method),
            ]
        )
    return Table(
        [
            "id",
            "role",
            "hypothesis",
            "outcome",
            "contrast",
            "effect",
            "direction",
            "alpha",
            "method",
        ],
        rows,
    )


def design_blocks(protocol: Protocol) -> list:
    blocks: list = [Heading("Arms", 3)]
    blocks.append(
        Table(
            ["arm", "label", "wording", "baseline"],
            [
                [
                    a.id,
                    a.label,
                    a.framing if a.framing is not None else "(per task)",
                    "yes" if a.baseline else "",
                ]
                for a in protocol.arms
            ],
        )
    )
    r = protocol.randomization
    blocks.append(Heading("Randomization", 3))
    if r.table is None:
        blocks.append(Para(f"The same probabilities at every decision point (seed {r.seed})."))
        probs = protocol.probabilities()
        blocks.append(Table(list(probs), [[fmt(p) for p in probs.values()]]))
    else:
        blocks.append(
            Para(
                f"The probabilities depend on `{r.context}` observed at the decision point "
                f"(study seed {r.seed}); a missing value or one without a row uses the "
                f"`{r.fallback}` row. Each participant has their own random stream, so every "
                "draw can be replayed."
            )
        )
        rows = []
        for key in r.table:
            probs = protocol.probabilities({r.context: key})
            rows.append([key, *[fmt(p) for p in probs.values()]])
        blocks.append(Table([r.context, *protocol.arm_ids], rows, "P(arm | context)"))
    rules = protocol.decision_rules
    decisions = protocol.decision_task_indices()
    which = {
        "all": "every task",
        "every_k": f"every {rules.every_k}. task from task {rules.start_task}",
        "list": "the listed tasks " + ", ".join(rules.task_ids),
    }[rules.select]
    blocks.append(Heading("Decision points and availability", 3))
    unavailable = []
    if rules.require_signal:
        unavailable.append("no valid physiological signal arrives")
    if rules.min_quality is not None:
        unavailable.append(f"the signal quality is below {rules.min_quality:g}")
    if rules.break_unavailable:
        unavailable.append("the participant is on a break (and within the sensor window after it)")
    if rules.min_spacing_s > 0:
        unavailable.append(
            f"less than {rules.min_spacing_s:g} s passed since the last randomized point"
        )
    blocks.append(
        Para(
            f"{len(protocol.tasks)} tasks; {len(decisions)} decision points per session "
            f"({which}). Calibration is never a decision point. A decision point is unavailable "
            "(logged with I = 0, not randomized) when: "
            + ("; ".join(unavailable) if unavailable else "never")
            + "."
        )
    )
    c = protocol.control
    receipt = {
        "confirm": "the participant confirms having read the task"
        + (f" after at least {c.min_dwell_s:g} s" if c.min_dwell_s else ""),
        "dwell": f"the framing was on screen for at least {c.min_dwell_s:g} s",
        "none": "every framing shown counts as received",
    }[c.mode]
    blocks.append(Para(f"Receipt of the framing (per-protocol flag): {receipt}."))
    if protocol.calibration is not None:
        cal = protocol.calibration
        text = f"Calibration: {cal.rest_s:g} s rest"
        if cal.stressor_s > 0:
            text += f", then {cal.stressor_s:g} s {cal.stressor} stressor"
        blocks.append(Para(text + "."))
    if protocol.sensors is not None:
        s = protocol.sensors
        blocks.append(
            Para(
                f"Sensors: {', '.join(s.streams)}; affective state classifier: {s.classifier}"
                + (f" (sha256 {s.classifier_sha256})" if s.classifier_sha256 else "")
                + f"; feature window {s.window_s:g} s"
                + (
                    f"; live features: {s.state_features}; a participant whose calibration "
                    "does not separate rest from stressor gets "
                    + (
                        "states from the rest reference (each marked so in its reason)"
                        if s.not_separated == "rest_reference"
                        else "the state unknown"
                    )
                    if s.classifier == "calibration"
                    else ""
                )
                + "."
            )
        )
    return blocks


def outcome_rows(protocol: Protocol) -> list[list[object]]:
    rows = []
    for o in protocol.outcomes:
        window = (
            "until the end of the task"
            if o.window == "task"
            else f"{o.window:g} s after the decision point"
        )
        measure = {
            "duration": "seconds during which any of the features was open",
            "count": "number of opens and uses",
            "any": "1 if used at all, else 0",
        }[o.measure]
        rows.append([o.name, ", ".join(o.features), measure, window, o.transform])
    return rows


def distal_outcome_blocks(plan: AnalysisPlan) -> list:
    """The distal outcomes the plan's hypotheses name, as the export defines them."""
    from labmrt.export.participants import DISTAL_MEANINGS

    named = dict.fromkeys(h.outcome for h in plan.hypotheses if h.is_distal(plan.method))
    if not named:
        return []
    rows = [[name, DISTAL_MEANINGS.get(name, "participant-level measure")] for name in named]
    return [
        Para(
            "Distal outcomes: measured once per participant over all of its tasks "
            "(`participants.csv` of the export), repeated on each of its decision-point rows."
        ),
        Table(["distal outcome", "definition"], rows),
    ]


def sample_size_blocks(power: dict | None, plan: AnalysisPlan) -> list:
    blocks: list = [Heading("Sample size and stopping rule")]
    if power is None:
        blocks.append(Para("No sample-size calculation was registered.", "warn"))
    elif "terms" in power:
        blocks += _simulated_power_blocks(power)
    else:
        inputs = power.get("inputs") or {}
        blocks.append(
            Para(
                "Calculated with `labmrt power` (Liao et al. 2016, the method of the R package "
                f"MRTSampleSize): {power['n']} participants give power {fmt(power['power'])} at "
                f"alpha {fmt(power.get('alpha'), 3)} "
                f"(F({power.get('df1')}, {power.get('df2')}), non-centrality "
                f"{fmt(power.get('noncentrality'))})."
            )
        )
        if inputs:
            blocks.append(
                Table(
                    ["input", "value"],
                    [[k, _plain(v)] for k, v in sorted(inputs.items())],
                    "Inputs of the calculation",
                )
            )
        else:
            blocks.append(Para("The file does not record the calculation's inputs.", "warn"))
        outputs = {k: v for k, v in power.items() if k not in ("inputs", "plot")}
        blocks.append(
            Table(
                ["output", "value"], [[k, _plain(v)] for k, v in sorted(outputs.items())], "Result"
            )
        )
    blocks.append(Para("Stopping rule: " + (plan.stopping_rule or "not stated.")))
    return blocks


def _simulated_power_blocks(power: dict) -> list:
    """A `labmrt power --simulate` result: power per tested term and sample size."""
    ns = [int(n) for n in power.get("ns", [])]
    effects = Path(str(power.get("effects") or "")).name
    blocks: list = [
        Para(
            f"Simulated with `labmrt power --simulate` ({power.get('method', '')}): "
            f"{power.get('trials')} simulated studies per sample size (seed {power.get('seed')}), "
            f"each drawn through the protocol's own randomizer and analyzed as the study will be; "
            f"alpha {fmt(power.get('alpha'), 3)}, target power {fmt(power.get('target_power'))}; "
            f"assumed effects: `{effects}` (in this bundle)."
        )
    ]
    rows = []
    for term in power["terms"]:
        by_n = {int(b["n"]): b for b in term.get("by_n", [])}
        n_target = term.get("n_for_target")
        rows.append(
            [
                term.get("outcome", ""),
                term.get("contrast", ""),
                f"{term.get('term', '')} ({term.get('meaning', '')})",
                fmt(term.get("truth")),
                str(n_target) if n_target is not None else f"> {max(ns) if ns else '-'}",
                *[
                    f"{fmt(by_n[n]['power'])} +- {fmt(by_n[n]['mc_se'])}" if n in by_n else "-"
                    for n in ns
                ],
            ]
        )
    blocks.append(
        Table(
            [
                "outcome",
                "contrast",
                "term",
                "true value",
                "N for target",
                *[f"N = {n}" for n in ns],
            ],
            rows,
            "Power per term (+- Monte Carlo standard error)",
        )
    )
    null = power.get("type_one_error") or {}
    rates = [b["power"] for t in null.get("terms", []) for b in t.get("by_n", [])]
    if rates:
        blocks.append(
            Para(
                f"Type I error with every effect set to 0 ({null.get('trials')} studies per "
                f"sample size): mean {fmt(sum(rates) / len(rates))}, range "
                f"{fmt(min(rates))}-{fmt(max(rates))} over terms and sample sizes."
            )
        )
    return blocks


def _plain(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list):
        return ", ".join(_plain(x) for x in v) or "none"
    return "–" if v is None else str(v)


def analysis_blocks(plan: AnalysisPlan) -> list:
    small = {
        None: "as MRTAnalysis: applied when at most 50 participants carry weight",
        "auto": "as MRTAnalysis: applied when at most 50 participants carry weight",
        "always": "always applied",
        "never": "not applied",
    }[plan.small_sample]
    by_method: dict[str, list[str]] = {}
    for h in plan.hypotheses:
        by_method.setdefault(h.method_of(plan.method), []).append(h.id)
    items = [
        f"Estimator for {', '.join(ids)}: {estimator_text(m)}."
        for m, ids in sorted(by_method.items(), key=lambda kv: kv[0] != plan.method)
    ] or [f"Estimator: {estimator_text(plan.method)}."]
    items += [
        "Contrasts: each hypothesis's contrast (table above), e.g. `loss-vs-baseline`; decision "
        "points drawn to an arm outside a contrast are excluded from it, and the treatment "
        "probability is the recorded one, conditional on the two sides.",
        "Effect model: an intercept (the marginal effect) or, for an effect at a moderator level, "
        "the moderator (categorical moderators dummy-coded with the tested level as reference, "
        "numeric ones centred at it).",
        "Working model (controls): intercept + "
        + (", ".join(f"`{c}`" for c in plan.controls) or "nothing else")
        + "; a moderator is added to the controls.",
        f"Numerator probability: {plan.numerator_prob if plan.numerator_prob is not None else 0.5}"
        " (MRTAnalysis's default).",
        f"Availability: `{plan.availability}` (unavailable points get weight 0)."
        if plan.availability
        else "Availability: every decision point counts as available.",
        "Variance: cluster (participant) sandwich; small-sample correction of Mancl and "
        f"DeRouen (2001): {small}; t-based inference with n - p - q degrees of freedom.",
        "Analysis set: "
        + ("per-protocol (received framings only)" if plan.per_protocol else "intent-to-treat")
        + ".",
    ]
    items += distal_analysis_items(plan)
    return [Heading("Analysis"), Bullets(items)]


def distal_analysis_items(plan: AnalysisPlan) -> list[str]:
    """How the distal and mediated hypotheses are estimated (none: nothing to say)."""
    distal = [h for h in plan.hypotheses if h.is_distal(plan.method)]
    if not distal:
        return []
    ids = ", ".join(h.id for h in distal)
    mediators = sorted({h.mediator for h in distal if h.mediator})
    learner = plan.learner or "none given"
    return [
        f"Distal and mediated hypotheses ({ids}): the marginal effect over every decision point "
        "of each participant; the contrast puts every arm on a side (a distal outcome depends "
        "on every decision point, so none is left out); unavailable decision points stay in "
        "the estimating equations with no contribution, so the effects are averaged over all "
        "decision points (MRTAnalysis's convention).",
        f"Their nuisance models (stage 1): learner `{learner}` (dcee: least squares of the "
        "distal outcome per arm; mcee: logistic for the treatment given the mediator, gaussian "
        "otherwise) on the controls above"
        + (
            ", with the mediator " + ", ".join(f"`{m}`" for m in mediators) + " added for mcee"
            if mediators
            else ""
        )
        + "; the moderators are not used.",
        "Their variance: cluster (participant) sandwich with the nuisance fits taken as known, "
        "no small-sample correction; t-based inference with n - p (dcee) or n - 2p (mcee) "
        "degrees of freedom, n counting every participant.",
    ]


def inference_blocks(plan: AnalysisPlan) -> list:
    primary = [h.id for h in plan.hypotheses if h.role == "primary"]
    items = [
        f"Significance level: alpha = {plan.alpha:g} unless a hypothesis states its own.",
        "Directional hypotheses (`>0`, `<0`) are tested one-sided and reported with a "
        "one-sided (1 - alpha) confidence bound; `!=0` two-sided with a (1 - alpha) interval.",
        (
            f"Multiplicity: the primary family ({', '.join(primary) or 'none'}) is adjusted with "
            f"the {plan.multiplicity} method (statsmodels `multipletests`)."
            if plan.multiplicity != "none"
            else "Multiplicity: no adjustment."
        ),
        "Secondary hypotheses are reported with unadjusted p-values; exploratory ones are "
        "labelled exploratory and support no confirmatory claim.",
        "A hypothesis is supported when its (adjusted) p-value is below its alpha.",
    ]
    return [Heading("Inference criteria"), Bullets(items)]


def robustness_blocks(plan: AnalysisPlan) -> list:
    rb = plan.robustness
    if rb is None:
        return [Heading("Robustness checks"), Para("None registered.")]
    from labmrt.analysis.hypotheses import robustness_hypotheses

    ids = ", ".join(h.id for h in robustness_hypotheses(plan)) or "none"
    items = [
        f"Randomization check for {ids}: {rb.draws} analyses with the arms re-drawn from the "
        f"recorded randomization probabilities (seed {rb.seed}); reported: the share of re-drawn "
        "analyses significant at alpha (expected about alpha) and the randomization p-value.",
    ]
    for outcome, alts in rb.alternative_outcomes.items():
        items.append(f"Alternative outcomes for `{outcome}`: " + ", ".join(f"`{a}`" for a in alts))
    for expr in rb.subsets:
        items.append(f"Subset: `{expr}`")
    if rb.per_protocol:
        items.append("Per-protocol: only decision points whose framing was received.")
    return [Heading("Robustness checks"), Bullets(items)]


def preregistration_document(
    protocol: Protocol, plan: AnalysisPlan, registration: dict, power: dict | None
) -> Document:
    s = protocol.study
    doc = Document(f"Pre-registration: {s.title}")
    doc.add(
        Para(s.description or ""),
        Table(
            ["", ""],
            [
                ["study version", s.version],
                ["protocol file", registration["protocol"]["file"]],
                ["protocol content hash (sha256)", protocol.content_hash],
                ["analysis plan", registration["plan"]["file"]],
                ["plan sha256", registration["plan"]["sha256"]],
                ["registration", s.preregistration or "–"],
            ],
        ),
        Para(
            "Every file of this registration is listed with its SHA-256 in `MANIFEST.sha256`; "
            "the bundle hash is the SHA-256 of that file. Every session labmrt records stores "
            "the protocol content hash and its software, so `labmrt preregister --verify` can "
            "show which sessions ran exactly what is registered."
        ),
        Heading("Hypotheses"),
        hypotheses_table(plan),
        Heading("Design"),
        Para(
            "A micro-randomized trial: at every decision point (a task being communicated) the "
            "framing of the task is drawn at random with the probabilities below, and the "
            "proximal outcome is the use of the system's features after it."
        ),
        *design_blocks(protocol),
        Heading("Outcomes and how they are measured"),
        Table(["outcome", "features", "measure", "window", "transform"], outcome_rows(protocol)),
        *distal_outcome_blocks(plan),
        Heading("Moderators and controls"),
        Para(
            "Recorded at each decision point: moderators "
            + (", ".join(f"`{m}`" for m in protocol.moderators) or "none")
            + "; controls "
            + (", ".join(f"`{c}`" for c in protocol.controls) or "none")
            + "; always recorded: "
            + ", ".join(f"`{c}`" for c in BUILTIN_CONTROLS if c not in protocol.controls)
            + (", " if any(c not in protocol.controls for c in BUILTIN_CONTROLS) else "")
            + "the previous decision point's outcomes (`prior_<outcome>`). "
            "The affective state is classified in real "
            "time from physiology before the draw; its window precedes the decision."
        ),
        *sample_size_blocks(power, plan),
        *analysis_blocks(plan),
        *inference_blocks(plan),
        *robustness_blocks(plan),
        Heading("Exclusions"),
        Para(plan.exclusions or "No exclusion rule stated."),
        Heading("Software"),
        Table(
            ["package", "version"],
            [[k, registration["software"].get(k, "–")] for k in SOFTWARE_KEYS],
        ),
    )
    return doc
