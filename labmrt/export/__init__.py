"""From the study store to files an analysis reads: tidy tables, a codebook, XDF signals.

``tables`` builds and writes the tables (:func:`export_study`), ``codebook`` documents
every column, ``xdf`` writes the raw signals in the XDF format.
"""

from labmrt.export.tables import export_study, read_codebook

__all__ = ["export_study", "read_codebook"]
