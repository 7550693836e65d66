"""Short seeded version of bench/sim_coverage.py: unbiased, 95% CIs cover ~95%.

400 trials per scenario keep this under a second. Bands: coverage within
0.95 +/- 3.5 binomial SDs (SD = sqrt(.95 * .05 / 400) = 1.1%), bias within
4 Monte Carlo standard errors. The seed is fixed, so the test is deterministic;
the bands say how far an honest estimator may land from the nominal value.
"""

from __future__ import annotations

import numpy as np
import pytest

from labmrt.analysis.coverage import SCENARIOS, run_coverage

TRIALS = 400


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_unbiased_and_nominal_coverage(scenario):
    rows = run_coverage(scenario, TRIALS, seed=20240611)
    band = 3.5 * np.sqrt(0.95 * 0.05 / TRIALS)
    for row in rows:
        assert abs(row["bias"]) < 4 * row["mc_se_bias"], row
        assert abs(row["coverage"] - 0.95) < band, row
        # The standard errors track the spread of the estimates.
        assert 0.85 < row["mean_se"] / row["sd_estimate"] < 1.15, row
