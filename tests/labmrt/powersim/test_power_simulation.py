"""Power by simulation through the protocol's randomizer (labmrt power --simulate)."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
from powersim_helpers import marginal_protocol

from labmrt.analysis import power as mrtpower
from labmrt.analysis import wcls
from labmrt.cli import main
from labmrt.errors import LabmrtError
from labmrt.powersim.effects import effects_from_dict, load_effects
from labmrt.powersim.run import parse_ns, run_chunk, simulate_power
from labmrt.powersim.trials import (
    SimPlan,
    analyze,
    analyze_single,
    participant_code,
    simulate_trial,
    stack,
    trial_frame,
)
from labmrt.protocol import load_protocol
from labmrt.session import SessionEngine
from labmrt.session.clock import VirtualClock
from labmrt.session.randomizer import MicroRandomizer
from labmrt.state import AffectState
from labmrt.store import StudyStore

ROOT = Path(__file__).resolve().parents[3]
FRAMING = ROOT / "protocols" / "framing_affect.toml"
FRAMING_EFFECTS = ROOT / "protocols" / "framing_affect_effects.toml"


@pytest.fixture(scope="module")
def framing():
    return load_protocol(FRAMING)


@pytest.fixture(scope="module")
def framing_effects(framing):
    return load_effects(FRAMING_EFFECTS, framing)


# --------------------------------------------------------------------------- the same draws
def test_block_draws_equal_single_draws(framing):
    rng = np.random.default_rng(5)
    for i in range(50):
        states = rng.choice(["calm", "aroused", "unknown"], 30)
        avail = rng.random(30) < 0.7
        arms, probs = MicroRandomizer(framing, f"Q{i}").draw_block(
            [{"affect_state": s} for s in states], avail
        )
        by_column = MicroRandomizer(framing, f"Q{i}").draw_block({"affect_state": states}, avail)
        assert (by_column[0] == arms).all() and (by_column[1] == probs).all()
        one = MicroRandomizer(framing, f"Q{i}")
        for k, (s, a) in enumerate(zip(states, avail, strict=True)):
            d = one.draw(k, {"affect_state": s}, bool(a))
            assert (None if arms[k] < 0 else framing.arm_ids[arms[k]]) == d.arm
            assert list(probs[k]) == list(d.probabilities.values())


class _States:
    """Feeds the engine the simulated participant's reported states; lost signal = unavailable."""

    def __init__(self, clock, labels, available):
        self.clock, self.queue = clock, list(zip(labels, available, strict=True))

    def current_state(self):
        label, ok = self.queue.pop(0)
        now = self.clock.now()
        return AffectState(
            t=now,
            label=label if ok else "unknown",
            p_aroused=0.8 if label == "aroused" else 0.2,
            features={"hr": 70.0},
            windows={"hr": (now - 30, now)},
            quality={"ecg": 0.9, "eda": 0.9} if ok else {},
            reason="" if ok else "lost",
        )


class _Reader:
    """Reads and confirms each framing; every task takes 40 s (beyond the 20 s spacing)."""

    def __init__(self, clock):
        self.clock = clock

    def begin_phase(self, phase, duration_s):
        pass

    def end_phase(self, phase):
        pass

    def end_session(self, status, reason):
        pass

    def present(self, task, report):
        shown = self.clock.now()
        self.clock.sleep_until(shown + 40.0)
        return {"shown_t": shown, "confirmed": True, "received_t": shown + 5.0,
                "end_t": shown + 40.0}  # fmt: skip


def test_simulated_arms_equal_the_session_engine_draws(tmp_path, framing, framing_effects):
    plan = SimPlan(framing, framing_effects, 3, seed=11)
    data = simulate_trial(plan, 4)
    with StudyStore.open(tmp_path / "study", create=True) as store:
        for i in range(3):
            labels = np.where(data.reported_aroused[0, i], "aroused", "calm")
            clock = VirtualClock(1000.0)
            source = _States(clock, labels, data.available[0, i])
            code = participant_code(11, 4, i)
            engine = SessionEngine(
                framing, store, code, _Reader(clock), state_source=source, clock=clock
            )
            engine.run()
            dec = store.decisions(engine.session_id).sort_values("decision_point")
            engine_arms = [a if isinstance(a, str) else None for a in dec["arm"]]
            sim_arms = [None if a < 0 else framing.arm_ids[a] for a in data.arm[0, i]]
            assert dec["available"].astype(bool).tolist() == data.available[0, i].tolist()
            assert engine_arms == sim_arms
            assert sum(a is not None for a in sim_arms) > 15  # the comparison is not vacuous


