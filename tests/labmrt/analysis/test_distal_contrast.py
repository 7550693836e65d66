"""A contrast of the recorded arms as the treatment of dcee / mcee (``--contrast``).

Exact: the derived treatment is 1 for a treated arm and its probability the
recorded sum over the treated arms (the sides cover every arm, so both sum to
1), empty where the point was not randomized; dcee and mcee with
``--contrast`` give the same JSON as with those columns made by hand. A
contrast that leaves an arm out, or ``--contrast`` beside ``--treatment``,
is a one-line error with exit 2.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labmrt.analysis.contrasts import covering_contrast, distal_treatment
from labmrt.cli import main
from labmrt.errors import LabmrtError

ARMS = ["neutral", "gain", "loss"]


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(4)
    n, t = 40, 8
    rows = n * t
    avail = rng.random(rows) < 0.85
    p_loss = np.where(rng.random(rows) < 0.5, 0.25, 1 / 3)
    probs = np.column_stack([1 - 2 * p_loss, p_loss, p_loss])
    u = rng.random(rows)
    arm = np.array(ARMS, dtype=object)[(u[:, None] > probs.cumsum(1)).sum(1)]
    arm[~avail] = ""
    m = 1.0 + 0.5 * (arm == "loss") + rng.normal(size=rows)
    y = np.repeat(np.bincount(np.repeat(np.arange(n), t), weights=0.1 * m) / t, t)
    frame = pd.DataFrame(
        {
            "participant": np.repeat([f"P{i:02d}" for i in range(n)], t),
            "decision_point": np.tile(np.arange(t), n),
            "available": avail.astype(int),
            "arm": arm,
            **{f"prob_{a}": np.where(avail, probs[:, j], np.nan) for j, a in enumerate(ARMS)},
            "m": m,
            "y": y,
        }
    )
    return frame


def test_the_treatment_of_a_covering_contrast(table):
    out, a, p = distal_treatment(table, "loss-vs-rest", "neutral", availability="available")
    assert (a, p) == ("loss vs neutral+gain", "P(loss vs neutral+gain)")
    np.testing.assert_array_equal(out[a], (table["arm"] == "loss").astype(float))
    np.testing.assert_array_equal(out[p], table["prob_loss"])  # NaN where unavailable
    both, a2, p2 = distal_treatment(table, "any-vs-baseline", "neutral", availability="available")
    np.testing.assert_array_equal(both[a2], table["arm"].isin(["gain", "loss"]).astype(float))
    np.testing.assert_allclose(both[p2], table["prob_gain"] + table["prob_loss"], rtol=1e-15)
    with pytest.raises(LabmrtError) as err:
        covering_contrast("loss-vs-baseline", ARMS, "neutral")
    assert err.value.message == (
        "contrast 'loss-vs-baseline': leaves out arm(s) gain, but a distal outcome depends on "
        "every decision point, so none can be left out of the analysis (put every arm on a "
        "side, e.g. loss-vs-rest)"
    )


@pytest.mark.parametrize(
    "extra",
    [
        ["--learner", "lm", "--control", "m"],
        ["--mediator", "m", "--decision-point", "decision_point", "--control", "m"],
    ],
)
def test_contrast_and_hand_made_columns_give_the_same_numbers(table, tmp_path, capsys, extra):
    data = tmp_path / "dp.csv"
    hand = table.assign(A=(table["arm"] == "loss").astype(int), pA=table["prob_loss"])
    hand.to_csv(data, index=False)
    base = ["analyze", str(data), "--distal-outcome", "y", "--availability", "available",
            "--json", *extra]  # fmt: skip
    outs = []
    for how in (["--contrast", "loss-vs-rest", "--baseline", "neutral"],
                ["--treatment", "A", "--prob", "pA"]):  # fmt: skip
        capsys.readouterr()
        assert main([*base, *how]) == 0
        outs.append(json.loads(capsys.readouterr().out))
    assert outs[0]["terms"] == outs[1]["terms"]
    assert outs[0]["covariance"] == outs[1]["covariance"]


@pytest.mark.parametrize(
    "how, message",
    [
        (["--contrast", "loss-vs-baseline"], "leaves out arm(s) gain"),
        (["--contrast", "loss-vs-rest", "--treatment", "arm"], "--treatment: is given together "
         "with --contrast"),
        (["--contrast", "lose-vs-rest"], "arm 'lose' has no prob_lose column"),
    ],
)  # fmt: skip
def test_a_bad_contrast_is_one_line_and_exit_2(table, tmp_path, capsys, how, message):
    data = tmp_path / "dp.csv"
    table.to_csv(data, index=False)
    capsys.readouterr()
    code = main(["analyze", str(data), "--distal-outcome", "y", "--learner", "lm",
                 "--availability", "available", "--baseline", "neutral", *how])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err, err
