"""From plan to paper, end to end: protocol -> pre-registration bundle -> sessions -> report.

One command each (`labmrt power --json`, `labmrt preregister`, `labmrt
simulate`, `labmrt report`), on the shipped framing protocol and its plan.
Then a session run with a changed protocol must be flagged by `labmrt
preregister --verify` and in the report, a damaged bundle must be noticed,
and the same inputs must give the same bundle hash and the same report bytes
(but for the one generation line).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from labmrt.cli import main
from labmrt.protocol import load_protocol

ROOT = Path(__file__).resolve().parents[3]
PROTOCOL = ROOT / "protocols" / "framing_affect.toml"
PLAN = ROOT / "protocols" / "framing_affect_plan.toml"
POWER = ["power", "--sessions", "1", "--per-session", "30", "--prob", "0.25",
         "--availability-shape", "constant", "--availability-mean", "0.9",
         "--effect-shape", "constant", "--effect-mean", "0.3", "--json"]  # fmt: skip


def _run(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    """The whole flow once: power, bundle, 8 simulated sessions, report."""
    root = tmp_path_factory.mktemp("flow")
    import contextlib

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(POWER) == 0
        (root / "power.json").write_text(buf.getvalue())
        buf.truncate(0)
        buf.seek(0)
        assert main(["preregister", str(PROTOCOL), "--plan", str(PLAN),
                     "--power", str(root / "power.json"), "--out", str(root / "prereg")]) == 0  # fmt: skip
        printed = buf.getvalue()
        assert main(["simulate", str(PROTOCOL), "--participants", "8", "--seed", "3",
                     "--out", str(root / "study")]) == 0  # fmt: skip
        assert main(["report", str(root / "study"), "--plan", str(root / "prereg" / "study" / PLAN.name),
                     "--bundle", str(root / "prereg"), "--out", str(root / "report.html")]) == 0  # fmt: skip
    digest = re.search(r"bundle hash \(sha256 of MANIFEST.sha256\): ([0-9a-f]{64})", printed)
    assert digest, printed
    return {"root": root, "bundle_hash": digest.group(1)}


# --------------------------------------------------------------------------- the bundle
def test_the_bundle_freezes_every_file_under_one_hash(flow):
    bundle = flow["root"] / "prereg"
    manifest = (bundle / "MANIFEST.sha256").read_text()
    listed = {}
    for line in manifest.splitlines():
        digest, rel = line.split("  ")
        listed[rel] = digest
        assert hashlib.sha256((bundle / rel).read_bytes()).hexdigest() == digest, rel
    assert set(listed) == {
        "preregistration.html",
        "preregistration.md",
        "registration.json",
        "sample_size.json",
        "software.json",
        "study/framing_affect.toml",
        "study/framing_affect_tasks.csv",
        "study/framing_affect_plan.toml",
    }
    assert hashlib.sha256(manifest.encode()).hexdigest() == flow["bundle_hash"]
    assert (bundle / "study" / "framing_affect.toml").read_bytes() == PROTOCOL.read_bytes()
    reg = json.loads((bundle / "registration.json").read_text())
    assert reg["protocol"]["content_hash"] == load_protocol(PROTOCOL).content_hash
    # the frozen copy is the same protocol: it loads, with the same content hash
    assert (
        load_protocol(bundle / "study" / "framing_affect.toml").content_hash
        == (reg["protocol"]["content_hash"])
    )
    power = json.loads((bundle / "sample_size.json").read_text())
    assert power["inputs"]["effect_mean"] == 0.3 and power["n"] >= 4


def test_the_document_answers_the_preregistration_questions(flow):
    md = (flow["root"] / "prereg" / "preregistration.md").read_text()
    for heading in ("## Hypotheses", "## Design", "### Randomization",
                    "### Decision points and availability", "## Outcomes and how they are measured",
                    "## Moderators and controls", "## Sample size and stopping rule", "## Analysis",
                    "## Inference criteria", "## Robustness checks", "## Exclusions", "## Software"):  # fmt: skip
        assert heading in md, heading
    for hid in ("H1", "H2", "H3", "H4", "H5"):
        assert f"| {hid} |" in md
    assert "| aroused | 0.5000 | 0.2500 | 0.2500 |" in md  # P(arm | context) as designed
    assert "holm method" in md and "Mancl and DeRouen" in md and "WCLS" in md and "EMEE" in md
    assert "30 decision points per session" in md
    # how a state is derived is registered too, including what a non-separating calibration gives
    assert "live features: sustained; a participant whose calibration does not separate" in md
    assert "gets states from the rest reference (each marked so in its reason)" in md
    html = (flow["root"] / "prereg" / "preregistration.html").read_text()
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)


def test_the_same_inputs_give_the_same_bundle_hash(flow, tmp_path, capsys):
    code, out, _ = _run(capsys, "preregister", str(PROTOCOL), "--plan", str(PLAN),
                        "--power", str(flow["root"] / "power.json"), "--out", str(tmp_path / "again"))  # fmt: skip
    assert code == 0
    assert flow["bundle_hash"] in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "EXISTING"], "exists and is not an empty folder (choose a new folder)"),
        (["--power", "NOTJSON"], "is not JSON"),
        ([], "labmrt preregister: missing --plan"),
    ],
)
def test_bad_preregister_input_is_a_clear_error(flow, tmp_path, capsys, args, message):
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "x").write_text("x")
    (tmp_path / "bad.json").write_text("{not json")
    full = ["preregister", str(PROTOCOL)]
    if args:
        full += ["--plan", str(PLAN)]
    args = [
        {"EXISTING": str(existing), "NOTJSON": str(tmp_path / "bad.json")}.get(a, a) for a in args
    ]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "new")]
    code, _, err = _run(capsys, *full, *args)
    assert code == 2
    assert message in err and "Traceback" not in err


# --------------------------------------------------------------------------- verify
def test_verify_passes_a_study_run_as_registered(flow, capsys):
    code, out, _ = _run(capsys, "preregister", "--verify", str(flow["root"] / "prereg"),
                        str(flow["root"] / "study"))  # fmt: skip
    assert code == 0, out
    assert "every file matches its manifest" in out
    assert "8 sessions: 8 as registered, 0 differ" in out


@pytest.fixture(scope="module")
def changed_study(flow, tmp_path_factory):
    """The study plus one session run with a changed randomization table."""
    root = tmp_path_factory.mktemp("changed")
    proto = root / "protocol"
    proto.mkdir()
    shutil.copy(ROOT / "protocols" / "framing_affect_tasks.csv", proto)
    text = PROTOCOL.read_text()
    text = text.replace("neutral = 0.5\n", "neutral = 0.6\n").replace(
        "gain = 0.25\nloss = 0.25\n", "gain = 0.2\nloss = 0.2\n"
    )
    (proto / "framing_affect.toml").write_text(text)
    study = root / "study"
    shutil.copytree(flow["root"] / "study", study)
    assert main(["run", str(proto / "framing_affect.toml"), "--study", str(study),
                 "--participant", "P099", "--simulated"]) == 0  # fmt: skip
    return study


def test_verify_flags_a_session_run_with_a_changed_protocol(flow, changed_study, capsys):
    code, out, _ = _run(capsys, "preregister", "--verify", str(flow["root"] / "prereg"),
                        str(changed_study))  # fmt: skip
    assert code == 1
    assert re.search(r"session 9 \(P099, no 1, completed\): protocol [0-9a-f]{12} differs", out)
    assert "randomization.table.aroused.neutral: 0.5 -> 0.6" in out
    assert "9 sessions: 8 as registered, 1 differ" in out
    code, out, _ = _run(capsys, "preregister", "--verify", str(flow["root"] / "prereg"),
                        str(changed_study), "--json")  # fmt: skip
    record = json.loads(out)
    assert code == 1 and record["differing"] == 1
    assert [s["participant"] for s in record["sessions"] if not s["matches"]] == ["P099"]


def test_verify_notices_a_changed_bundle(flow, tmp_path, capsys):
    bundle = tmp_path / "prereg"
    shutil.copytree(flow["root"] / "prereg", bundle)
    plan = bundle / "study" / PLAN.name
    plan.write_text(plan.read_text().replace("draws = 5000", "draws = 50"))
    code, out, _ = _run(capsys, "preregister", "--verify", str(bundle), str(flow["root"] / "study"))
    assert code == 1
    assert f"DAMAGED study/{PLAN.name}: changed since registration" in out


# --------------------------------------------------------------------------- the report
def _images(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


def test_the_report_has_every_section_and_one_results_table(flow):
    html = (flow["root"] / "report.html").read_text()
    for heading in ("Participant flow", "Randomization check", "Availability",
                    "Sensor data quality", "Hypotheses", "Robustness (as pre-registered)",
                    "Deviations"):  # fmt: skip
        assert f">{heading}</h" in html, heading
    results = html[html.index("<caption>Results</caption>") :]
    results = results[: results.index("</table>")]
    for hid in ("H1", "H2", "H3", "H4", "H5"):
        assert f"<td>{hid}</td>" in results
    assert "holm over 2 primary" not in results  # the table says it once, in the text above
    assert 'sessions started</td><td class="num">8<' in html
    assert "Every session ran the protocol and the software of the registration" in html
    assert "re-run 5000 times" in html and "seed 20240917" in html
    images = _images(html)
    assert len(images) == html.count("<img ") >= 6
    assert all(img[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)


def _without_generation_line(text: str) -> str:
    lines = text.splitlines()
    generated = [i for i, line in enumerate(lines) if "Generated by labmrt" in line]
    assert len(generated) == 1
    del lines[generated[0]]
    return "\n".join(lines)


def test_the_same_inputs_give_the_same_report_bytes(flow, tmp_path, capsys):
    out = tmp_path / "again.html"
    code, _, _ = _run(capsys, "report", str(flow["root"] / "study"), "--plan",
                      str(flow["root"] / "prereg" / "study" / PLAN.name), "--bundle",
                      str(flow["root"] / "prereg"), "--out", str(out))  # fmt: skip
    assert code == 0
    first = (flow["root"] / "report.html").read_text()
    second = out.read_text()
    assert _without_generation_line(first) == _without_generation_line(second)
    diff = [a for a, b in zip(first.splitlines(), second.splitlines(), strict=True) if a != b]
    assert all("Generated by labmrt" in line for line in diff)


def test_without_a_bundle_the_report_says_as_planned_not_as_registered(flow, tmp_path, capsys):
    out = tmp_path / "planned.html"
    code, _, _ = _run(capsys, "report", str(flow["root"] / "study"), "--plan",
                      str(flow["root"] / "prereg" / "study" / PLAN.name), "--out", str(out))  # fmt: skip
    assert code == 0
    html = out.read_text()
    assert "All 8 sessions ran as planned (no pre-registration bundle was given)." in html
    assert "as registered" not in html and ">Robustness (as planned)</h" in html
    assert "All 8 sessions ran as registered." in (flow["root"] / "report.html").read_text()


def test_the_report_flags_the_changed_protocol_and_unregistered_hypotheses(
    flow, changed_study, tmp_path, capsys
):
    plan = tmp_path / PLAN.name
    extra = """