# --------------------------------------------------------------------------- the same analysis
@pytest.mark.parametrize("per_protocol", [False, True])
def test_batched_fits_equal_the_analyzer(framing, framing_effects, per_protocol):
    # Both outcomes (continuous and binary), both contrasts, the moderator and a control,
    # small-sample correction (35 participants): the batched fits against wcls() on each
    # trial's long table (the export's columns), to 1e-10.
    eff = framing_effects.model_copy(
        update={
            "analysis": framing_effects.analysis.model_copy(
                update={"per_protocol": per_protocol, "controls": ["task_index"]}
            )
        }
    )
    plan = SimPlan(framing, eff, 40, seed=2)
    data = stack([simulate_trial(plan, j) for j in range(3)]).first(35)
    est, se, pv = analyze(plan, data)
    assert est.shape == (3, 8)
    for j in range(3):
        ref = analyze_single(plan, data, j)
        np.testing.assert_allclose(est[j], ref[0], rtol=1e-10)
        np.testing.assert_allclose(se[j], ref[1], rtol=1e-10)
        np.testing.assert_allclose(pv[j], ref[2], rtol=1e-8)
    frame = trial_frame(plan, data, 0)
    fit = wcls(
        frame, id="participant", outcome="help_hint_seconds", moderators=["affect_state"],
        controls=["task_index"], availability="available", contrast="loss-vs-baseline",
        per_protocol=per_protocol, received="received",
    )  # fmt: skip
    assert list(fit.table.index) == ["(Intercept)", "affect_statecalm"]
    np.testing.assert_allclose(est[0, 2:4], fit.table["estimate"], rtol=1e-10)
    assert fit.small_sample_applied


def test_large_studies_use_the_plain_sandwich_as_the_analyzer(framing, framing_effects):
    plan = SimPlan(framing, framing_effects, 60, seed=9)
    data = simulate_trial(plan, 0)
    est, se, _ = analyze(plan, data)
    ref = analyze_single(plan, data, 0)
    np.testing.assert_allclose(se[0], ref[1], rtol=1e-10)


# --------------------------------------------------------------------------- closed form
def test_marginal_power_agrees_with_the_closed_form(tmp_path):
    # Constant probability 0.4, availability 0.8, constant effect 0.2 (outcome SD 1 within,
    # icc 0.25), 30 decision points, analyzed marginally with the numerator probability 0.4
    # (weights 1): the closed form of Liao et al. (2016) applies with q = 1 (intercept only),
    # p = 1 and the effect standardized by the total SD (0.2 x sqrt(0.75)). Tolerance: 2 Monte
    # Carlo SE of the simulated power (1,000 trials per N: SE 0.010-0.016); a non-centrality
    # off by x 1.3 moves the power by 0.05-0.1 at these N. (Below about 20 participants the
    # closed form runs ahead of the analyzed t test: 0.386 vs 0.359 +- 0.009 at N = 10.)
    protocol = load_protocol(marginal_protocol(tmp_path, 30))
    doc = {
        "availability": {"share": 0.8},
        "analysis": {"moderators": [], "numerator_prob": 0.4},
        "outcomes": {"y": {"baseline": 1.0, "sd": 1.0, "icc": 0.25, "effects": {"treat": 0.2}}},
    }
    eff = effects_from_dict(doc, protocol, "effects")
    ns = [25, 40, 60]
    result = simulate_power(protocol, eff, ns, 1000, seed=3, null_trials=0)
    (term,) = result.terms
    assert term.term.truth == pytest.approx(0.2)
    design = mrtpower.StudyDesign(
        30, 1, 0.4, mrtpower.Trajectory("constant", 0.8),
        mrtpower.Trajectory("constant", 0.2 * np.sqrt(0.75)),
    )  # fmt: skip
    closed = mrtpower.power_curve(design, ns, 0.05, null_params=1)
    for n, sim, se, cf in zip(ns, term.power, term.mc_se, closed, strict=True):
        assert abs(sim - cf) <= 2 * se, (n, sim, se, cf)
    assert closed[0] < 0.6 and closed[-1] > 0.85  # the N span the curve


def test_type_one_error_is_alpha_within_monte_carlo_error(framing, framing_effects):
    result = simulate_power(framing, framing_effects, [25, 60], 20, seed=4, null_trials=600)
    rates = np.array([tp.power for tp in result.type_one])  # (terms, ns)
    se = np.sqrt(0.05 * 0.95 / 600)
    assert rates.shape == (8, 2)
    assert np.all(np.abs(rates - 0.05) <= 3.5 * se), rates  # 16 rates: 3.5 SE for all of them
    assert abs(rates.mean() - 0.05) <= 2 * se


