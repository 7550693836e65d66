"""Bad input to the distal, mediation, emee2 and effect-size analyses: ``where: what (fix)``, exit 2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labmrt.cli import main


@pytest.fixture
def distal(shared_data) -> pd.DataFrame:
    return pd.read_csv(shared_data / "mrtanalysis_distal_continuous.csv")


@pytest.fixture
def mediated(shared_data) -> pd.DataFrame:
    return pd.read_csv(shared_data / "mrtanalysis_mediator_distal.csv")


DCEE = ["--id", "userid", "--distal-outcome", "Y", "--treatment", "A", "--prob", "prob_A"]
DCEE += ["--availability", "avail", "--control", "X", "--learner", "lm"]
MCEE = ["--id", "id", "--decision-point", "dp", "--distal-outcome", "Y", "--treatment", "A"]
MCEE += ["--mediator", "M", "--prob", "p_A", "--availability", "I", "--control", "dp", "M", "X"]
EMEE2 = ["--binary", "--centered-residual", "--id", "id", "--outcome", "Ab", "--treatment", "A"]
EMEE2 += ["--prob", "p_A", "--availability", "I", "--control", "X"]
SIZE = ["--effect-size", "--id", "id", "--outcome", "M", "--treatment", "A", "--prob", "p_A"]
SIZE += ["--availability", "I", "--decision-point", "dp", "--bootstrap", "0", "--span", "0.5"]


def fails(tmp_path, capsys, frame: pd.DataFrame, args: list[str], *needles: str) -> str:
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    code = main(["analyze", str(path), *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    first = err.strip().splitlines()[0]
    assert ": " in first and first.endswith(")")  # where: what (how to fix it)
    return err


def _vary_outcome(frame, id_col):
    frame = frame.copy()
    frame.loc[frame.index[frame[id_col] == frame[id_col].iloc[0]][1], "Y"] += 1.0
    return frame


def _interleave(frame):
    return frame.iloc[np.r_[0:5, 40:45, 5 : len(frame)]].drop_duplicates()


def _swap_dp(frame):
    frame = frame.copy()
    frame.loc[[0, 1], "dp"] = frame.loc[[1, 0], "dp"].to_numpy()
    return frame


def _bad_prob(frame, prob, avail):
    frame = frame.copy()
    row = frame.index[frame[avail] == 1][3]
    frame.loc[row, prob] = 1.0
    return frame


def test_distal_outcome_varying_within_a_participant(tmp_path, capsys, distal, mediated):
    fails(tmp_path, capsys, _vary_outcome(distal, "userid"), DCEE, "distal outcome 'Y'", "varies")
    fails(tmp_path, capsys, _vary_outcome(mediated, "id"), MCEE, "varies within participant(s) 1")


def test_rows_of_a_participant_not_together(tmp_path, capsys, distal, mediated):
    for frame, args in ((distal, DCEE), (mediated, MCEE)):
        fails(tmp_path, capsys, _interleave(frame), args, "rows of a participant are not together")
    frame = mediated.assign(Ab=(mediated["M"] > mediated["M"].median()).astype(int))
    fails(tmp_path, capsys, _interleave(frame), EMEE2, "not together", "sort the table")


def test_decision_points_not_increasing(tmp_path, capsys, distal, mediated):
    fails(tmp_path, capsys, _swap_dp(mediated), MCEE, "decision point 'dp'", "row 2 (participant 1")
    fails(
        tmp_path, capsys, _swap_dp(distal), [*DCEE, "--decision-point", "dp"], "does not increase"
    )
    frame = _swap_dp(mediated.assign(Ab=(mediated["M"] > 3).astype(int)))
    fails(tmp_path, capsys, frame, [*EMEE2, "--decision-point", "dp"], "does not increase")
    frame = mediated.copy()
    frame.loc[1, "dp"] = frame.loc[0, "dp"]
    fails(tmp_path, capsys, frame, SIZE, "2 rows of participant 1 at decision point 1")


def test_probability_outside_0_1_where_available(tmp_path, capsys, distal, mediated):
    fails(tmp_path, capsys, _bad_prob(distal, "prob_A", "avail"), DCEE, "strictly between 0 and 1")
    frame = _bad_prob(mediated, "p_A", "I")
    fails(tmp_path, capsys, frame, MCEE, "randomization probability 'p_A'", "strictly between")
    fails(tmp_path, capsys, frame.assign(Ab=(frame["M"] > 3).astype(int)), EMEE2, "strictly")
    fails(tmp_path, capsys, frame, SIZE, "strictly between 0 and 1")
    # Where unavailable, the probability is not used: 0 there is fine.
    ok = mediated.copy()
    ok.loc[ok["I"] == 0, "p_A"] = 0.0
    path = tmp_path / "ok.csv"
    ok.to_csv(path, index=False)
    assert main(["analyze", str(path), *MCEE, "--json"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    "args, needle",
    [
        ([*DCEE, "--effect-form", "dp"], "--effect-form: is not an option of the distal analysis"),
        ([*DCEE, "--numerator-prob", "0.5"], "--numerator-prob: is not an option of the distal"),
        ([*DCEE, "--small-sample", "never"], "it is for wcls/emee"),
        ([*MCEE, "--moderator", "X"], "--moderator: is not an option of the mediation analysis"),
        ([*EMEE2, "--learner", "lm"], "--learner: is not an option of the centred-residual"),
        ([*SIZE, "--lincomb=1,1"], "--lincomb: is not an option of the effect-size analysis"),
        (
            [
                "--id",
                "id",
                "--outcome",
                "M",
                "--treatment",
                "A",
                "--prob",
                "p_A",
                "--learner",
                "lm",
            ],
            "--learner: is not an option of WCLS / EMEE",
        ),
        (
            [
                "--id",
                "id",
                "--outcome",
                "M",
                "--treatment",
                "A",
                "--prob",
                "0.5",
                "--bootstrap",
                "9",
            ],
            "it is for --effect-size",
        ),
        ([*MCEE, "--outcome", "Y"], "--distal-outcome and --outcome are both given"),
        (
            [
                "--id",
                "id",
                "--outcome",
                "Y",
                "--treatment",
                "A",
                "--prob",
                "p_A",
                "--mediator",
                "M",
            ],
            "--mediator: needs --distal-outcome",
        ),
        ([*EMEE2[1:]], "--centered-residual: needs --binary"),
        ([*MCEE, "--weights", "X", "--specific-dp", "1"], "--weights and --specific-dp"),
        ([*MCEE, "--specific-dp", "99"], "99 not among the decision points"),
        ([*MCEE, "--learner", "gam"], "learner 'gam': is not available"),
        ([*MCEE, "--control", "A"], "control 'A': is the treatment"),
        ([*MCEE, "--control", "s(X)"], "control 's(X)': is not a column"),
        ([*MCEE, "--effect-form", "nope"], "effect form term 'nope'"),
        ([*SIZE, "--span", "0.25"], "fewer than 3 points per local fit"),
    ],
)
def test_an_option_or_value_the_analysis_does_not_take(tmp_path, capsys, mediated, args, needle):
    fails(tmp_path, capsys, mediated.assign(Ab=(mediated["M"] > 3).astype(int)), args, needle)


def test_dcee_without_learner_names_the_missing_gam(tmp_path, capsys, distal):
    args = [a for a in DCEE if a not in ("--learner", "lm")]
    fails(tmp_path, capsys, distal, args, "--learner: not given", "give --learner lm")


def test_missing_values_are_named_with_their_rows(tmp_path, capsys, distal, mediated):
    frame = distal.copy()
    frame.loc[7, "Y"] = np.nan
    fails(tmp_path, capsys, frame, DCEE, "distal outcome 'Y'", "row 8 (participant 1)")
    frame = mediated.copy()
    frame.loc[4, "X"] = np.nan
    fails(tmp_path, capsys, frame, MCEE, "control 'X'", "row 5 (participant 1")
    # emee2's correction uses the unavailable rows, so their outcome must be there.
    frame = mediated.assign(Ab=(mediated["M"] > 3).astype(float))
    frame.loc[frame.index[frame["I"] == 0][0], "Ab"] = np.nan
    fails(tmp_path, capsys, frame, EMEE2, "missing at unavailable decision point", "emee2")
    frame = distal.copy()
    frame.loc[3, "A"] = 2
    fails(tmp_path, capsys, frame, DCEE, "treatment 'A'", "must be 0 or 1 on every row")
