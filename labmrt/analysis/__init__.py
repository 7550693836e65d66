"""Causal excursion effects of micro-randomized trials (WCLS, EMEE), as MRTAnalysis computes them.

Public entry points: :func:`wcls`, :func:`emee`, :func:`fit_analysis` and
:func:`read_table`; the result object is :class:`EffectResult`; the options of an
analysis are one model, :class:`AnalysisOptions` (a plan, :class:`AnalysisPlan`,
extends it). The pieces
(``design``, ``wcls.fit_design``, ``sandwich``) are importable on their own
for re-use with re-drawn treatments.
"""

# The submodules ``wcls`` and ``emee`` are loaded first: the functions of the same name
# bound below must not be replaced by the modules when something imports them later.
from labmrt.analysis import emee as _emee_module  # noqa: F401
from labmrt.analysis import wcls as _wcls_module  # noqa: F401
from labmrt.analysis.api import emee, read_table, wcls
from labmrt.analysis.options import AnalysisOptions
from labmrt.analysis.results import EffectResult
from labmrt.analysis.spec import AnalysisPlan, fit_analysis, load_plan

__all__ = [
    "AnalysisOptions",
    "AnalysisPlan",
    "EffectResult",
    "emee",
    "fit_analysis",
    "load_plan",
    "read_table",
    "wcls",
]