# --------------------------------------------------------------------------- scale out
def test_results_do_not_depend_on_the_workers(framing, framing_effects):
    kw = {"seed": 8, "null_trials": 0}
    one = simulate_power(framing, framing_effects, [20, 30], 60, **kw)
    two = simulate_power(framing, framing_effects, [20, 30], 60, workers=2, **kw)
    assert [t.power for t in one.terms] == [t.power for t in two.terms]
    assert [t.mean_estimate for t in one.terms] == [t.mean_estimate for t in two.terms]


def test_dask_cluster_gives_the_same_trials(framing, framing_effects):
    distributed = pytest.importorskip("distributed")
    plan = SimPlan(framing, framing_effects, 30, seed=8)
    local = [run_chunk(plan, [20, 30], s, 25) for s in (0, 25)]
    with (
        distributed.LocalCluster(n_workers=2, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        result = simulate_power(
            framing, framing_effects, [20, 30], 50, seed=8, null_trials=0,
            scheduler=client,
        )  # fmt: skip
        address = cluster.scheduler_address
        by_address = simulate_power(
            framing, framing_effects, [20, 30], 50, seed=8, null_trials=0, scheduler=address
        )
    p = np.concatenate([c.p_value for c in local])
    expected = (np.nan_to_num(p, nan=1.0) < 0.05).mean(axis=0)
    assert [t.power for t in result.terms] == expected.T.tolist()
    assert [t.power for t in by_address.terms] == expected.T.tolist()


def test_cancel_keeps_the_trials_done(framing, framing_effects):
    seen = []

    def progress(done, total):
        seen.append(done)
        return done < 50

    result = simulate_power(framing, framing_effects, [20], 200, progress=progress)
    assert result.cancelled and result.trials_done == 50 and result.type_one == []


# --------------------------------------------------------------------------- command line
def test_cli_json_and_plot(tmp_path, capsys):
    plot = tmp_path / "power.png"
    args = ["power", "--simulate", str(FRAMING), "--effects", str(FRAMING_EFFECTS)]
    code = main([*args, "--n", "20:40:20", "--trials", "50", "--null-trials", "25",
                 "--seed", "1", "--json", "--plot", str(plot)])  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ns"] == [20, 40] and out["trials"] == 50
    assert out["type_one_error"]["trials"] == 25
    terms = {(t["outcome"], t["contrast"], t["term"]) for t in out["terms"]}
    assert ("help_hint_seconds", "loss-vs-neutral", "affect_statecalm") in terms
    loss = next(t for t in out["terms"] if t["contrast"] == "loss-vs-neutral")
    assert 0 <= loss["by_n"][0]["power"] <= loss["by_n"][1]["power"] <= 1
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code = main([*args, "--n", "20,30", "--trials", "25", "--null-trials", "0"])
    text = capsys.readouterr().out
    assert code == 0 and "smallest N reaching the target power" in text


def _write(tmp_path, text):
    path = tmp_path / "effects.toml"
    path.write_text(textwrap.dedent(text))
    return path


GOOD = """\
[outcomes.help_hint_seconds]
baseline = 1.8
sd = 0.9
effects.loss = { calm = 0.1, aroused = 0.4 }
"""


BINARY = """\
[outcomes.calculator_used]
scale = "binary"
baseline = { calm = 0.4, aroused = 0.35 }
relative_risk.loss = { calm = 1.1, aroused = 1.3 }
"""


@pytest.mark.parametrize(
    ("text", "extra", "message"),
    [
        (BINARY.replace("1.3 }", "3.0 }"), [],
         "outcomes.calculator_used.relative_risk.loss.aroused: gives the probability 1.05"),
        (BINARY.replace("1.1,", "0,"), [],
         "outcomes.calculator_used.relative_risk.loss.calm: is 0 (a relative risk is greater"),
        (BINARY + "effects.gain = 0.02\n", [],
         "outcomes.calculator_used.relative_risk: is given together with effects"),
        (BINARY.replace('"binary"', '"continuous"') + "sd = 1\n", [],
         "outcomes.calculator_used.relative_risk: is for a binary outcome"),
        (BINARY.replace("relative_risk.loss", "relative_risk.fear"), [],
         "outcomes.calculator_used.relative_risk.fear: is not an arm of the protocol"),
        (BINARY + "analysis = { contrasts = ['loss-vs-nothing'] }\n", [],
         "outcomes.calculator_used.analysis.contrasts[1]: 'nothing' is not an arm"),
        (BINARY + "analysis = { moderatr = '' }\n", [],
         "outcomes.calculator_used.analysis.moderatr: unknown key"),
        (GOOD.replace("effects.loss", "effects.fear"), [],
         "outcomes.help_hint_seconds.effects.fear: is not an arm of the protocol"),
        (GOOD.replace("aroused = 0.4", "stressed = 0.4"), [],
         "outcomes.help_hint_seconds.effects.loss.stressed: "),
        (GOOD.replace("sd = 0.9", "sd = 0"), [],
         "outcomes.help_hint_seconds.sd: is 0 but must be greater than 0"),
        (GOOD + "icc = 1.0\n", [], "outcomes.help_hint_seconds.icc: is 1.0 but must be less than 1"),
        (GOOD + "icc = -0.1\n", [], "outcomes.help_hint_seconds.icc: is -0.1 but must be at least 0"),
        (GOOD.replace("sd = 0.9\n", ""), [], "outcomes.help_hint_seconds.sd: is required"),
        ("recipt = 0.9\n" + GOOD, [], "recipt: unknown key 'recipt' (did you mean 'receipt'?)"),
        ("[analysis]\ncontrasts = ['loss-vs-nothing']\n" + GOOD, [],
         "analysis.contrasts[1]: 'nothing' is not an arm of the protocol"),
        (GOOD, ["--n", "4"], "--n: 4 participants leave no degrees of freedom"),
        (GOOD, ["--n", "ten"], "--n: 'ten' is not a list of sample sizes"),
        (GOOD, ["--scheduler", "tcp://127.0.0.1:9"], "--scheduler: cannot reach the Dask"),
    ],
)  # fmt: skip
def test_bad_effects_and_options_exit_2(tmp_path, capsys, text, extra, message):
    path = _write(tmp_path, text)
    args = ["power", "--simulate", str(FRAMING), "--effects", str(path), "--trials", "2"]
    n = [] if "--n" in extra else ["--n", "20"]
    code = main([*args, *n, *extra, "--null-trials", "0"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err
    assert err.startswith(str(path)) or err.startswith("--")
    assert "Traceback" not in err


def test_effects_errors_name_the_file(framing, tmp_path):
    path = _write(tmp_path, GOOD.replace("baseline = 1.8", "baseline = 'high'"))
    with pytest.raises(LabmrtError) as err:
        load_effects(path, framing)
    assert err.value.message.startswith(f"{path}: outcomes.help_hint_seconds.baseline")


def test_sample_size_grid():
    assert parse_ns("20:80:10") == [20, 30, 40, 50, 60, 70, 80]
    assert parse_ns("30,40") == [30, 40]
    assert parse_ns("25") == [25]


def test_an_effects_file_names_its_protocol_and_validate_checks_it(tmp_path, capsys):
    shutil.copy(FRAMING, tmp_path / "framing_affect.toml")
    shutil.copy(FRAMING.with_name("framing_affect_tasks.csv"), tmp_path)

    def write(name, text):
        (tmp_path / name).write_text(textwrap.dedent(text))
        return tmp_path / name

    good = write("good.toml", 'protocol = "framing_affect.toml"\n' + GOOD)
    assert main(["validate", str(good)]) == 0
    out = capsys.readouterr().out
    assert f"{good}: OK" in out and "effects for `labmrt power --simulate` of framing_affect" in out
    # a wrong arm is found by `validate` alone, named by file and key
    bad = write("bad.toml", 'protocol = "framing_affect.toml"\n' + GOOD.replace("loss", "fear"))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: outcomes.help_hint_seconds.effects.fear: is not an arm" in err
    # without a protocol the file is checked on its own, and says so
    alone = write("alone.toml", GOOD)
    assert main(["validate", str(alone)]) == 0
    assert "names no protocol: checked on its own" in capsys.readouterr().out
    # the simulation refuses effects written for another protocol
    other = tmp_path / "framing_affect.toml"
    other.write_text(other.read_text().replace('version = "1.0.0"', 'version = "1.0.1"'), "utf-8")
    args = ["power", "--simulate", str(FRAMING), "--effects", str(good), "--n", "20"]
    assert main([*args, "--trials", "2", "--null-trials", "0"]) == 2
    err = capsys.readouterr().err
    assert f"{good}: protocol: names framing_affect.toml (content hash" in err
    assert "not the protocol simulated" in err
