"""labmrt simulate makes a distal outcome with a known direct and indirect effect; dcee and mcee find it.

A lean version of ``bench/distal_coverage.py``: 640 simulated participants of
``mediation_check.toml`` (two arms, 4 scored tasks, the loss framing drawn
with probability 0.4, breaks make a tenth of the points unavailable) run
through the real engine and store and are exported. A loss framing lengthens
help use (the mediator) and, directly and through it, raises the chance of a
right answer (``mediation_check_effects.toml``: every framing received and no
participant intercept, so nothing unmeasured drives both mediator and
answers). The truth of each effect (truth.json's ``distal``, averaged over
the rows by :func:`labmrt.simulate.distal_truth`) is that of the participants
analyzed.

Split into 16 independent studies of 40, the 95% CIs of the distal effect
(dcee) and of the natural direct and indirect effects (mcee) must cover
their truth as often as 95% allows: the share covered over the 48 intervals
at least 0.95 - 3 Monte Carlo SDs, and each effect's mean error within 3 of
its Monte Carlo SDs of 0. The pooled study of 640 must cover each truth with
its 99.9% CI, with a standard error below each true effect (a third of it
for the distal effect).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.integrate import quad

from labmrt.export import export_study
from labmrt.protocol import load_protocol
from labmrt.simulate import compare_distal_with_truth, simulate_study

HERE = Path(__file__).resolve().parent
STUDIES, PER_STUDY = 16, 40


def _compare(table: pd.DataFrame, truth: dict, conf_level: float) -> pd.DataFrame:
    return compare_distal_with_truth(
        table, truth, "loss-vs-baseline", mediator="help_s", conf_level=conf_level
    ).set_index("effect")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from sensors.simulate import ArousalSchedule

    root = tmp_path_factory.mktemp("distal_cov")
    run = simulate_study(
        load_protocol(HERE / "mediation_check.toml"),
        root / "s",
        STUDIES * PER_STUDY,
        schedule_factory=ArousalSchedule.random,
        seed=20,
        effects=HERE / "mediation_check_effects.toml",
    )
    files = export_study(run.study_dir, root / "x", signals=False)
    return pd.read_csv(files["decision_points"]), json.loads(run.truth_path.read_text())


def test_the_truth_is_the_answers_model(study):
    table, truth = study
    per_task = truth["distal"]["per_task"]["loss"]["calm"]
    assert per_task["direct"] == pytest.approx(0.15, abs=1e-15)
    assert truth["distal"]["mediation_identified"] is True

    # E max(0, N(m, 0.8^2)) (a negative duration is recorded as 0), moved from m = 1.5 to
    # 2.0 by the loss framing: by numerical integration
    def mean_recorded(m: float) -> float:
        return quad(lambda x: x * stats.norm.pdf(x, m, 0.8), 0, np.inf)[0]

    shift = mean_recorded(2.0) - mean_recorded(1.5)
    assert per_task["mediator_shift"] == pytest.approx(shift, rel=1e-9)
    assert per_task["indirect"] == pytest.approx(0.12 * shift, abs=1e-15)
    assert all(p["scored_tasks"] == 4 for p in truth["participants"].values())
    assert 0.85 < table["available"].mean() < 0.95


def test_repeated_studies_cover_the_truth(study):
    table, truth = study
    codes = sorted(table["participant"].unique())
    runs = [
        _compare(table[table["participant"].isin(codes[g::STUDIES])], truth, 0.95)
        for g in range(STUDIES)
    ]
    covered = np.concatenate([r["covered"].to_numpy() for r in runs])
    lower = 0.95 - 3 * math.sqrt(0.95 * 0.05 / covered.size)
    assert covered.mean() >= lower, pd.concat(runs).to_string()
    for effect in ("distal", "direct", "indirect"):
        errors = np.array([r.loc[effect, "estimate"] - r.loc[effect, "truth"] for r in runs])
        mc_sd = errors.std(ddof=1) / math.sqrt(STUDIES)
        assert abs(errors.mean()) <= 3 * mc_sd, (effect, errors.mean(), mc_sd)


def test_the_pooled_study_finds_the_effects(study):
    table, truth = study
    pooled = _compare(table, truth, 0.999)
    assert pooled["covered"].all(), pooled.to_string()
    # precise enough to matter: each truth over 1 SE from 0, the distal one over 3
    assert (pooled["std_error"] * [3, 1, 1] < pooled["truth"]).all(), pooled.to_string()
