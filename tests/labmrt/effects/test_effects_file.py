"""One effects-file schema for `labmrt simulate` and `labmrt power --simulate`."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from labmrt.cli import main
from labmrt.effects import load_effects
from labmrt.errors import DeprecatedKey, LabmrtError
from labmrt.powersim.effects import load_effects as load_power_effects
from labmrt.protocol import load_protocol
from labmrt.simulate import load_effect_model

ROOT = Path(__file__).resolve().parents[3]
FRAMING = ROOT / "protocols" / "framing_affect.toml"
SHIPPED = ROOT / "protocols" / "framing_affect_effects.toml"

OUTCOMES = """
[outcomes.help_hint_seconds]
baseline = { calm = 1.8, aroused = 2.2 }
sd = 0.9
effects.loss = { calm = 0.1, aroused = 0.4 }

[outcomes.calculator_used]
scale = "binary"
baseline = { calm = 0.4, aroused = 0.35 }
relative_risk.loss = { calm = 1.1, aroused = 1.3 }
"""


@pytest.fixture(scope="module")
def framing():
    return load_protocol(FRAMING)


def _file(tmp_path, text: str) -> Path:
    path = tmp_path / "effects.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_file_is_read_by_both_simulations_without_warnings(framing):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        power = load_power_effects(SHIPPED, framing)
        model, _ = load_effect_model(SHIPPED, framing)
    assert power.receipt == model.receipt == 0.9
    assert power.analysis.moderators == ["affect_state"]
    # the session simulation reads the relative risks as the risk differences it draws
    loss = model.outcomes["calculator_used"].effects["loss"]
    assert loss == pytest.approx({"calm": 0.4 * 0.125, "aroused": 0.35 * 0.34}, abs=1e-12)
    assert model.outcomes["help_hint_seconds"].effects["gain"] == {"calm": 0.05, "aroused": 0.11}


def test_receipt_prob_is_read_as_receipt_with_a_deprecation_that_says_what_to_write(
    tmp_path, framing
):
    path = _file(tmp_path, "receipt_prob = 0.8\n" + OUTCOMES)
    with pytest.warns(DeprecatedKey) as seen:
        model, _ = load_effect_model(path, framing)
    assert model.receipt == 0.8
    assert str(seen[0].message) == (
        f"{path}: receipt_prob: is deprecated (renamed receipt: one key for every "
        "simulation) (write receipt = 0.8)"
    )
    with pytest.warns(DeprecatedKey):
        assert load_power_effects(path, framing).receipt == 0.8
    both = _file(tmp_path, "receipt = 0.9\nreceipt_prob = 0.8\n" + OUTCOMES)
    with pytest.raises(LabmrtError, match="receipt_prob: is given together with receipt"):
        load_effects(both, framing)


def test_moderator_is_read_as_moderators_with_a_deprecation(tmp_path, framing):
    path = _file(tmp_path, '[analysis]\nmoderator = ""\n' + OUTCOMES)
    with pytest.warns(DeprecatedKey, match=r"analysis.moderator: .* \(write moderators = \[\]\)"):
        model = load_power_effects(path, framing)
    assert model.analysis.moderators == [] and model.analysis.moderator == ""


def test_the_cli_prints_a_deprecation_as_one_warning_line(tmp_path, capsys):
    path = _file(tmp_path, "receipt_prob = 0.8\n" + OUTCOMES)
    study = tmp_path / "study"
    args = ["simulate", str(FRAMING), "--participants", "1", "--effects", str(path)]
    assert main([*args, "--out", str(study)]) == 0
    err = capsys.readouterr().err
    assert f"warning: {path}: receipt_prob: is deprecated" in err
    assert "FutureWarning" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[analysis]\ntreatment_lags = [1]\n", "analysis.treatment_lags: is set by the simulation"),
        ("[analysis]\ncontrasts = ['gain+loss-vs-baseline']\n", "pools arms (gain+loss vs"),
        ("[analysis]\ncontrasts = ['loss']\n", "is not of the form T-vs-C"),
        ("recipt = 0.9\n", "recipt: unknown key 'recipt' (did you mean 'receipt'?)"),
        ("read_s = [9, 2]\n", "read_s: is [9.0, 2.0]"),
    ],
)
def test_one_schema_one_set_of_messages(tmp_path, framing, text, message):
    path = _file(tmp_path, text + OUTCOMES)
    for read in (load_power_effects, lambda p, f: load_effect_model(p, f)):
        with pytest.raises(LabmrtError) as err:
            read(path, framing)
        assert message in err.value.message


def test_the_session_simulation_keeps_its_own_rules(tmp_path, framing):
    path = _file(tmp_path, OUTCOMES.replace('scale = "binary"', 'scale = "continuous"'))
    with pytest.raises(LabmrtError) as err:
        load_effect_model(path, framing)
    assert "outcomes.calculator_used.scale: is 'continuous' but the protocol measures 'any'" in (
        err.value.message
    )
    only_one = _file(tmp_path, OUTCOMES.split("[outcomes.calculator_used]")[0])
    with pytest.raises(LabmrtError, match="outcomes.calculator_used: is missing"):
        load_effect_model(only_one, framing)


def test_validate_says_which_simulation_reads_an_effects_file(tmp_path, capsys):
    """A file written for `labmrt simulate` alone (no sd: simulate assumes one) is valid,
    and validate says power cannot read it; a deprecated key is reported once."""
    for name in ("framing_affect.toml", "framing_affect_tasks.csv"):
        (tmp_path / name).write_bytes((ROOT / "protocols" / name).read_bytes())
    path = tmp_path / "simulate_only.toml"
    path.write_text(
        'protocol = "framing_affect.toml"\nreceipt_prob = 0.9\n'
        "[outcomes.help_hint_seconds]\nbaseline = 1.8\neffects.loss = 0.2\n"
        "[outcomes.calculator_used]\nbaseline = 0.3\neffects.loss = 0.05\n",
        "utf-8",
    )
    assert main(["validate", str(path)]) == 0
    captured = capsys.readouterr()
    assert "effects for `labmrt simulate` of framing_affect.toml" in captured.out
    assert (
        "not for `labmrt power --simulate`" in captured.out and ".sd: is required" in captured.out
    )
    assert captured.err.count("receipt_prob: is deprecated") == 1
    # neither simulation can read it: every problem once, exit 2
    path.write_text(path.read_text("utf-8").replace("effects.loss = 0.2", "effects.fear = 0.2"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("effects.fear: is not an arm") == 1
