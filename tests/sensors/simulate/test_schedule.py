"""ArousalSchedule: files, validation, random schedules."""

from __future__ import annotations

import numpy as np
import pytest

from labmrt.errors import LabmrtError
from sensors.simulate import ArousalSchedule


def test_state_at_and_changes():
    s = ArousalSchedule([(0, "calm"), (30, "aroused"), (45.5, "calm")])
    assert [s.state_at(t) for t in (-1, 0, 29.99, 30, 45.4, 45.5, 1e6)] == [
        "calm",
        "calm",
        "calm",
        "aroused",
        "aroused",
        "calm",
        "calm",
    ]
    np.testing.assert_array_equal(s.states_at([0, 30, 50]), ["calm", "aroused", "calm"])
    assert s.next_change_after(0) == 30 and s.next_change_after(45.5) is None
    assert s.changes_between(10, 46) == [(30.0, "aroused"), (45.5, "calm")]


def test_csv_and_toml_files(tmp_path):
    csv = tmp_path / "s.csv"
    csv.write_text("start_s,state\n# comment\n0,calm\n90,Aroused\n150,calm\n")
    toml = tmp_path / "s.toml"
    toml.write_text(
        '[[segment]]\nstart_s = 0\nstate = "calm"\n[[segment]]\nstart_s = 90\nstate = "aroused"\n'
        '[[segment]]\nstart_s = 150\nstate = "calm"\n'
    )
    a, b = ArousalSchedule.from_file(csv), ArousalSchedule.from_file(toml)
    assert a.segments == b.segments == ((0.0, "calm"), (90.0, "aroused"), (150.0, "calm"))
    assert ArousalSchedule._from_csv(a.to_csv(), "x").segments == a.segments


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("start,state\n0,calm\n", "s.csv:1: the header is"),
        ("start_s,state\n0,calm\nten,aroused\n", "s.csv:3: start_s 'ten' is not a number"),
        ("start_s,state\n5,calm\n", "first segment starts at 5 s (start it at 0)"),
        ("start_s,state\n0,calm\n9,sleepy\n", "segment 2: unknown state 'sleepy'"),
        ("start_s,state\n0,calm\n9,aroused\n3,calm\n", "start_s 3 does not come after 9"),
        ("", "the schedule is empty"),
    ],
)
def test_bad_csv_is_a_user_error(tmp_path, text, message):
    path = tmp_path / "s.csv"
    path.write_text(text)
    with pytest.raises(LabmrtError) as err:
        ArousalSchedule.from_file(path)
    assert message in err.value.message


def test_bad_toml_and_missing_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[[segment]]\nstart_s = 'zero'\nstate = 'calm'\n")
    with pytest.raises(LabmrtError, match="start_s must be a number"):
        ArousalSchedule.from_file(path)
    path.write_text("not = [toml")
    with pytest.raises(LabmrtError, match="not valid TOML"):
        ArousalSchedule.from_file(path)
    with pytest.raises(LabmrtError, match="does not exist"):
        ArousalSchedule.from_file(tmp_path / "absent.csv")


def test_random_is_reproducible_alternating_with_the_requested_mean():
    a = ArousalSchedule.random(3, 36000, mean_segment_s=60)
    assert a == ArousalSchedule.random(3, 36000, mean_segment_s=60)
    assert a != ArousalSchedule.random(4, 36000, mean_segment_s=60)
    states = [s for _, s in a.segments]
    assert all(x != y for x, y in zip(states[:-1], states[1:], strict=True))
    lengths = np.diff([s for s, _ in a.segments])
    assert lengths.min() >= 30 - 1e-9 and lengths.max() <= 90 + 1e-9
    # ~600 uniform(30, 90) lengths: SE of the mean is 17.3/sqrt(600) = 0.7 s; allow 4 SE.
    assert abs(lengths.mean() - 60) < 2.8
