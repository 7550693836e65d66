"""The console's dialogs: abort with a reason, the session summary, resume an interrupted one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)


class AbortDialog(QDialog):
    """Asks for confirmation and a reason before a session is aborted."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("abort_dialog")
        self.setWindowTitle("Abort the session?")
        layout = QVBoxLayout(self)
        text = QLabel(
            "Aborting ends the session now. Everything recorded so far stays in the study "
            "folder and the session is marked as aborted. Please give a reason:"
        )
        text.setWordWrap(True)
        layout.addWidget(text)
        self.reason = QPlainTextEdit()
        self.reason.setObjectName("abort_reason")
        self.reason.setPlaceholderText("e.g. participant felt unwell")
        self.reason.setMaximumHeight(80)
        layout.addWidget(self.reason)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.abort_button = self.buttons.addButton("Abort session", QDialogButtonBox.AcceptRole)
        self.abort_button.setObjectName("confirm_abort")
        self.abort_button.setEnabled(False)
        self.reason.textChanged.connect(
            lambda: self.abort_button.setEnabled(bool(self.reason.toPlainText().strip()))
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def reason_text(self) -> str:
        return self.reason.toPlainText().strip()


class SummaryDialog(QDialog):
    """End of session: decision points, availability, arms drawn, data written."""

    def __init__(self, summary: Mapping[str, Any], parent=None):
        super().__init__(parent)
        self.setObjectName("summary_dialog")
        self.setWindowTitle("Session summary")
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        title = QLabel(summary.get("title", "Session finished"))
        title.setStyleSheet("font-size: 16px; font-weight: 600;")
        layout.addWidget(title)
        form = QFormLayout()
        rate = summary.get("availability_rate")
        arms = summary.get("arms") or {}
        rows = [
            ("Participant", summary.get("participant", "")),
            ("Status", summary.get("status", "")),
            ("Decision points", str(summary.get("decision_points", 0))),
            (
                "Available",
                f"{summary.get('available', 0)}"
                + (f"  ({rate:.0%})" if isinstance(rate, float) and rate == rate else ""),
            ),
            ("Arms drawn", ",  ".join(f"{a}: {n}" for a, n in arms.items()) or "none"),
            ("Framing received", str(summary.get("received", 0))),
            ("Study folder", str(summary.get("study_dir", ""))),
        ]
        self.values: dict[str, str] = {}
        for label, value in rows:
            widget = QLabel(value)
            widget.setWordWrap(True)
            form.addRow(label, widget)
            self.values[label] = value
        layout.addLayout(form)
        written = summary.get("written") or {}
        if written:
            layout.addWidget(QLabel("Data written:"))
            items = QListWidget()
            items.setObjectName("summary_written")
            items.addItems([f"{name}: {count}" for name, count in written.items()])
            items.setMaximumHeight(24 * len(written) + 8)
            layout.addWidget(items)
            self.values["written"] = ", ".join(f"{k}={v}" for k, v in written.items())
        buttons = QDialogButtonBox(QDialogButtonBox.Ok)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)


class ResumeDialog(QDialog):
    """Pick one of the interrupted sessions of the study folder."""

    def __init__(self, sessions: list, parent=None):
        super().__init__(parent)
        self.setObjectName("resume_dialog")
        self.setWindowTitle("Resume an interrupted session")
        self.sessions = list(sessions)
        self.chosen = None
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Interrupted sessions in this study folder:"))
        self.list = QListWidget()
        for info in self.sessions:
            self.list.addItem(
                f"{info.participant}  (session {info.session_no}, status {info.status})"
            )
        self.list.setCurrentRow(0)
        layout.addWidget(self.list)
        row = QHBoxLayout()
        ok = QPushButton("Resume")
        ok.setObjectName("resume_chosen")
        ok.clicked.connect(self._accept)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        row.addStretch(1)
        row.addWidget(cancel)
        row.addWidget(ok)
        layout.addLayout(row)

    def _accept(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.sessions):
            self.chosen = self.sessions[row]
            self.accept()
