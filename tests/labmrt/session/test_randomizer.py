"""The micro-randomizer: frequencies, replay, availability, per-draw context, resume."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from labmrt.protocol import load_protocol
from labmrt.session.randomizer import Decision, MicroRandomizer, choose_arm, seed_sequence

PROTOCOLS = Path(__file__).resolve().parents[3] / "protocols"
STATES = ("calm", "aroused", "unknown")
# Two-sided 99.9% normal quantile; with n = 200,000 and p >= 0.25 the binomial is
# normal to far better than the bound's own width (n p (1 - p) > 37,000).
Z_999 = 3.2905267314919255


@pytest.fixture(scope="module")
def framing():
    return load_protocol(PROTOCOLS / "framing_affect.toml")


def test_frequencies_match_probabilities_per_context(framing):
    """200,000 draws per context, contexts interleaved draw by draw."""
    n_per = 200_000
    order = np.random.default_rng(12345).permutation(np.repeat(np.arange(3), n_per))
    rnd = MicroRandomizer(framing, "FREQ-01", session=1)
    counts = {s: Counter() for s in STATES}
    for k, ci in enumerate(order):
        state = STATES[ci]
        d = rnd.draw(k, {"affect_state": state})
        counts[state][d.arm] += 1
    for state in STATES:
        probs = framing.probabilities({"affect_state": state})
        assert sum(counts[state].values()) == n_per
        for arm, p in probs.items():
            sd = math.sqrt(n_per * p * (1 - p))
            assert abs(counts[state][arm] - n_per * p) <= Z_999 * sd, (state, arm, counts[state])
    # The aroused split really differs from the calm one (not a shared table).
    assert counts["aroused"]["neutral"] > counts["calm"]["neutral"] + 10_000


def test_context_table_applied_per_draw_and_arm_is_inverse_cdf(framing):
    rnd = MicroRandomizer(framing, "CTX-07")
    seq = ["calm", "aroused", None, "aroused", "sleepy", "calm", "unknown"] * 50
    for k, state in enumerate(seq):
        d = rnd.draw(k, {"affect_state": state, "hr": 71.5})
        expected_key = state if state in STATES else "unknown"
        assert d.table_key == expected_key
        assert d.fell_back == (state not in STATES)
        assert d.probabilities == framing.probabilities({"affect_state": expected_key})
        assert d.context == {"affect_state": "" if state is None else state, "hr": "71.5"}
        # The arm is the first whose cumulative probability exceeds u.
        cum = np.cumsum(list(d.probabilities.values()))
        assert d.arm == framing.arm_ids[int(np.searchsorted(cum, d.u, side="right"))]


def test_seed_derivation_is_as_documented(framing):
    code = "P001"
    digest = int.from_bytes(hashlib.sha256(code.encode("utf-8")).digest()[:16], "big")
    expected = np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([20240917, digest, 2]))
    ).random(5)
    rnd = MicroRandomizer(framing, code, session=2)
    got = [rnd.draw(k, {"affect_state": "calm"}).u for k in range(5)]
    assert got == list(expected)
    assert seed_sequence(20240917, code, 2).entropy == [20240917, digest, 2]


def test_replay_reproduces_every_draw(framing):
    ctx = [{"affect_state": STATES[k % 3]} for k in range(500)]
    avail = [k % 7 != 3 for k in range(500)]
    first = [MicroRandomizer(framing, "R-1", 3) for _ in range(2)]
    a = [first[0].draw(k, ctx[k], avail[k]) for k in range(500)]
    b = [first[1].draw(k, ctx[k], avail[k]) for k in range(500)]
    assert a == b
    # Another participant, session or study seed gives another stream.
    for other in (
        MicroRandomizer(framing, "R-2", 3),
        MicroRandomizer(framing, "r-1", 3),
        MicroRandomizer(framing, "R-1", 4),
    ):
        us = [other.draw(k, ctx[k]).u for k in range(20)]
        assert us != [d.u for d in a[:20]]


def test_unavailable_points_never_draw_but_consume_one_uniform(framing):
    all_on = MicroRandomizer(framing, "AV-1")
    mixed = MicroRandomizer(framing, "AV-1")
    for k in range(300):
        ref = all_on.draw(k, {"affect_state": "calm"})
        available = k % 4 != 0
        d = mixed.draw(k, {"affect_state": "calm"}, available=available)
        assert d.available is available
        if available:
            assert d == ref  # the stream position equals the decision-point index
        else:
            assert d.arm is None and d.u is None and d.p_arm is None
            assert d.probabilities == ref.probabilities  # still recorded
    assert mixed.next_decision_point == 300


def test_resume_reproduces_the_tail(framing):
    ctx = [{"affect_state": STATES[(k * 5) % 3]} for k in range(80)]
    avail = [k % 9 != 0 for k in range(80)]
    full = MicroRandomizer(framing, "RES-3", 1)
    whole = [full.draw(k, ctx[k], avail[k]) for k in range(80)]
    resumed = MicroRandomizer(framing, "RES-3", 1).resume_at(47)
    assert resumed.next_decision_point == 47
    tail = [resumed.draw(k, ctx[k], avail[k]) for k in range(47, 80)]
    assert tail == whole[47:]


def test_draw_may_skip_ahead_but_never_back(framing):
    fresh = MicroRandomizer(framing, "SK-1")
    ref = MicroRandomizer(framing, "SK-1")
    expected = [ref.draw(k, {}).u for k in range(6)]
    assert fresh.draw(5, {}).u == expected[5]  # numbering from 1 would still match u_k
    with pytest.raises(ValueError, match="already randomized"):
        fresh.draw(5, {})
    with pytest.raises(ValueError, match="already randomized"):
        fresh.resume_at(2)


def test_decision_record_carries_the_audit_fields(framing):
    d = MicroRandomizer(framing, "AUD", 2).draw(0, {"affect_state": "aroused"})
    assert isinstance(d, Decision)
    assert d.protocol_hash == framing.content_hash
    assert (d.participant, d.session, d.decision_point) == ("AUD", 2, 0)
    assert set(d.probabilities) == set(framing.arm_ids)
    assert 0.0 <= d.u < 1.0 and d.p_arm == d.probabilities[d.arm]
    rec = d.as_record()
    assert rec["uniform"] == d.u and rec["arm"] == d.arm and "u" not in rec
    with pytest.raises(AttributeError):
        d.arm = "loss"  # type: ignore[misc]


def test_choose_arm_boundaries():
    probs = {"a": 0.25, "b": 0.25, "c": 0.5}
    assert choose_arm(0.0, probs) == "a"
    assert choose_arm(np.nextafter(0.25, 0), probs) == "a"
    assert choose_arm(0.25, probs) == "b"
    assert choose_arm(0.5, probs) == "c"
    assert choose_arm(np.nextafter(1.0, 0), probs) == "c"
    # A total a hair below 1 (allowed: 1e-9) still maps every u to an arm.
    assert choose_arm(1 - 1e-12, {"a": 0.5, "b": 0.5 - 1e-10}) == "b"
    with pytest.raises(ValueError):
        choose_arm(1.0, probs)


def test_constant_protocol_records_no_table_row():
    p = load_protocol(PROTOCOLS / "minimal.toml")
    d = MicroRandomizer(p, "M1").draw(0, {"affect_state": "aroused"})
    assert d.table_key is None and d.probabilities == {"neutral": 0.5, "gain": 0.5}
