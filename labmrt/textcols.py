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


# pandas 2's default float parser can be off in the last digit; pandas 3 parses exactly by
# default and deprecates the option. Numbers read back from a CSV must equal what was
# written (a replayed recording gives the same states as the live arrays it came from).
_EXACT_FLOATS = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}


def read_csv(path, **kwargs) -> pd.DataFrame:
    """``pandas.read_csv`` with exact floats and labmrt's text convention, on pandas 2 and 3."""
    return text_as_objects(pd.read_csv(path, **_EXACT_FLOATS, **kwargs))
