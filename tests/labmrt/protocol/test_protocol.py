"""The protocol model: shipped protocols, lookups, decision tasks and the content hash."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from labmrt.cli import main
from labmrt.errors import LabmrtError
from labmrt.protocol import Protocol, load_protocol
from labmrt.protocol.errors import ProtocolInvalid

PROTOCOLS = Path(__file__).resolve().parents[3] / "protocols"


@pytest.fixture(scope="module")
def framing() -> Protocol:
    return load_protocol(PROTOCOLS / "framing_affect.toml")


def test_validate_shipped_protocols(capsys):
    files = sorted(str(p) for p in PROTOCOLS.glob("*.toml"))
    assert any(f.endswith("framing_affect.toml") for f in files)
    assert any(f.endswith("minimal.toml") for f in files)
    assert main(["validate", *files]) == 0
    out = capsys.readouterr().out
    assert "framing_affect.toml: OK" in out and "minimal.toml: OK" in out
    assert "calm     neutral=0.3333  gain=0.3333  loss=0.3333" in out
    assert "aroused  neutral=0.5  gain=0.25  loss=0.25" in out
    assert "tasks: 30; decision points: 30" in out
    assert "calibration: 180 s rest + 60 s arithmetic stressor" in out
    assert "help_hint_seconds: duration of help+hint during the task, log1p" in out


@pytest.mark.parametrize("path", sorted(PROTOCOLS.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_protocol_validates(path, capsys):
    assert main(["validate", str(path)]) == 0
    assert f"{path.name}: OK" in capsys.readouterr().out


def test_every_shipped_tasks_file_belongs_to_a_protocol():
    from labmrt.commands.validate import is_analysis_plan, is_effects_file

    used = {
        load_protocol(p).tasks_file
        for p in PROTOCOLS.glob("*.toml")
        # the plans and expected effects beside the protocols
        if not (is_analysis_plan(str(p)) or is_effects_file(str(p)))
    }
    assert {p.name for p in PROTOCOLS.glob("*.csv")} <= used


def test_demo_protocol_is_the_study_design_made_short(framing):
    demo = load_protocol(PROTOCOLS / "demo.toml")
    for part in ("arms", "randomization", "decision_rules", "features", "outcomes", "control"):
        assert getattr(demo, part) == getattr(framing, part), part
    assert (demo.sensors, demo.moderators, demo.controls) == (
        framing.sensors,
        framing.moderators,
        framing.controls,
    )
    assert (demo.calibration.rest_s, demo.calibration.stressor_s) == (60, 30)
    assert demo.calibration.stressor == framing.calibration.stressor
    # 8 tasks copied unchanged from the full study, each domain and difficulty present
    full = {t.id: t for t in framing.tasks}
    assert len(demo.tasks) == 8
    assert all(t == full[t.id] for t in demo.tasks)
    assert {t.difficulty for t in demo.tasks} == {t.difficulty for t in framing.tasks}
    assert {t.id.rstrip("0123456789") for t in demo.tasks} == {
        t.id.rstrip("0123456789") for t in framing.tasks
    }


def test_framing_affect_study_design(framing):
    assert framing.arm_ids == ["neutral", "gain", "loss"]
    assert framing.baseline_arm.id == "neutral"
    assert [f.kind for f in framing.features] == [
        "help",
        "hint",
        "calculator",
        "notes",
        "comparison_table",
    ]
    assert len(framing.tasks) == 30
    assert framing.calibration.rest_s == 180 and framing.calibration.stressor_s == 60
    outcomes = {o.name: o for o in framing.outcomes}
    assert outcomes["help_hint_seconds"].features == ["help", "hint"]
    assert outcomes["help_hint_seconds"].transform == "log1p"
    assert outcomes["calculator_used"].measure == "any"
    assert framing.control.mode == "confirm"
    assert framing.context_variable == "affect_state"
    assert framing.sensors.classifier == "calibration"


def test_shipped_tasks_render_a_comparison_table(framing):
    for task in framing.tasks:
        assert task.table is not None, task.id
        assert len(task.table.rows) >= 3
        assert all(len(r) == len(task.table.columns) for r in task.table.rows)
        assert task.answer_kind == "choice"
        assert task.choices == [str(r[0]) for r in task.table.rows]
        assert task.correct in task.choices
        assert task.hint and task.question and task.difficulty in (1, 2, 3)
        assert [f.id for f in framing.task_features(task)] == [
            "help",
            "hint",
            "calculator",
            "notes",
            "table",
        ]


def test_probabilities_per_context_and_fallback(framing):
    third = 1 / 3
    assert framing.probabilities({"affect_state": "calm"}) == {
        "neutral": third,
        "gain": third,
        "loss": third,
    }
    assert framing.probabilities({"affect_state": "aroused"}) == {
        "neutral": 0.5,
        "gain": 0.25,
        "loss": 0.25,
    }
    for ctx in ({}, None, {"affect_state": None}, {"affect_state": "sleepy"}):
        look = framing.lookup_probabilities(ctx)
        assert look.table_key == "unknown" and look.fell_back
        assert look.probabilities == framing.probabilities({"affect_state": "unknown"})
    exact = framing.lookup_probabilities({"affect_state": "unknown"})
    assert exact.table_key == "unknown" and not exact.fell_back
    # Arm order is protocol order (the inverse CDF depends on it).
    assert list(framing.probabilities({"affect_state": "aroused"})) == framing.arm_ids


def test_constant_probabilities_ignore_context():
    p = load_protocol(PROTOCOLS / "minimal.toml")
    assert p.probabilities() == {"neutral": 0.5, "gain": 0.5}
    assert p.probabilities({"affect_state": "aroused"}) == {"neutral": 0.5, "gain": 0.5}
    look = p.lookup_probabilities({"affect_state": "aroused"})
    assert look.table_key is None and not look.fell_back
    assert p.calibration is None and p.sensors is None and p.outcomes == []


def test_framed_text(framing):
    task = framing.tasks[0]
    assert framing.framed_text(0, "neutral") == task.text
    assert framing.framed_text(task, "gain").startswith("A good choice here lets you keep")
    assert framing.framed_text(0, "loss").endswith(task.text)


def _copy(tmp_path: Path, text: str, csv: str | None = None) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    shutil.copy(PROTOCOLS / "framing_affect_tasks.csv", tmp_path / "framing_affect_tasks.csv")
    if csv is not None:
        (tmp_path / "framing_affect_tasks.csv").write_text(csv, encoding="utf-8")
    return path


def test_decision_task_selection(tmp_path):
    base = (PROTOCOLS / "framing_affect.toml").read_text(encoding="utf-8")
    every = base.replace('select = "all"', 'select = "every_k"\nevery_k = 3\nstart_task = 2')
    p = load_protocol(_copy(tmp_path, every))
    assert p.decision_task_indices() == list(range(1, 30, 3))
    listed = base.replace('select = "all"', 'select = "list"\ntask_ids = ["car1", "phone1"]')
    p = load_protocol(_copy(tmp_path, listed))
    # Task order, not list order.
    assert [p.tasks[i].id for i in p.decision_task_indices()] == ["phone1", "car1"]


def test_content_hash_ignores_form_but_not_content(tmp_path, framing):
    text = (PROTOCOLS / "framing_affect.toml").read_text(encoding="utf-8")
    # Comments gone, whitespace changed, single tables moved, keys reordered
    # ([[arms]] etc. keep their order: the order of an array is content).
    lines, in_string = [], False
    for ln in text.splitlines():
        if not in_string:
            if ln.startswith("#"):
                continue
            ln = ln.split("  #")[0].rstrip().replace(" = ", "    =  ")
        if ln.count('"""') == 1:
            in_string = not in_string
        lines.append(ln)
    blocks = "\n".join(lines).split("\n[")
    singles = [b for b in blocks[1:] if not b.startswith("[")]
    arrays = [b for b in blocks[1:] if b.startswith("[")]
    assert len(singles) >= 5 and len(arrays) >= 8
    reordered = "\n\n\n[".join([blocks[0], *arrays, *reversed(singles)])
    reordered = reordered.replace(
        "rest_s    =  180\nstressor_s    =  60", "stressor_s    =  60\nrest_s    =  180"
    )
    assert "stressor_s    =  60\nrest_s    =  180" in reordered
    assert "# Comparing offers" in reordered and "# 30 offer" not in reordered
    p = load_protocol(_copy(tmp_path, reordered))
    assert p.arm_ids == ["neutral", "gain", "loss"]  # [[arms]] order is content, kept
    assert p.content_hash == framing.content_hash

    # Renaming the tasks file does not change the hash; changing a task does.
    csv = (PROTOCOLS / "framing_affect_tasks.csv").read_text(encoding="utf-8")
    (tmp_path / "other.csv").write_text(csv, encoding="utf-8")
    renamed = text.replace('"framing_affect_tasks.csv"', '"other.csv"')
    assert load_protocol(_copy(tmp_path, renamed)).content_hash == framing.content_hash
    changed_csv = csv.replace("Pick", "Choose") if "Pick" in csv else csv.replace("EUR", "USD", 1)
    assert changed_csv != csv
    changed = load_protocol(_copy(tmp_path, text, changed_csv))
    assert changed.content_hash != framing.content_hash

    # So does any probability, the seed, or an arm's wording.
    for old, new in [
        ("gain = 0.25\nloss = 0.25", "gain = 0.2\nloss = 0.3"),
        ("seed = 20240917", "seed = 20240918"),
        ("makes you lose money", "costs you money"),
    ]:
        assert old in text
        other = load_protocol(_copy(tmp_path, text.replace(old, new)))
        assert other.content_hash != framing.content_hash, old


