"""The console warns when a study's sessions ran with different software versions."""

from __future__ import annotations

from labmrt.session.events import EngineSignals
from labmrt.store import StudyStore
from labmrt.store.provenance import software_versions
from ui.console import ConsoleWindow
from ui.session import EngineBridge


class Host:
    def __init__(self):
        self.bridge = EngineBridge()
        self.bridge.attach(EngineSignals())
        self.active = False


class FakeProtocol:
    content_hash = "sha256:abc"

    def canonical_text(self) -> str:
        return 'name = "demo"\n'


def test_mixed_versions_show_a_warning_under_the_study_folder(qtbot, tmp_path, protocols_dir):
    study = tmp_path / "study"
    with StudyStore.open(study, create=True) as st:
        st.create_session("P01", FakeProtocol(), started_t=0.0)
    window = ConsoleWindow(Host(), protocols_dir=protocols_dir, study_dir=study)
    qtbot.addWidget(window)
    window.show()
    assert not window.version_warning.isVisible()  # one software throughout: no warning

    with StudyStore.open(study) as st:
        st.create_session(
            "P02",
            FakeProtocol(),
            started_t=1.0,
            software={**software_versions(), "pandas": "2.2.3"},
        )
    window.study_edit.setText(str(study))
    window.study_edit.editingFinished.emit()
    assert window.version_warning.isVisible()
    text = window.version_warning.text()
    assert "different software versions" in text and "2.2.3 (session 2)" in text
    assert "This workstation runs other software than session 2: pandas 2.2.3 ->" in text

    window.study_edit.setText(str(tmp_path / "new_study"))
    window.study_edit.editingFinished.emit()
    assert not window.version_warning.isVisible()
