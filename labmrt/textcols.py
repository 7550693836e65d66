"""One convention for text columns, whichever pandas is installed.

pandas 3 reads text into its ``str`` dtype, whose missing value is NaN; pandas 2
gave ``object`` columns in which a missing SQL value stayed ``None``. labmrt
treats a missing text value (an unavailable decision's arm, an event without a
detail) as ``None``: it is written back to SQLite as NULL, to JSON as null, and
compared with ``is None``. Every table labmrt reads from its store or from files
passes through :func:`text_as_objects`, so the rest of the code sees the same
values under both pandas versions.
"""

from __future__ import annotations

import pandas as pd


def is_text(series: pd.Series) -> bool:
    """True for object and string columns (not categoricals, numbers or booleans)."""
    dtype = series.dtype
    return pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype)


def text_as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns become ``object`` with ``None`` for every missing value (in place)."""
    for col in frame.columns:
        series = frame[col]
        if is_text(series):
            values = series.to_numpy(dtype=object, copy=True)
            values[pd.isna(values)] = None
            frame[col] = pd.Series(values, index=series.index, dtype=object)
    return frame