def test_content_hash_is_sha256_of_canonical_json(framing):
    assert framing.content_hash == hashlib.sha256(framing.canonical_json.encode()).hexdigest()
    data = json.loads(framing.canonical_json)
    assert len(data["tasks"]) == 30  # CSV tasks are included by content
    assert "source_path" not in data and "tasks_file" not in data
    assert data["randomization"]["table"]["calm"]["gain"] == 1 / 3


def test_model_file_is_hashed_by_content(tmp_path):
    base = (PROTOCOLS / "framing_affect.toml").read_text(encoding="utf-8")
    text = base.replace('classifier = "calibration"', 'classifier = "model.json"')
    (tmp_path / "model.json").write_text('{"weights": [1, 2]}', encoding="utf-8")
    p1 = load_protocol(_copy(tmp_path, text))
    assert p1.classifier_path() == (tmp_path / "model.json").resolve()
    assert p1.sensors.classifier_sha256 == hashlib.sha256(b'{"weights": [1, 2]}').hexdigest()
    (tmp_path / "model.json").write_text('{"weights": [1, 3]}', encoding="utf-8")
    p2 = load_protocol(_copy(tmp_path, text))
    assert p1.content_hash != p2.content_hash


def test_protocol_is_frozen(framing):
    with pytest.raises(ValidationError):
        framing.study = framing.study  # type: ignore[misc]
    with pytest.raises(ValidationError):
        framing.arms[0].label = "x"  # type: ignore[misc]


