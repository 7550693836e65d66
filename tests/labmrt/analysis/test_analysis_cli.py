"""``labmrt analyze`` end to end: summary, JSON, Parquet, plans, bad input -> exit 2."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from labmrt.cli import main

ARGS = [
    "--id",
    "userid",
    "--outcome",
    "logstep_30min",
    "--treatment",
    "intervention",
    "--prob",
    "0.6",
    "--availability",
    "avail",
]


@pytest.fixture
def ref(shared_data):
    return json.loads((shared_data / "mimic_heartsteps_reference.json").read_text())["fits"]


def test_json_reproduces_reference_fit3(shared_data, ref, capsys):
    code = main(
        [
            "analyze",
            str(shared_data / "data_mimicHeartSteps.csv"),
            *ARGS,
            "--moderator",
            "is_at_home_or_work",
            "--control",
            "logstep_pre30min",
            "logstep_30min_lag1",
            "is_at_home_or_work",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    want = ref["vignette_fit3"]
    assert [t["term"] for t in out["terms"]] == ["(Intercept)", "is_at_home_or_work"]
    for t in out["terms"]:
        r = want["treatment_effect"][t["term"]]
        assert t["estimate"] == pytest.approx(r["estimate"], rel=1e-8)
        assert t["std_error"] == pytest.approx(r["se"], rel=1e-8)
        assert t["ci_lower"] == pytest.approx(r["ci_lower_95"], rel=1e-8)
        assert t["p_value"] == pytest.approx(r["p_value"], abs=1e-10)
        assert t["df"] == r["df2"]
    assert [c["term"] for c in out["controls"]] == want["control_names"]
    assert out["n_participants"] == 37 and out["n_decision_points"] == 7770


def test_parquet_and_plan_give_the_same_numbers(shared_data, ref, tmp_path, capsys):
    pd.read_csv(shared_data / "data_mimicHeartSteps.csv").to_parquet(tmp_path / "d.parquet")
    plan = tmp_path / "plan.toml"
    plan.write_text(
        'data = "d.parquet"\nid = "userid"\noutcome = "logstep_30min"\n'
        'treatment = "intervention"\nprob = 0.6\ncontrols = ["logstep_pre30min"]\n'
        'availability = "avail"\nnumerator_prob = 0.6\n'
    )
    assert main(["analyze", "--plan", str(plan), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    want = ref["roxygen_example_numerator_0.6"]["treatment_effect"]["(Intercept)"]
    assert out["terms"][0]["estimate"] == pytest.approx(want["estimate"], rel=1e-8)
    assert out["numerator_probability"] == "0.6"


def test_summary_text_and_plot(shared_data, tmp_path, capsys):
    png = tmp_path / "effect.png"
    code = main(
        [
            "analyze",
            str(shared_data / "data_mimicHeartSteps.csv"),
            *ARGS,
            "--moderator",
            "is_at_home_or_work",
            "--control",
            "is_at_home_or_work",
            "--lincomb",
            "1,1",
            "--plot",
            str(png),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Causal excursion effects (WCLS" in out and "Mancl-DeRouen" in out
    assert "(Intercept) + is_at_home_or_work" in out
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--moderator", "nope"], "moderator 'nope'"),
        (["--numerator-prob", "1.5"], "strictly between 0 and 1"),
        (["--contrast", "loss-vs-baseline"], "with --contrast the treatment"),
    ],
)
def test_bad_input_exits_2_with_message(shared_data, capsys, extra, message):
    code = main(["analyze", str(shared_data / "data_mimicHeartSteps.csv"), *ARGS, *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_missing_file_exits_2(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "none.csv"), "--outcome", "y"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_simulated_study_export_analyze(tmp_path, capsys):
    """A simulated labmrt study, exported, analyzed by contrast with the codebook's baseline."""
    study, export = tmp_path / "study", tmp_path / "export"
    protocol = "protocols/framing_affect.toml"
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    assert main(["simulate", str(root / protocol), "--participants", "8", "--out", str(study)]) == 0
    assert main(["export", str(study), "--out", str(export)]) == 0
    capsys.readouterr()
    code = main(
        [
            "analyze",
            str(export / "decision_points.csv"),
            "--outcome",
            "help_hint_seconds",
            "--contrast",
            "loss-vs-baseline",
            "--availability",
            "available",
            "--lag",
            "1",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["contrast"]["control_arms"] == ["neutral"]  # the protocol's baseline arm
    assert out["n_participants"] == 8
    assert "treatment_lag1" in [c["term"] for c in out["controls"]]
    assert out["terms"][0]["std_error"] > 0