[[hypotheses]]
id = "H9"
text = "A gain framing raises calculator use when calm."
outcome = "calculator_used"
contrast = "gain-vs-baseline"
moderator = "affect_state"
level = "calm"
direction = ">0"
role = "primary"
"""
    plan.write_text(PLAN.read_text() + extra)
    shutil.copy(PROTOCOL, tmp_path)
    shutil.copy(ROOT / "protocols" / "framing_affect_tasks.csv", tmp_path)
    out = tmp_path / "report.html"
    code, _, err = _run(capsys, "report", str(changed_study), "--plan", str(plan), "--bundle",
                        str(flow["root"] / "prereg"), "--out", str(out))  # fmt: skip
    assert code == 0, err
    html = out.read_text()
    deviations = html[html.index('id="deviations"') :]
    assert "1 session(s) ran another protocol" in deviations
    assert "<td>P099</td>" in deviations and ">DIFFERS<" in deviations
    assert "randomization.table.aroused.neutral: 0.5 -&gt; 0.6" in deviations
    assert "Sessions with the DEVIATING protocol" in html
    assert "The analysis plan differs from the registered plan" in deviations
    assert "<td>H9</td>" in deviations and "not in the registered plan" in deviations
    # H9 was not registered: it is exploratory, and the primary family stays H1, H2
    results = html[html.index("<caption>Results</caption>") :]
    row = results[results.index("<td>H9</td>") :]
    assert row.startswith("<td>H9</td><td>exploratory</td>")
    assert "Deviations: 1 of 9 sessions differ" in html


def test_report_input_errors_are_clear(flow, tmp_path, capsys):
    code, _, err = _run(capsys, "report", str(tmp_path), "--plan", str(PLAN), "--out",
                        str(tmp_path / "r.html"))  # fmt: skip
    assert code == 2 and "Traceback" not in err and str(tmp_path) in err


# --------------------------------------------------------------------------- parts
def test_a_referenced_classifier_model_is_frozen_too(tmp_path, capsys):
    folder = tmp_path / "proto"
    (folder / "models").mkdir(parents=True)
    shutil.copy(ROOT / "protocols" / "framing_affect_tasks.csv", folder)
    (folder / "models" / "affect.json").write_text('{"format": "labmrt-affect-classifier"}\n')
    text = PROTOCOL.read_text().replace(
        'classifier = "calibration"', 'classifier = "models/affect.json"'
    )
    (folder / "framing_affect.toml").write_text(text)
    plan = folder / "plan.toml"
    plan.write_text(PLAN.read_text())
    code, _, err = _run(capsys, "preregister", str(folder / "framing_affect.toml"), "--plan",
                        str(plan), "--out", str(tmp_path / "b"))  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "b" / "study" / "models" / "affect.json").read_bytes() == (
        folder / "models" / "affect.json"
    ).read_bytes()
    assert "study/models/affect.json" in (tmp_path / "b" / "MANIFEST.sha256").read_text()
    assert "no sample-size calculation was registered" in (
        (tmp_path / "b" / "preregistration.md").read_text().lower()
    )


def test_a_plan_written_for_another_protocol_is_refused(tmp_path, capsys):
    plan = tmp_path / "plan.toml"
    plan.write_text(
        PLAN.read_text().replace(
            'protocol = "framing_affect.toml"', f'protocol = "{ROOT / "protocols" / "demo.toml"}"'
        )
    )
    code, _, err = _run(capsys, "preregister", str(PROTOCOL), "--plan", str(plan), "--out",
                        str(tmp_path / "b"))  # fmt: skip
    assert code == 2
    assert "protocol: names" in err and "whose content differs from" in err
    assert not (tmp_path / "b").exists()


def test_sessions_with_other_software_are_named(flow):
    from labmrt.report.bundle import check_sessions, read_bundle
    from labmrt.store import StudyStore

    bundle = read_bundle(flow["root"] / "prereg")
    registered = {**bundle.software, "numpy": "0.0.1", "os": "another machine"}
    with StudyStore.open(flow["root"] / "study", readonly=True) as store:
        checks = check_sessions(store, bundle.protocol_hash, registered)
    assert len(checks) == 8 and all(c.protocol_matches for c in checks)
    numpy = bundle.software["numpy"]
    assert all(c.software_differences == [f"numpy {numpy} (registered 0.0.1)"] for c in checks)
    assert all(c.os_differs and not c.matches for c in checks)  # the OS is shown, not counted


def test_data_quality_reads_the_calibration_record(flow, tmp_path):
    from labmrt.report.study_data import StudyData, calibration_records, data_quality
    from labmrt.store import StudyStore

    study = tmp_path / "study"
    shutil.copytree(flow["root"] / "study", study)
    marker = {"event": "calibration", "status": "ok", "auc": 0.93, "v": 1,
              "warnings": ["heart rate did not change between rest and stressor (+0.4 bpm)"]}  # fmt: skip
    with StudyStore.open(study) as store:
        store.add_marker(2, 1240.0, json.dumps(marker))
    with StudyStore.open(study, readonly=True) as store:
        data = StudyData.read(store)
    assert set(calibration_records(data)) == {2}
    quality = data_quality(data).set_index("participant")
    assert quality.loc["P002", "calibration"] == (
        "ok, AUC 0.93; warning: heart rate did not change between rest and stressor (+0.4 bpm)"
    )
    assert quality.loc["P001", "calibration"] == "no calibration record"
    states = data.states
    share = (states[states["participant"] == "P003"]["label"] == "unknown").mean()
    assert quality.loc["P003", "share unknown"] == pytest.approx(share)


def test_randomization_check_expected_counts_sum_the_recorded_probabilities(flow):
    from labmrt.report.study_data import StudyData, randomization_check
    from labmrt.store import StudyStore

    with StudyStore.open(flow["root"] / "study", readonly=True) as store:
        data = StudyData.read(store)
    protocol = next(iter(data.protocols.values()))
    checks = {c.context: c for c in randomization_check(data, protocol)}
    d = data.decisions[data.decisions["available"]]
    aroused = d[[c.get("affect_state") == "aroused" for c in d["context"]]]
    assert checks["aroused"].n == len(aroused)
    assert checks["aroused"].expected["neutral"] == pytest.approx(0.5 * len(aroused))
    assert sum(checks["aroused"].observed.values()) == len(aroused)
    assert checks["aroused"].designed == {"neutral": 0.5, "gain": 0.25, "loss": 0.25}
    # Pearson's statistic by hand
    obs = [checks["aroused"].observed[a] for a in ("neutral", "gain", "loss")]
    exp = [0.5 * len(aroused), 0.25 * len(aroused), 0.25 * len(aroused)]
    chi2 = sum((o - e) ** 2 / e for o, e in zip(obs, exp, strict=True))
    assert checks["aroused"].chi2 == pytest.approx(chi2, rel=1e-12)
    from scipy import stats

    assert checks["aroused"].p_value == pytest.approx(stats.chi2.sf(chi2, 2), rel=1e-12)


def test_a_simulated_sample_size_is_registered_with_its_effects(tmp_path, capsys):
    effects = ROOT / "protocols" / "framing_affect_effects.toml"
    code, out, err = _run(capsys, "power", "--simulate", str(PROTOCOL), "--effects", str(effects),
                          "--n", "20:40:20", "--trials", "4", "--null-trials", "4", "--json")  # fmt: skip
    assert code == 0, err
    sim = json.loads(out)
    (tmp_path / "sim.json").write_text(out)
    code, out, err = _run(capsys, "preregister", str(PROTOCOL), "--plan", str(PLAN),
                          "--power", str(tmp_path / "sim.json"), "--out", str(tmp_path / "b"))  # fmt: skip
    assert code == 0, err
    bundle = tmp_path / "b"
    assert (bundle / "sample_size_framing_affect_effects.toml").read_bytes() == effects.read_bytes()
    assert "sample_size_framing_affect_effects.toml" in (bundle / "MANIFEST.sha256").read_text()
    doc = (bundle / "preregistration.md").read_text()
    assert "Simulated with `labmrt power --simulate`" in doc
    assert "| outcome | contrast | term | true value | N for target | N = 20 | N = 40 |" in doc
    first = sim["terms"][0]
    assert f"| {first['outcome']} | {first['contrast']} | {first['term']} (" in doc
    assert "Type I error with every effect set to 0 (4 studies per sample size)" in doc
    # a simulation of another protocol is not this study's sample-size justification
    sim["protocol_hash"] = "0" * 64
    (tmp_path / "other.json").write_text(json.dumps(sim))
    code, out, err = _run(capsys, "preregister", str(PROTOCOL), "--plan", str(PLAN),
                          "--power", str(tmp_path / "other.json"), "--out", str(tmp_path / "c"))  # fmt: skip
    assert code == 2
    assert f"{tmp_path / 'other.json'}: was simulated for protocol 000000000000" in err
