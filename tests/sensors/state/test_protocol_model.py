"""The protocol option ``[sensors] classifier = "MODEL"`` replaces calibration by a trained model."""

from pathlib import Path

import numpy as np
import pytest
from test_classifier import _table  # same folder: pytest puts it on sys.path

from labmrt.errors import LabmrtError
from labmrt.protocol import load_protocol
from sensors.state import AffectClassifier, monitor_for_protocol, train_from_table

MINIMAL = Path(__file__).resolve().parents[3] / "protocols" / "minimal.toml"


def _protocol_with(tmp_path: Path, classifier: str, calibration: bool = False):
    text = MINIMAL.read_text(encoding="utf-8")
    if calibration:
        text += "\n[calibration]\nrest_s = 60\n"
    text += f'\n[sensors]\nstreams = ["ecg", "eda"]\nclassifier = "{classifier}"\nwindow_s = 20\n'
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    return load_protocol(path)


def test_trained_model_named_by_the_protocol_drives_the_monitor(tmp_path):
    clf, _ = train_from_table(_table(np.random.default_rng(3)), "label")
    clf.save(tmp_path / "model.json")
    protocol = _protocol_with(tmp_path, "model.json")  # relative to the protocol file

    monitor = monitor_for_protocol([], protocol)

    loaded = AffectClassifier.load(tmp_path / "model.json")
    assert monitor.classifier.is_calibrated
    assert monitor.classifier.to_dict() == loaded.to_dict()
    # no calibration phase needed: the loaded model classifies at once
    row = {"hr": 70.0, "rmssd": 50.0, "sdnn": 45.0, "scl": 3.0, "scr_rate": 1.0}
    assert monitor.classifier.predict(row).label == loaded.predict(row).label != "unknown"


def test_calibration_protocol_starts_uncalibrated(tmp_path):
    protocol = _protocol_with(tmp_path, "calibration", calibration=True)
    monitor = monitor_for_protocol([], protocol)
    assert not monitor.classifier.is_calibrated


def test_missing_model_file_is_a_clear_error_when_the_protocol_loads(tmp_path):
    with pytest.raises(LabmrtError) as err:
        _protocol_with(tmp_path, "nowhere.json")
    assert "sensors.classifier" in err.value.message
    assert "not found" in err.value.message
    assert "labmrt sensors train" in err.value.message


def test_unreadable_model_file_stops_the_setup(tmp_path):
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    protocol = _protocol_with(tmp_path, "broken.json")
    with pytest.raises(LabmrtError) as err:
        monitor_for_protocol([], protocol)
    assert "cannot read the model" in err.value.message
