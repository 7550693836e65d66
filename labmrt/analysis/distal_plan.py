"""A distal (dcee) or mediated (mcee) analysis as the options model states it.

An analysis plan and its hypotheses write a distal analysis with the same
options as any other (:class:`~labmrt.analysis.options.AnalysisOptions`):
``method = "dcee"`` or ``"mcee"``, ``outcome`` the distal outcome (one value
per participant, as the export repeats it), ``mediator`` (mcee) a proximal
outcome, and the treatment either as ``treatment`` / ``prob`` columns or as a
``contrast`` of the recorded arms with every arm on a side (a distal outcome
depends on every decision point, so none can be left out:
:func:`~labmrt.analysis.contrasts.covering_contrast`). Two conveniences of a
plan, where options are shared by several hypotheses: the mediator is added
to the controls when they do not name it (``labmrt analyze --mediator`` uses
the controls as given, as MRTAnalysis does), and mcee's decision-point column
defaults to the export's ``decision_point``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from labmrt.analysis.contrasts import distal_treatment, resolve_baseline
from labmrt.analysis.distal import GAM_UNAVAILABLE, dcee, read_data
from labmrt.analysis.distal_result import DistalResult
from labmrt.analysis.mediation import mcee
from labmrt.analysis.options import AnalysisOptions
from labmrt.errors import LabmrtError, Problem


def missing_learner(option: str, fix: str) -> Problem:
    """dcee without a learner: MRTAnalysis's default (gam) is not one labmrt has."""
    return Problem(
        option,
        "not given, and MRTAnalysis dcee()'s default learner gam is not available: "
        + GAM_UNAVAILABLE,
        fix,
    )


def fit_distal(
    options: AnalysisOptions, data: pd.DataFrame | str | Path, source: str | Path | None = None
) -> DistalResult:
    """The dcee or mcee fit ``options`` describe, on ``data`` (a table or its path).

    ``source``: where the data were read from, to find the baseline arm in the
    export's codebook when ``options.baseline`` is not given.
    """
    frame = read_data(data)
    treatment, prob = options.treatment, options.prob
    if options.contrast is not None:
        if source is None and not isinstance(data, pd.DataFrame):
            source = data
        baseline = resolve_baseline(frame, options.baseline, source)
        frame, treatment, prob = distal_treatment(
            frame, options.contrast, baseline, options.arm, options.availability
        )
    common = dict(
        id=options.id,
        outcome=options.outcome,
        treatment=treatment,
        rand_prob=prob,
        controls=list(options.controls),
        availability=options.availability,
        weights=options.weights,
        conf_level=options.conf_level,
    )
    if options.method == "dcee":
        if options.learner is None:
            raise LabmrtError(missing_learner("learner", 'write learner = "lm" (or set_to_zero)'))
        return dcee(
            frame,
            moderators=list(options.moderators),
            learner=options.learner,
            decision_point=options.decision_point,
            **common,
        )
    if options.method != "mcee":
        raise LabmrtError(
            Problem("method", f"{options.method!r} is not a distal analysis", "use dcee or mcee")
        )
    if options.mediator is not None and options.mediator not in common["controls"]:
        common["controls"].append(options.mediator)
    return mcee(
        frame,
        decision_point=options.decision_point or "decision_point",
        mediator=options.mediator,
        effect_form=list(options.effect_form),
        learner=options.learner or "glm",
        **common,
    )
