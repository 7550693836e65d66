"""Text columns look the same to labmrt whichever pandas reads them."""

import numpy as np
import pandas as pd

from labmrt.textcols import is_text, read_csv, text_as_objects


def test_missing_text_is_none_and_other_columns_are_untouched():
    frame = pd.DataFrame(
        {
            "arm": pd.Series(["gain", None, "loss"], dtype="string"),
            "detail": ["a", np.nan, None],
            "x": [1.0, np.nan, 2.0],
            "ok": [True, False, True],
            "doc": [{"k": 1}, [1, 2], None],
        }
    )
    text_as_objects(frame)
    assert list(frame["arm"]) == ["gain", None, "loss"]
    assert frame["arm"].dtype == object and frame.loc[1, "arm"] is None
    assert frame.loc[1, "detail"] is None and frame.loc[2, "detail"] is None
    assert frame["x"].dtype == np.float64 and np.isnan(frame.loc[1, "x"])
    assert frame["ok"].dtype == bool
    assert frame.loc[0, "doc"] == {"k": 1} and frame.loc[1, "doc"] == [1, 2]


def test_csv_round_trip_gives_none_for_empty_text(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"arm": ["gain", None], "n": [1, 2]}).to_csv(path, index=False)
    frame = text_as_objects(pd.read_csv(path))
    assert frame.loc[1, "arm"] is None and frame.loc[0, "arm"] == "gain"
    assert is_text(frame["arm"]) and not is_text(frame["n"])


def test_read_csv_gives_back_exactly_the_floats_written(tmp_path):
    rng = np.random.default_rng(7)
    values = rng.normal(3.0, 1e-3, 2000)  # many digits: a parser off by one ulp shows up
    path = tmp_path / "x.csv"
    pd.DataFrame({"time_s": np.arange(values.size) / 4.0, "eda_us": values}).to_csv(
        path, index=False, float_format="%.17g"
    )
    frame = read_csv(path)
    assert np.array_equal(frame["eda_us"].to_numpy(), values)
