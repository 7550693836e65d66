"""The experimenter's console: set up, watch and steer a session.

The console holds no session logic. It collects the set-up (study folder,
protocol, participant code, streams), hands it to a :class:`SessionHost`
(:mod:`ui.session.host`) that owns the engine, the sensors and the participant
screen, and then only mirrors what the engine announces through the
:class:`~ui.session.EngineBridge`: phase and countdown, progress, the decision
log, stream problems, the final summary. Operator actions (pause, resume,
abort, close) go back through the host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from labmrt.errors import LabmrtError
from labmrt.session.clock import ClockFn, lsl_clock
from sensors.state import calibration_problems, describe_calibration
from ui.console.dialogs import AbortDialog, ResumeDialog, SummaryDialog
from ui.console.streams import StreamPicker
from ui.session import EngineBridge
from ui.widgets import (
    OPERATOR_STYLE,
    DecisionLogModel,
    DecisionLogView,
    Job,
    LiveSignals,
    StreamTable,
    button,
    format_clock,
    run_in_background,
    show_error,
)

#: The console's title for each calibration phase.
PHASE_TITLES = {
    "rest": "Calibration: rest",
    "stressor": "Calibration: stressor",
    "break": "Break",
    "task": "Tasks",
    "calibration": "Calibration",
}


class SessionHost(Protocol):
    """What the console needs from whoever runs the session (:class:`ui.session.LabSessionHost`)."""

    bridge: EngineBridge

    @property
    def active(self) -> bool: ...

    def start(self, setup: dict[str, Any]) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def abort(self, reason: str) -> None: ...
    def interrupt(self) -> None: ...
    def summary(self) -> dict[str, Any]: ...
    def interrupted_sessions(self, study_dir: Path) -> list[Any]: ...
    def start_simulated_sensors(self) -> list: ...
    def connect_streams(self, descriptions: list, protocol: Any = None) -> tuple[list, Any]: ...


def study_version_warnings_of(study: str) -> list[str]:
    """The software-version warnings of a study folder (any thread; [] when there is none).

    A long study must run the same software throughout; a changed package is visible
    in the console before the next session starts. Reads only the sessions table.
    """
    from labmrt.store import DB_NAME, StudyStore
    from labmrt.store.provenance import study_version_warnings

    if not study or not (Path(study) / DB_NAME).is_file():
        return []
    try:
        with StudyStore.open(study, readonly=True, check=False) as store:
            return study_version_warnings(store.software())
    except LabmrtError:
        return []  # unreadable or old study: starting a session reports why


def bundled_protocols(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.toml")) if folder.is_dir() else []


class ConsoleWindow(QMainWindow):
    """The operator's main window."""

    analysis_requested = Signal()
    sample_size_requested = Signal()
    closed = Signal()

    def __init__(
        self,
        host: SessionHost,
        *,
        protocols_dir: Path | None = None,
        study_dir: Path | None = None,
        clock: ClockFn = lsl_clock,
        parent=None,
    ):
        super().__init__(parent)
        self.host = host
        self._clock = clock
        self.protocol = None
        self.protocol_path: Path | None = None
        self.phase: tuple[str, float, float | None] | None = None
        self.status = "idle"
        self.pause_requested = False  # asked for; the engine pauses when the task ends
        self.summary_dialog: SummaryDialog | None = None
        self._force_close = False
        self.setObjectName("console_window")
        self.setWindowTitle("labmrt: experimenter console")
        self.setStyleSheet(OPERATOR_STYLE)
        self.resize(1400, 860)
        self.setMinimumSize(1000, 640)

        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(8, 8, 8, 8)
        column.addWidget(self._study_group(protocols_dir, study_dir))
        column.addWidget(self._participant_group())
        column.addWidget(self._streams_group())
        column.addWidget(self._session_group())
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(420)
        scroll.setMaximumWidth(560)

        right = QWidget()
        right_box = QVBoxLayout(right)
        right_box.setContentsMargins(4, 8, 8, 8)
        self.warning = QLabel("")
        self.warning.setObjectName("warning_banner")
        self.warning.setWordWrap(True)
        self.warning.setVisible(False)
        right_box.addWidget(self.warning)
        splitter = QSplitter(Qt.Vertical)
        live = QWidget()
        live_box = QVBoxLayout(live)
        live_box.setContentsMargins(0, 0, 0, 0)
        self.live = LiveSignals()
        self.stream_table = StreamTable()
        self.stream_table.setMaximumHeight(120)
        live_box.addWidget(self.live, 1)
        live_box.addWidget(self.stream_table)
        splitter.addWidget(live)
        log_box = QGroupBox("Decision log")
        log_layout = QVBoxLayout(log_box)
        self.log_model = DecisionLogModel(self)
        self.log_view = DecisionLogView(self.log_model)
        log_layout.addWidget(self.log_view)
        splitter.addWidget(log_box)
        log_box.setMinimumHeight(170)
        splitter.setSizes([500, 320])
        right_box.addWidget(splitter, 1)

        central = QSplitter(Qt.Horizontal)
        central.addWidget(scroll)
        central.addWidget(right)
        central.setStretchFactor(1, 1)
        central.setSizes([440, 960])
        self.setCentralWidget(central)
        self._actions()

        self._countdown = QTimer(self)
        self._countdown.setInterval(250)
        self._countdown.timeout.connect(self._tick)
        self._stream_timer = QTimer(self)
        self._stream_timer.setInterval(1000)
        self._stream_timer.timeout.connect(self._update_streams)
        self.buffers: list = []
        self.calibration_problem: str | None = None
        self.calibration_note: str = ""  # how well rest and stressor separated, warnings
        self._sensor_job: Job | None = None
        self._summary_job: Job | None = None
        self._connect_bridge(host.bridge)
        if self.protocol_combo.count():
            self._protocol_chosen(self.protocol_combo.currentIndex())
        self.check_study_versions()
        self._update_buttons()

    # ------------------------------------------------------------------ layout
    def _study_group(self, protocols_dir: Path | None, study_dir: Path | None) -> QGroupBox:
        group = QGroupBox("Study")
        form = QFormLayout(group)
        row = QHBoxLayout()
        self.study_edit = QLineEdit(str(study_dir) if study_dir else "")
        self.study_edit.setObjectName("study_dir")
        self.study_edit.setPlaceholderText("folder that holds (or will hold) labmrt.sqlite")
        browse = button("Browse…", self._browse_study)
        row.addWidget(self.study_edit, 1)
        row.addWidget(browse)
        form.addRow("Study folder", row)
        self.study_edit.editingFinished.connect(self.check_study_versions)
        self.study_edit.textChanged.connect(self._update_buttons)
        self.version_warning = QLabel("")
        self.version_warning.setObjectName("version_warning")
        self.version_warning.setStyleSheet("color: #8a5300;")
        self.version_warning.setWordWrap(True)
        self.version_warning.setVisible(False)
        form.addRow(self.version_warning)
        row = QHBoxLayout()
        self.protocol_combo = QComboBox()
        self.protocol_combo.setObjectName("protocol_combo")
        for path in bundled_protocols(protocols_dir) if protocols_dir else []:
            self.protocol_combo.addItem(path.name, str(path))
        self.protocol_combo.currentIndexChanged.connect(self._protocol_chosen)
        open_protocol = button("Open…", self._browse_protocol)
        row.addWidget(self.protocol_combo, 1)
        row.addWidget(open_protocol)
        form.addRow("Protocol", row)
        self.protocol_summary = QPlainTextEdit()
        self.protocol_summary.setObjectName("protocol_summary")
        self.protocol_summary.setReadOnly(True)
        self.protocol_summary.setMaximumHeight(150)
        self.protocol_summary.setLineWrapMode(QPlainTextEdit.NoWrap)
        form.addRow(self.protocol_summary)
        self.problems = QListWidget()
        self.problems.setObjectName("protocol_problems")
        self.problems.setStyleSheet("color: #b3261e;")
        self.problems.setWordWrap(True)
        self.problems.setVisible(False)
        self.problems.setMaximumHeight(140)
        form.addRow(self.problems)
        return group

    def _participant_group(self) -> QGroupBox:
        group = QGroupBox("Participant")
        form = QFormLayout(group)
        self.participant_edit = QLineEdit()
        self.participant_edit.setObjectName("participant_code")
        self.participant_edit.setPlaceholderText("code such as P07 (never a name)")
        self.participant_edit.textChanged.connect(self._update_buttons)
        form.addRow("Code", self.participant_edit)
        self.labrecorder_edit = QLineEdit()
        self.labrecorder_edit.setObjectName("labrecorder")
        self.labrecorder_edit.setPlaceholderText("host:22345 (else the protocol's [recording])")
        form.addRow("LabRecorder", self.labrecorder_edit)
        row = QHBoxLayout()
        self.start_button = button("Start session  (F5)", self.start_session, name="start_session")
        self.resume_session_button = button(
            "Resume interrupted…", self.resume_interrupted, name="resume_interrupted"
        )
        row.addWidget(self.start_button)
        row.addWidget(self.resume_session_button)
        form.addRow(row)
        return group

    def _streams_group(self) -> QGroupBox:
        group = QGroupBox("Streams")
        box = QVBoxLayout(group)
        self.picker = StreamPicker()
        self.picker.simulate_requested.connect(self.start_simulated_sensors)
        box.addWidget(self.picker)
        self.connect_button = button(
            "Connect selected streams", self.connect_selected_streams, name="connect_streams"
        )
        box.addWidget(self.connect_button)
        return group

    def _session_group(self) -> QGroupBox:
        group = QGroupBox("Session")
        box = QVBoxLayout(group)
        self.status_label = QLabel("No session running")
        self.status_label.setObjectName("session_status")
        self.phase_label = QLabel("")
        self.phase_label.setObjectName("phase_label")
        self.phase_bar = QProgressBar()
        self.phase_bar.setObjectName("phase_countdown")
        self.phase_bar.setVisible(False)
        self.progress_label = QLabel("")
        self.progress_label.setObjectName("progress_label")
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("task_progress")
        self.progress_bar.setFormat("%v of %m tasks")
        self.progress_bar.setVisible(False)
        for w in (
            self.status_label,
            self.phase_label,
            self.phase_bar,
            self.progress_label,
            self.progress_bar,
        ):
            box.addWidget(w)
        row = QHBoxLayout()
        self.pause_button = button("Pause  (Ctrl+P)", self.toggle_pause, name="pause_session")
        self.abort_button = button(
            "Abort…  (Ctrl+Shift+A)", self.abort_session, name="abort_session"
        )
        row.addWidget(self.pause_button)
        row.addWidget(self.abort_button)
        box.addLayout(row)
        return group

    def _actions(self) -> None:
        def action(text: str, shortcut: str, slot, menu) -> QAction:
            act = QAction(text, self)
            act.setShortcut(QKeySequence(shortcut))
            act.setShortcutContext(Qt.WindowShortcut)  # never from the participant screen
            act.triggered.connect(slot)
            menu.addAction(act)
            self.addAction(act)
            return act

        session = self.menuBar().addMenu("&Session")
        self.act_start = action("Start session", "F5", self.start_session, session)
        self.act_pause = action("Pause / resume", "Ctrl+P", self.toggle_pause, session)
        self.act_abort = action("Abort…", "Ctrl+Shift+A", self.abort_session, session)
        session.addSeparator()
        action("Find streams", "Ctrl+L", self.picker.refresh, session)
        action("Start simulated sensors", "Ctrl+Shift+S", self.start_simulated_sensors, session)
        session.addSeparator()
        action("Quit", "Ctrl+Q", self.close, session)
        view = self.view_menu = self.menuBar().addMenu("&View")
        action("Analysis…", "Ctrl+E", self.analysis_requested.emit, view)
        action("Sample size…", "Ctrl+Shift+N", self.sample_size_requested.emit, view)

    # ------------------------------------------------------------------ set-up
    def _browse_study(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Study folder", self.study_edit.text())
        if folder:
            self.study_edit.setText(folder)
            self.check_study_versions()

    def check_study_versions(self) -> list[str]:
        """Warn when the study's sessions, or this workstation, ran other software versions.

        A long study must run the same software throughout; a changed package is visible
        here before the next session starts. Reads only the sessions table (no integrity
        check), so it stays quick on the GUI thread.
        """
        warnings = study_version_warnings_of(self.study_edit.text().strip())
        self.show_version_warnings(warnings)
        return warnings

    def show_version_warnings(self, warnings: list[str]) -> None:
        self.version_warning.setText("\n".join(f"Warning: {w}" for w in warnings))
        self.version_warning.setVisible(bool(warnings))

    def _browse_protocol(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Protocol", "", "Protocols (*.toml)")
        if path:
            self.load_protocol(Path(path))

    def _protocol_chosen(self, index: int) -> None:
        data = self.protocol_combo.itemData(index)
        if data:
            self.load_protocol(Path(data))

    def load_protocol(self, path: Path) -> bool:
        """Load and validate; list every problem when it is not valid."""
        from labmrt.protocol import load_protocol

        if self.protocol_combo.findData(str(path)) < 0:
            self.protocol_combo.blockSignals(True)
            self.protocol_combo.addItem(path.name, str(path))
            self.protocol_combo.setCurrentIndex(self.protocol_combo.count() - 1)
            self.protocol_combo.blockSignals(False)
        self.problems.clear()
        try:
            protocol = load_protocol(path)
        except LabmrtError as err:
            self.protocol, self.protocol_path = None, None
            self.problems.addItems([p.format() for p in err.problems])
            self.problems.setVisible(True)
            self.protocol_summary.setPlainText(f"{path.name} has problems; fix them and reload.")
            self._update_buttons()
            return False
        self.protocol, self.protocol_path = protocol, path
        # a calibration too short for the classifier: `labmrt validate` refuses the protocol;
        # here a session may still be tried, with the state unknown, so it is a warning
        warnings = [f"warning: {p.format()}" for p in calibration_problems(protocol)]
        self.problems.addItems(warnings)
        self.problems.setVisible(bool(warnings))
        self.protocol_summary.setPlainText(protocol.summary_text())
        self._update_buttons()
        return True

    def _setup(self) -> dict[str, Any] | None:
        from labmrt.store import validate_participant_code

        study = self.study_edit.text().strip()
        if not study:
            show_error(self, "No study folder", "Choose the study folder first.")
            return None
        if self.protocol is None:
            show_error(self, "No valid protocol", "Choose a protocol without problems.")
            return None
        try:
            code = validate_participant_code(self.participant_edit.text().strip())
        except LabmrtError as err:
            show_error(self, "Participant code", err.message)
            return None
        return {
            "study_dir": Path(study),
            "protocol": self.protocol,
            "protocol_path": self.protocol_path,
            "participant": code,
            "streams": list(self.buffers),
        }

    # ------------------------------------------------------------------ streams
    def start_simulated_sensors(self) -> Job:
        """Start simulated sensors and connect them, in the background (it takes a second)."""
        self.picker.simulate_button.setEnabled(False)
        self.picker.status.setText("Starting simulated sensors…")

        def start() -> tuple[list, tuple]:
            descriptions = self.host.start_simulated_sensors()
            return descriptions, self.host.connect_streams(descriptions)

        def done(result) -> None:
            descriptions, (buffers, state_getter) = result
            self.picker.set_streams(descriptions)
            self.picker.status.setText(f"Simulated sensors running ({len(descriptions)} streams)")
            self.set_buffers(buffers, state_getter)

        def failed(message: str, details: str) -> None:
            self.picker.simulate_button.setEnabled(True)
            self.picker.status.setText("")
            show_error(self, "Simulated sensors", message, details)

        self._sensor_job = run_in_background(start, on_done=done, on_error=failed)
        return self._sensor_job

    def connect_selected_streams(self) -> Job | None:
        """Open the ticked streams through the live monitor, in the background."""
        chosen = self.picker.selected()
        if not chosen:
            show_error(self, "No streams", "Tick at least one stream, or simulate sensors.")
            return None
        self.connect_button.setEnabled(False)
        self.picker.status.setText("Connecting…")

        def failed(message: str, details: str) -> None:
            show_error(self, "Streams", message, details)

        # the protocol's [sensors.pins] choose the channels (checked against these streams)
        sensors = getattr(self.protocol, "sensors", None)
        pinned = {"protocol": self.protocol} if getattr(sensors, "pins", None) else {}
        job = run_in_background(
            self.host.connect_streams,
            chosen,
            on_done=lambda result: self.set_buffers(*result),
            on_error=failed,
            **pinned,
        )
        job.ended.connect(self._update_buttons)
        self._sensor_job = job
        return job

    def set_buffers(self, buffers: list, state_getter=None) -> None:
        self.buffers = list(buffers)
        self.live.set_sources(self.buffers, state_getter)
        self._stream_timer.start()
        self._update_streams()
        self._update_buttons()

    def _update_streams(self) -> None:
        state = self.live.last_state
        self.stream_table.show_streams(self.buffers, state.quality if state else None)
        lost = [b.name for b in self.buffers if b.state not in ("streaming", "connecting")]
        poor = []
        if state is not None:
            poor = [k for k, q in state.quality.items() if q is not None and q < 0.5]
        messages = []
        if lost:
            messages.append("Stream lost: " + ", ".join(lost))
        if poor:
            messages.append("Poor signal quality: " + ", ".join(k.upper() for k in poor))
        if messages and self.host.active:
            messages.append("the participant counts as unavailable until it recovers")
        messages += getattr(self.host, "recording_alerts", list)()
        if self.calibration_note:
            messages.append(self.calibration_note[0].upper() + self.calibration_note[1:])
        elif self.calibration_problem:
            messages.append(
                f"Calibration failed, the state stays unknown: {self.calibration_problem}"
            )
        self.set_warning("; ".join(messages))

    def set_warning(self, text: str) -> None:
        self.warning.setText(text)
        self.warning.setVisible(bool(text))

    # ------------------------------------------------------------------ session
    def start_session(self, *, resume_of: int | None = None) -> bool:
        if self.host.active:
            return False
        setup = self._setup()
        if setup is None:
            return False
        setup["resume_of"] = resume_of
        setup["labrecorder"] = self.labrecorder_edit.text().strip()
        start_in_background = getattr(self.host, "start_in_background", None)
        try:
            if start_in_background is not None:
                # the study database is opened and the session row written off the GUI thread
                start_in_background(setup, self._update_buttons, self._start_failed)
            else:
                self.host.start(setup)
        except LabmrtError as err:
            show_error(self, "Cannot start the session", err.message)
            return False
        self.log_model.clear(t0=float(self._clock()))
        self.pause_requested = False
        self._stream_timer.start()  # the warnings (LabRecorder's too) follow the session
        self.calibration_problem = None
        self.calibration_note = ""
        self.status = "starting"
        self.status_label.setText(f"Session of {setup['participant']} starting…")
        self.statusBar().showMessage(f"Study folder: {setup['study_dir']}")
        self._update_buttons()
        return True

    def _start_failed(self, message: str, details: str) -> None:
        self.status = "idle"
        self.status_label.setText("No session running")
        self._update_buttons()
        show_error(self, "Cannot start the session", message, details)

    def resume_interrupted(self) -> None:
        study = self.study_edit.text().strip()
        if not study:
            show_error(self, "No study folder", "Choose the study folder first.")
            return
        try:
            found = self.host.interrupted_sessions(Path(study))
        except LabmrtError as err:
            show_error(self, "Study folder", err.message)
            return
        if not found:
            QMessageBox.information(self, "Resume", "No interrupted session in this study folder.")
            return
        dialog = ResumeDialog(found, self)
        if dialog.exec() == QDialog.Accepted and dialog.chosen is not None:
            info = dialog.chosen
            self.participant_edit.setText(info.participant)
            self.start_session(resume_of=info.id)

    def toggle_pause(self) -> None:
        """Pause after the running task, cancel that request, or resume a pause.

        The engine never cuts a task short, so a pause starts when the running task
        (or the calibration) ends: the console says at once that it was asked for.
        """
        if not self.host.active:
            return
        if self.status == "paused" or self.pause_requested:
            self.pause_requested = False
            self.host.resume()
            if self.status != "paused":
                self._on_status(self.status, 0.0, "")
        else:
            self.host.pause()
            self.pause_requested = True
            when = "calibration" if self.phase and self.phase[0] in ("rest", "stressor") else "task"
            self.status_label.setText(f"Pause requested: the session pauses when this {when} ends")
            self.pause_button.setText("Cancel pause  (Ctrl+P)")

    def abort_session(self) -> None:
        if not self.host.active:
            return
        dialog = AbortDialog(self)
        self._abort_dialog = dialog
        if dialog.exec() == QDialog.Accepted:
            self.host.abort(dialog.reason_text())

    # ------------------------------------------------------------------ engine signals
    def _connect_bridge(self, bridge: EngineBridge) -> None:
        bridge.status_changed.connect(self._on_status)
        bridge.phase_started.connect(self._on_phase_started)
        bridge.phase_ended.connect(self._on_phase_ended)
        bridge.decision_made.connect(self.log_model.add_decision)
        bridge.task_ended.connect(self._on_task_ended)
        bridge.progress.connect(self._on_progress)
        bridge.failed.connect(self._on_failed)
        bridge.ended.connect(self._on_ended)

    def _on_status(self, status: str, t: float, reason: str) -> None:
        self.status = status
        if status != "running" and status != "starting":
            self.pause_requested = False  # paused (or over): the request was served
        text = {
            "running": "Running",
            "paused": "Paused",
            "resumed": "Running (resumed)",
            "completed": "Completed",
            "aborted": "Aborted",
            "incomplete": "Incomplete",
        }.get(status, status)
        self.status_label.setText(text + (f": {reason}" if reason else ""))
        if self.pause_requested:  # a status line while waiting for the task to end
            self.status_label.setText("Pause requested: the session pauses when this task ends")
            self.pause_button.setText("Cancel pause  (Ctrl+P)")
        else:
            self.pause_button.setText(
                "Resume  (Ctrl+P)" if status == "paused" else "Pause  (Ctrl+P)"
            )
        self._update_buttons()

    def _on_phase_started(self, phase: str, t: float, duration_s) -> None:
        self.phase = (phase, t, duration_s)
        self.phase_label.setText(PHASE_TITLES.get(phase, phase))
        if phase == "task" and self.protocol is not None and not self.progress_bar.isVisible():
            self._on_progress(0, len(self.protocol.tasks))
        if phase == "task":
            problem = getattr(self.host, "calibration_problem", None)
            self.calibration_problem = problem() if callable(problem) else None
            summary = getattr(self.host, "calibration_summary", None)
            self.calibration_note = describe_calibration(summary() if callable(summary) else None)
            self._update_streams()
        timed = duration_s is not None and duration_s > 0 and phase != "task"
        self.phase_bar.setVisible(timed)
        if timed:
            self.phase_bar.setRange(0, int(duration_s * 10))
            self._countdown.start()
            self._tick()
        else:
            self._countdown.stop()

    def _on_phase_ended(self, phase: str, t: float) -> None:
        if self.phase and self.phase[0] == phase:
            self.phase = None
            self._countdown.stop()
            self.phase_bar.setVisible(False)
            self.phase_label.setText("")

    def _tick(self) -> None:
        if not self.phase or self.phase[2] is None:
            return
        phase, start, duration = self.phase
        elapsed = float(self._clock()) - start
        left = max(0.0, duration - elapsed)
        self.phase_bar.setValue(int(min(duration, max(0.0, elapsed)) * 10))
        self.phase_bar.setFormat(f"{format_clock(left)} left")

    def _on_task_ended(self, presentation: dict) -> None:
        point = presentation.get("decision_point")
        if point is not None:
            self.log_model.set_received(point, presentation.get("received"))

    def _on_progress(self, done: int, total: int) -> None:
        self.progress_label.setText(f"Task {min(done + 1, total)} of {total}")
        self.progress_bar.setVisible(True)
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)

    def _on_failed(self, message: str) -> None:
        show_error(
            self,
            "The session stopped",
            f"{message}\nEverything recorded before is kept; resume the session once fixed.",
        )

    def _on_ended(self, status: str, reason: str) -> None:
        self.status = status
        self._countdown.stop()
        self.phase_bar.setVisible(False)
        self.phase_label.setText("")
        self._update_buttons()
        counts = self.log_model.counts()
        status_text = status + (f" ({reason})" if reason else "")
        study = self.study_edit.text().strip()
        self.statusBar().showMessage("Session ended; writing the last samples…")

        def finish() -> tuple[dict, list[str]]:
            return self.host.summary(), study_version_warnings_of(study)

        def done(result: tuple[dict, list[str]]) -> None:
            summary, warnings = result
            self.show_version_warnings(warnings)
            self.statusBar().showMessage(f"Session ended: {status_text}")
            self.show_summary({**counts, **summary, "status": status_text})

        def failed(message: str, details: str) -> None:
            # the decision log's counts are still worth showing
            self.show_summary({**counts, "status": status_text})
            show_error(self, "Session summary", message, details)

        # The summary stops the raw-sample recorder (a join of up to 5 s and a last copy)
        # and counts rows in SQLite: on a pool thread, never on the GUI thread.
        self._summary_job = run_in_background(finish, on_done=done, on_error=failed)

    def show_summary(self, summary: dict) -> SummaryDialog:
        self.summary_dialog = SummaryDialog(summary, self)
        self.summary_dialog.open()
        return self.summary_dialog

    # ------------------------------------------------------------------ state
    def _update_buttons(self) -> None:
        active = self.host.active
        ready = self.protocol is not None and bool(self.participant_edit.text().strip())
        self.start_button.setEnabled(ready and not active)
        self.act_start.setEnabled(ready and not active)
        self.resume_session_button.setEnabled(not active)
        self.pause_button.setEnabled(active)
        self.abort_button.setEnabled(active)
        self.protocol_combo.setEnabled(not active)
        self.participant_edit.setEnabled(not active)
        self.study_edit.setEnabled(not active)
        busy = self._sensor_job is not None and self._sensor_job.running
        self.connect_button.setEnabled(not active and not busy)
        if not active:
            self.statusBar().showMessage(self.setup_hint())

    def setup_hint(self) -> str:
        """What is left to do before a session can start (the status bar, between sessions)."""
        sensors = getattr(self.protocol, "sensors", None)
        if not self.study_edit.text().strip():
            return "Choose a study folder (Browse…), then a protocol."
        if self.protocol is None:
            return "Choose a protocol without problems (the list under Protocol names them)."
        if not self.participant_edit.text().strip():
            return "Enter the participant's code, then press F5 to start the session."
        if sensors is not None and sensors.streams and not self.buffers:
            return "Connect the streams (or start simulated sensors), then press F5."
        return f"Ready: press F5 to start the session of {self.participant_edit.text().strip()}."

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self.host.active and not self._force_close:
            answer = QMessageBox.question(
                self,
                "A session is running",
                "Close labmrt now? The session stops here and stays resumable: "
                "start labmrt again and use 'Resume interrupted…'.",
                QMessageBox.Yes | QMessageBox.No,
                QMessageBox.No,
            )
            if answer != QMessageBox.Yes:
                event.ignore()
                return
            self.host.interrupt()
        self.live.stop()
        self._stream_timer.stop()
        event.accept()
        self.closed.emit()
