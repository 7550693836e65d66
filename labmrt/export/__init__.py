"""From the study store to files an analysis reads: tidy tables, a codebook, XDF signals.

``tables`` builds and writes the tables (:func:`export_study`), ``codebook`` documents
every column, ``xdf`` writes the raw signals in the XDF format; ``analysis_data`` reads
an export back with the lists an analyst picks from (:func:`load_folder`).
"""

from labmrt.export.analysis_data import AnalysisData, export_and_load, load_export, load_folder
from labmrt.export.tables import export_study, read_codebook

__all__ = [
    "AnalysisData",
    "export_and_load",
    "export_study",
    "load_export",
    "load_folder",
    "read_codebook",
]
