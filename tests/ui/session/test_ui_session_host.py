"""The session host with the real engine: pause and resume, close mid-session, resume later."""

from __future__ import annotations

from PySide6.QtCore import Qt

from labmrt.protocol import load_protocol
from labmrt.store import StudyStore
from ui.participant import ParticipantWindow
from ui.session import LabSessionHost

PROTOCOL = """
[study]
title = "Host test"
version = "1"

[[arms]]
id = "neutral"
label = "Neutral wording"
framing = "{task}"
baseline = true

[[arms]]
id = "gain"
label = "Gain framing"
framing = "Keep more. {task}"

[randomization]
seed = 5
probabilities = { neutral = 0.5, gain = 0.5 }

[[features]]
id = "notes"
label = "Notes"
kind = "notes"
""" + "".join(
    f'\n[[tasks]]\nid = "t{i}"\ntext = "Question {i}: type any word."\n' for i in range(4)
)


def answer(qtbot, window, k, text="ok"):
    qtbot.waitUntil(
        lambda: (
            window.task_view is not None
            and window.task_view.task.task_index == k
            and not window.task_view._done
        ),
        timeout=8000,
    )
    qtbot.keyClicks(window.task_view.answer_edit, text)
    qtbot.keyClick(window.task_view.answer_edit, Qt.Key_Return)


def test_pause_close_and_resume_later(qtbot, tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(PROTOCOL)
    protocol = load_protocol(path)
    study = tmp_path / "study"
    setup = {"study_dir": study, "protocol": protocol, "participant": "P05", "streams": []}

    window = ParticipantWindow()
    qtbot.addWidget(window)
    window.show()
    host = LabSessionHost(window, markers=False)
    statuses = []
    host.bridge.status_changed.connect(lambda s, t, r: statuses.append(s))
    host.start(setup)
    assert "Press Start" in window.visible_text()
    assert "Tools are there for you to use as you like: notes." in window.visible_text()
    window.close()  # the participant cannot close their screen
    assert window.isVisible()
    qtbot.keyClick(window.message, Qt.Key_Space)
    answer(qtbot, window, 0)
    # Pause during task 2: the break starts once task 2 is answered.
    qtbot.waitUntil(lambda: window.task_view.task.task_index == 1, timeout=8000)
    host.pause()
    answer(qtbot, window, 1)
    qtbot.waitUntil(lambda: "Short break" in window.visible_text(), timeout=8000)
    qtbot.waitUntil(lambda: "paused" in statuses, timeout=5000)
    host.resume()
    qtbot.waitUntil(lambda: "resumed" in statuses, timeout=5000)
    qtbot.waitUntil(lambda: window.task_view.task.task_index == 2, timeout=8000)
    sid = host.engine.session_id
    host.interrupt()  # the app closes during task 3
    assert not host.active

    with StudyStore.open(study, readonly=True) as store:
        open_ = store.interrupted_sessions()
        assert [s.id for s in open_] == [sid]
        assert len(store.presentations(sid)) == 2

    window2 = ParticipantWindow()
    qtbot.addWidget(window2)
    window2.show()
    host2 = LabSessionHost(window2, markers=False)
    assert [s.id for s in host2.interrupted_sessions(study)] == [sid]
    ended = []
    host2.bridge.ended.connect(lambda s, r: ended.append(s))
    host2.start({**setup, "resume_of": sid})
    qtbot.keyClick(window2.message, Qt.Key_Space)
    answer(qtbot, window2, 3, "last")  # task 3 was running at the close: not repeated
    qtbot.waitUntil(lambda: ended == ["completed"], timeout=8000)
    sid2 = host2.engine.session_id
    summary = host2.summary()
    assert summary["written"]["decisions"] == 1
    host2.shutdown()
    host.shutdown()

    with StudyStore.open(study, readonly=True) as store:
        sessions = store.sessions().set_index("session")
        assert sessions.loc[sid, "status"] == "incomplete"
        assert sessions.loc[sid2, "status"] == "completed"
        assert store.session_info(sid2).resume_of == sid
        dps = list(store.decisions(sid)["decision_point"]) + list(
            store.decisions(sid2)["decision_point"]
        )
        assert dps == [0, 1, 2, 3]
        assert list(store.presentations(sid2)["answer"]) == ["last"]
