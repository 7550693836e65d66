"""The monitor against every simulated device layout, each side in its own process.

``labmrt sensors simulate --layout L`` publishes real LSL streams on this
machine; ``labmrt sensors monitor`` (another process) must find them, pick
the right channel of the right stream by its metadata, convert the units,
and compute features in the units the classifier expects. All layouts run
at once to keep the wall time to about half a minute.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LAYOUTS = ("hub", "rr-gsr", "hr-only", "bitalino")
MONITOR_S = 14


def _cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "labmrt.cli", *args], cwd=ROOT, text=True, **kw)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Per layout (and "pinned"): (the monitor's "using"/"not using" lines, its JSON updates,
    stream prefix); "list": the ``sensors list --json`` rows."""
    tag = uuid.uuid4().hex[:8]
    tmp = tmp_path_factory.mktemp("layouts")
    sims, monitors = {}, {}
    try:
        for layout in LAYOUTS:
            sims[layout] = _cli(
                "sensors", "simulate", "--layout", layout, "--seed", "3",
                "--duration", str(MONITOR_S + 120), "--name-prefix", f"lay{tag}-{layout}",
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        for layout in LAYOUTS:  # the table is printed once the outlets exist
            assert sims[layout].stdout.readline().startswith("name")
        listing = subprocess.run(
            [sys.executable, "-m", "labmrt.cli", "sensors", "list", "--json", "--timeout", "2",
             "--name", f"lay{tag}-"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        # the same RR + GSR layout, with EDA pinned to the skin-resistance channel
        monitors["pinned"] = _cli(
            "sensors", "monitor", "--name", f"lay{tag}-rr-gsr-", "--jsonl",
            "--hrv-window", "10", "--eda-window", "10", "--duration", str(MONITOR_S),
            "--timeout", "1.5", "--pin", f"eda=lay{tag}-rr-gsr-gsr:GSR_Skin_Resistance",
            stdout=(tmp / "pinned.out").open("w"), stderr=(tmp / "pinned.err").open("w"),
        )  # fmt: skip
        for layout in LAYOUTS:
            monitors[layout] = _cli(
                "sensors", "monitor", "--name", f"lay{tag}-{layout}-", "--jsonl",
                "--hrv-window", "10", "--eda-window", "10", "--duration", str(MONITOR_S),
                "--timeout", "1.5",
                stdout=(tmp / f"{layout}.out").open("w"),
                stderr=(tmp / f"{layout}.err").open("w"),
            )  # fmt: skip
        out = {}
        for layout, proc in monitors.items():
            proc.wait(timeout=MONITOR_S + 150)  # generous: the machine may be busy
            stdout = (tmp / f"{layout}.out").read_text()
            stderr = (tmp / f"{layout}.err").read_text()
            assert proc.returncode == 0, stderr[-2000:]
            updates = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
            using = [line for line in stderr.splitlines() if line.startswith(("using", "not"))]
            out[layout] = (using, updates, f"lay{tag}-{layout.replace('pinned', 'rr-gsr')}")
        assert listing.returncode == 0, listing.stderr[-2000:]
        out["list"] = [json.loads(line) for line in listing.stdout.splitlines()]
        yield out
    finally:
        for proc in [*monitors.values(), *sims.values()]:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)


def _last_with(updates, *names):
    good = [u for u in updates if all(u["features"].get(n) is not None for n in names)]
    assert good, f"no update with {names}: last reasons {[u['reason'] for u in updates[-3:]]}"
    return good[-1]


def test_hub_counter_first_ecg_in_microvolts(runs):
    using, updates, prefix = runs["hub"]
    assert f"using ECG <- '{prefix}-hub' channel 4 'ECG' [microvolts -> mV (x 0.001)]" in (
        " ".join(using)
    )
    assert any(line.startswith(f"using EDA <- '{prefix}-hub' channel 5 'EDA'") for line in using)
    last = _last_with(updates, "hr", "rmssd", "scl")
    assert 50 < last["features"]["hr"] < 110
    assert 1.0 < last["features"]["scl"] < 8.0  # uS
    assert last["quality"]["ecg"] >= 0.5 and last["quality"]["eda"] >= 0.5


def test_rr_stream_and_two_channel_gsr(runs):
    using, updates, prefix = runs["rr-gsr"]
    joined = "\n".join(using)
    assert f"using IBI <- '{prefix}-rr' channel 0 'RR' [ms -> s (x 0.001)]: typed 'RR'" in joined
    assert f"using EDA <- '{prefix}-gsr' channel 1 'GSR_Skin_Conductance'" in joined
    last = _last_with(updates, "hr", "rmssd", "scl")
    assert 50 < last["features"]["hr"] < 110
    assert 5 < last["features"]["rmssd"] < 200  # ms, from the device's intervals
    assert 1.0 < last["features"]["scl"] < 8.0  # conductance, not the kOhm channel
    assert last["quality"]["ibi"] >= 0.5 and "ecg" not in last["quality"]


def test_heart_rate_only(runs):
    using, updates, prefix = runs["hr-only"]
    joined = "\n".join(using)
    assert f"using HR <- '{prefix}-hr' channel 0 'HR' [bpm (as is)]: typed 'HR'" in joined
    last = _last_with(updates, "hr", "scl")
    assert 50 < last["features"]["hr"] < 110
    assert last["features"]["rmssd"] is None  # no beats, no HRV
    assert last["quality"]["hr"] == 1.0


def test_bitalino_raw_adc_converted_by_the_datasheet_transfer_function(runs):
    using, updates, prefix = runs["bitalino"]
    joined = "\n".join(using)
    assert (
        f"using ECG <- '{prefix}-BITalino' channel 1 'A2' "
        "[raw -> mV: bitalino transfer function, 10-bit]"
    ) in joined
    assert f"using EDA <- '{prefix}-BITalino' channel 2 'A3'" in joined
    last = _last_with(updates, "hr", "scl")
    assert 50 < last["features"]["hr"] < 110
    assert 1.0 < last["features"]["scl"] < 8.0  # uS, not ADC codes (~40-300)
    assert last["quality"]["ecg"] >= 0.5


def test_a_layout_brings_its_own_signals(capsys):
    from labmrt.cli import main

    assert main(["sensors", "simulate", "--layout", "hub", "--ppg", "--duration", "1"]) != 0
    err = capsys.readouterr().err
    assert "--layout hub publishes its own set of signals" in err and "--layout standard" in err


def test_list_shows_which_channel_is_used_and_why(runs):
    rows = {r["name"]: r for r in runs["list"]}
    (hub,) = [r for name, r in rows.items() if name.endswith("-hub-hub")]
    assert [(u["kind"], u["channel"], u["label"]) for u in hub["uses"]] == [
        ("ecg", 4, "ECG"),
        ("eda", 5, "EDA"),
    ]
    assert {i["channel"]: i["reason"] for i in hub["ignored"]} == {
        0: "typed 'Counter': a counter",
        1: "typed 'ACC': a motion sensor",
        2: "typed 'ACC': a motion sensor",
        3: "typed 'ACC': a motion sensor",
    }
    (gsr,) = [r for name, r in rows.items() if name.endswith("-rr-gsr-gsr")]
    assert gsr["ignored"] == [
        {"channel": 0, "label": "GSR_Skin_Resistance", "reason": "EDA is read from channel 1"}
    ]
    selected = [u["kind"] for r in rows.values() for u in r["uses"] if u["selected"]]
    assert sorted(selected) == ["ecg", "eda", "ibi"]  # one per kind; HR only: beats exist


def test_pinned_skin_resistance_channel_is_converted_to_conductance(runs):
    using, updates, prefix = runs["pinned"]
    joined = "\n".join(using)
    assert (
        f"using EDA <- '{prefix}-gsr' channel 0 'GSR_Skin_Resistance' [kOhms -> uS (1000 / x)]: "
        "pinned as eda ([sensors.pins] or --pin)"
    ) in joined
    last = _last_with(updates, "scl")
    assert 1.0 < last["features"]["scl"] < 8.0  # uS again, not kOhm (~125-700)
