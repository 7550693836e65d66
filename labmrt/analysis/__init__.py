"""Causal excursion effects of micro-randomized trials (WCLS, EMEE), as MRTAnalysis computes them.

Public entry points: :func:`wcls`, :func:`emee`, :func:`fit_analysis` and
:func:`read_table`; the result object is :class:`EffectResult`; the options of an
analysis are one model, :class:`AnalysisOptions` (a plan, :class:`AnalysisPlan`,
extends it). Distal and mediated effects and the standardized effect size
(MRTAnalysis 0.4): :func:`dcee`, :func:`mcee`, :func:`emee2`, :func:`effect_size`. The pieces
(``design``, ``wcls.fit_design``, ``sandwich``) are importable on their own
for re-use with re-drawn treatments.
"""

# The submodules ``wcls`` and ``emee`` are loaded first: the functions of the same name
# bound below must not be replaced by the modules when something imports them later.
from labmrt.analysis import emee as _emee_module  # noqa: F401
from labmrt.analysis import wcls as _wcls_module  # noqa: F401
from labmrt.analysis.api import emee, read_table, wcls
from labmrt.analysis.distal import dcee
from labmrt.analysis.effect_size import effect_size
from labmrt.analysis.emee2 import emee2
from labmrt.analysis.mediation import mcee
from labmrt.analysis.options import AnalysisOptions
from labmrt.analysis.results import EffectResult
from labmrt.analysis.spec import AnalysisPlan, fit_analysis, load_plan

__all__ = [
    "AnalysisOptions",
    "AnalysisPlan",
    "EffectResult",
    "dcee",
    "effect_size",
    "emee",
    "emee2",
    "fit_analysis",
    "load_plan",
    "mcee",
    "read_table",
    "wcls",
]