def test_direct_construction_applies_the_study_rules(framing):
    data = framing.model_dump()
    data["arms"][1]["baseline"] = True
    with pytest.raises(ProtocolInvalid) as info:
        Protocol.model_validate(data)
    assert isinstance(info.value, LabmrtError)
    assert "arms[2].baseline: more than one baseline arm (neutral, gain)" in info.value.message
    # The dump round-trips to an equal protocol with the same hash.
    again = Protocol.model_validate(framing.model_dump())
    assert again.content_hash == framing.content_hash


def _offer_scores(task) -> dict[str, float]:
    """Independent re-computation of each shipped task's answer from its text and table.

    The score is money kept (higher is better); offers that miss a stated
    requirement are left out.
    """
    nums = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", task.text)]
    rows = task.table.rows
    kind = re.match(r"[a-z]+", task.id).group()
    if kind == "phone":
        return {r[0]: -(r[4] + 24 * r[1]) for r in rows if r[2] >= nums[0]}
    if kind == "savings":
        return {r[0]: nums[0] * r[1] / 100 - 12 * r[2] for r in rows if r[3] <= nums[0]}
    if kind == "power":
        return {r[0]: -(12 * r[1] + nums[0] * r[2] - r[3]) for r in rows}
    if kind == "car":
        days, km = nums
        return {r[0]: -(days * r[1] + max(0.0, km - days * r[2]) * r[3]) for r in rows}
    if kind == "laptop":
        return {r[0]: -r[1] for r in rows if r[2] >= nums[0] and r[3] >= nums[1]}
    raise AssertionError(f"unexpected task kind {kind}")


def test_shipped_answers_are_the_unique_best_offer(framing):
    for task in framing.tasks:
        scores = _offer_scores(task)
        ranked = sorted(scores.values(), reverse=True)
        assert len(ranked) >= 2, f"{task.id}: the comparison is trivial"
        # A clear winner (at least EUR 5), so "correct" is not a matter of rounding.
        assert ranked[0] - ranked[1] >= 5, task.id
        assert max(scores, key=scores.get) == task.correct, task.id


def test_stored_canonical_json_rebuilds_the_same_protocol(framing):
    again = Protocol.from_canonical_json(framing.canonical_json)
    assert again.content_hash == framing.content_hash
    assert again.probabilities({"affect_state": "aroused"}) == framing.probabilities(
        {"affect_state": "aroused"}
    )
    broken = framing.canonical_json.replace('"baseline":false', '"baseline":true', 1)
    with pytest.raises(LabmrtError, match="stored protocol: arms\\[2\\].baseline: more than one"):
        Protocol.from_canonical_json(broken)
