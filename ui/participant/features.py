"""The information system's features on the participant screen, each instrumented.

The proximal outcome of the trial is feature use, so every widget here reports
each open, close and use as ``activity(feature_id, action, t, detail)`` with
``t`` from the injected clock (the LSL clock by default). ``detail`` is a short
JSON string (e.g. the expression the calculator evaluated). The widgets know
nothing about arms, probabilities or state: they are the same in every
condition, which is what makes the framing the only thing randomized.
"""

from __future__ import annotations

import ast
import json
import operator
import textwrap
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from labmrt.session.clock import ClockFn, lsl_clock
from labmrt.session.display import FeatureSpec

OPEN, CLOSE, USE = "open", "close", "use"


def _detail(**items: Any) -> str:
    return json.dumps(items, sort_keys=True) if items else ""


class FeatureWidget(QFrame):
    """A collapsible panel with a toggle button; opening and closing are recorded.

    Subclasses build their body in ``_build_body`` and call ``_used(**detail)``
    for each use.
    """

    activity = Signal(str, str, float, str)  # feature_id, action, t, detail

    def __init__(self, spec: FeatureSpec, *, clock: ClockFn = lsl_clock, parent=None):
        super().__init__(parent)
        self.spec = spec
        self._clock = clock
        self.setObjectName(f"feature_{spec.id}")
        self.setFrameShape(QFrame.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.toggle = QPushButton(spec.title)
        self.toggle.setObjectName(f"feature_toggle_{spec.id}")
        self.toggle.setCheckable(True)
        self.toggle.setToolTip(f"Open or close: {spec.title}")
        self.toggle.toggled.connect(self._on_toggled)
        layout.addWidget(self.toggle)
        self.body = QWidget()
        self.body.setObjectName(f"feature_body_{spec.id}")
        self._build_body(self.body)
        self.body.setVisible(False)
        layout.addWidget(self.body)
        self.uses = 0

    # -- subclass hooks -------------------------------------------------------------
    def _build_body(self, body: QWidget) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _on_opened(self) -> None:
        """Called after the panel became visible."""

    def _before_close(self) -> None:
        """Called before the close event is recorded (flush pending uses)."""

    # -- public ---------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.toggle.isChecked()

    def open_panel(self) -> None:
        self.toggle.setChecked(True)

    def close_panel(self, reason: str = "") -> None:
        """Collapse the panel; ``reason`` (e.g. ``task_end``) is recorded with the close."""
        if self.is_open:
            self._close_reason = reason
            self.toggle.setChecked(False)

    # -- internals ------------------------------------------------------------------
    def _emit(self, action: str, detail: str = "") -> None:
        self.activity.emit(self.spec.id, action, float(self._clock()), detail)

    def _used(self, **detail: Any) -> None:
        self.uses += 1
        self._emit(USE, _detail(**detail))

    def _on_toggled(self, checked: bool) -> None:
        if checked:
            self.body.setVisible(True)
            self._emit(OPEN)
            self._on_opened()
        else:
            self._before_close()
            reason = getattr(self, "_close_reason", "")
            self._close_reason = ""
            self.body.setVisible(False)
            self._emit(CLOSE, _detail(reason=reason) if reason else "")


class HelpPanel(FeatureWidget):
    """Help text, optionally split into topics; choosing a topic is a use."""

    def _build_body(self, body: QWidget) -> None:
        self.topics = _split_topics(self.spec.content)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        self.topic_list = QListWidget()
        self.topic_list.setObjectName(f"help_topics_{self.spec.id}")
        self.topic_list.addItems([title for title, _ in self.topics])
        self.topic_list.setMaximumHeight(min(24 * len(self.topics) + 8, 130))
        self.topic_list.setVisible(len(self.topics) > 1)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        self.text.setMinimumHeight(90)
        self.text.setMaximumHeight(200)
        layout.addWidget(self.topic_list)
        layout.addWidget(self.text)
        self.topic_list.currentRowChanged.connect(self._show_topic)
        self.text.setMarkdown(self.topics[0][1] if self.topics else "")

    def _show_topic(self, row: int) -> None:
        if 0 <= row < len(self.topics):
            title, text = self.topics[row]
            self.text.setMarkdown(text)
            self._used(topic=title)

    def _on_opened(self) -> None:
        if len(self.topics) <= 1:
            # Opening a single-topic help shows all of it: reading is the use.
            self._used(topic=self.topics[0][0] if self.topics else "")


def _split_topics(content: str) -> list[tuple[str, str]]:
    """Split markdown help into ``(title, text)`` topics at ``#`` headings."""
    topics: list[tuple[str, list[str]]] = []
    for line in content.splitlines():
        if line.lstrip().startswith("#"):
            topics.append((line.lstrip("# ").strip(), []))
        elif topics:
            topics[-1][1].append(line)
        elif line.strip():
            topics.append(("Help", [line]))
    if not topics:
        return [("Help", content)]
    return [(title, "\n".join(lines).strip()) for title, lines in topics]


class HintWidget(FeatureWidget):
    """Opening shows a button; revealing the hint is the use."""

    def _build_body(self, body: QWidget) -> None:
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        self.reveal = QPushButton("Show the hint")
        self.reveal.setObjectName(f"hint_reveal_{self.spec.id}")
        self.hint = QLabel(self.spec.content or "No hint for this task.")
        self.hint.setWordWrap(True)
        self.hint.setVisible(False)
        self.hint.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(self.reveal)
        layout.addWidget(self.hint)
        self.reveal.clicked.connect(self._reveal)

    def _reveal(self) -> None:
        if not self.hint.isVisible():
            self.hint.setVisible(True)
            self.reveal.setVisible(False)
            self._used(revealed=True)


# -- calculator ---------------------------------------------------------------------

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def evaluate(expression: str) -> float:
    """Evaluate an arithmetic expression (numbers, + - * / ^ %, parentheses, %-free).

    Parsed with :mod:`ast` and walked over a whitelist, so nothing but arithmetic
    can run. ``x`` and ``÷``/``×`` are accepted as the calculator keys show them.
    Raises ``ValueError`` for anything else (including division by zero).
    """
    text = (
        expression.replace("×", "*")
        .replace("÷", "/")
        .replace("−", "-")
        .replace("^", "**")
        .replace(",", ".")
    )
    if not text.strip():
        raise ValueError("empty expression")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from err

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > 64:
                raise ValueError("exponent too large")
            try:
                return float(_BINARY[type(node.op)](left, right))
            except ZeroDivisionError as err:
                raise ValueError("division by zero") from err
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return float(_UNARY[type(node.op)](walk(node.operand)))
        raise ValueError(f"not an arithmetic expression: {expression!r}")

    return walk(tree)


def format_number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10g}"


class CalculatorWidget(FeatureWidget):
    """A working calculator: keys or typing, ``=``/Enter evaluates; each evaluation is a use."""

    KEYS = (
        ("7", "8", "9", "÷", "C"),
        ("4", "5", "6", "×", "←"),
        ("1", "2", "3", "-", "("),
        ("0", ".", "=", "+", ")"),
    )

    def _build_body(self, body: QWidget) -> None:
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        self.display = QLineEdit()
        self.display.setObjectName(f"calc_display_{self.spec.id}")
        self.display.setAlignment(Qt.AlignRight)
        self.display.setPlaceholderText("0")
        self.display.returnPressed.connect(self.equals)
        layout.addWidget(self.display)
        grid = QGridLayout()
        grid.setSpacing(3)
        self.buttons: dict[str, QPushButton] = {}
        for r, row in enumerate(self.KEYS):
            for c, key in enumerate(row):
                button = QPushButton(key)
                button.setObjectName(f"calc_key_{key}")
                button.setFocusPolicy(Qt.NoFocus)
                button.setMinimumWidth(34)
                button.clicked.connect(lambda _=False, k=key: self.press(k))
                grid.addWidget(button, r, c)
                self.buttons[key] = button
        layout.addLayout(grid)
        self._just_evaluated = False

    def press(self, key: str) -> None:
        if key == "=":
            self.equals()
        elif key == "C":
            self.display.clear()
        elif key == "←":
            self.display.backspace()
        else:
            if self._just_evaluated and key.isdigit():
                self.display.clear()
            self._just_evaluated = False
            self.display.insert(key)

    def equals(self) -> None:
        expression = self.display.text()
        if not expression.strip():
            return
        try:
            result = format_number(evaluate(expression))
        except ValueError as err:
            self.display.setText("Error")
            self._used(expression=expression, error=str(err))
        else:
            self.display.setText(result)
            self._used(expression=expression, result=result)
        self._just_evaluated = True


class NotesWidget(FeatureWidget):
    """A notepad; a burst of typing (ended by a pause) is one use, timed at its start."""

    PAUSE_MS = 1500

    def _build_body(self, body: QWidget) -> None:
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        self.edit = QPlainTextEdit()
        self.edit.setObjectName(f"notes_edit_{self.spec.id}")
        self.edit.setPlaceholderText("Your notes")
        self.edit.setMinimumHeight(80)
        self.edit.setMaximumHeight(160)
        if self.spec.content:
            self.edit.setPlainText(self.spec.content)
        layout.addWidget(self.edit)
        self._burst_start: float | None = None
        self._pause = QTimer(self)
        self._pause.setSingleShot(True)
        self._pause.setInterval(self.PAUSE_MS)
        self._pause.timeout.connect(self.flush)
        self.edit.textChanged.connect(self._typed)

    def _typed(self) -> None:
        if self._burst_start is None:
            self._burst_start = float(self._clock())
        self._pause.start()

    def flush(self) -> None:
        """Record the pending typing burst as one use (timestamped at its start)."""
        self._pause.stop()
        if self._burst_start is None:
            return
        t, self._burst_start = self._burst_start, None
        self.uses += 1
        self.activity.emit(self.spec.id, USE, t, _detail(chars=len(self.edit.toPlainText())))

    def _before_close(self) -> None:
        self.flush()

    @property
    def text(self) -> str:
        return self.edit.toPlainText()


class ComparisonTableWidget(FeatureWidget):
    """A table rendered from the task's data; sorting or selecting a cell is a use."""

    def _build_body(self, body: QWidget) -> None:
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        data = dict(self.spec.table or {})
        columns = [str(c) for c in data.get("columns", [])]
        rows: Sequence[Sequence[Any]] = data.get("rows", [])
        self.table = QTableWidget(len(rows), len(columns))
        self.table.setObjectName(f"table_{self.spec.id}")
        # Long headers ("New-customer bonus (EUR)") wrap onto lines of about 14 characters, so
        # the columns stay about as narrow as their data and the table fits a laptop screen.
        self.table.setHorizontalHeaderLabels(
            [textwrap.fill(c, 14, break_long_words=False) for c in columns]
        )
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                item = QTableWidgetItem()
                if isinstance(value, int | float) and not isinstance(value, bool):
                    item.setData(Qt.DisplayRole, value)
                else:
                    item.setText(str(value))
                self.table.setItem(r, c, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        header.setSortIndicator(-1, Qt.AscendingOrder)  # keep the task's row order at first
        self.table.setSortingEnabled(True)
        height = min(32 * len(rows) + 56, 320)
        self.table.setMinimumHeight(height)
        self.table.setMaximumHeight(height + 24)  # room for a horizontal scroll bar
        self.table.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        header.sectionClicked.connect(self._sorted)
        self.table.cellClicked.connect(self._cell)
        layout.addWidget(self.table)
        self.columns = columns

    def _sorted(self, column: int) -> None:
        name = self.columns[column] if 0 <= column < len(self.columns) else column
        self._used(sort=name)

    def _cell(self, row: int, column: int) -> None:
        name = self.columns[column] if 0 <= column < len(self.columns) else column
        item = self.table.item(row, column)
        self._used(cell=[row, name], value=item.text() if item else "")


class GenericFeatureWidget(FeatureWidget):
    """Any other feature the protocol lists: its text, plus a search box; searching is a use."""

    def _build_body(self, body: QWidget) -> None:
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.query = QLineEdit()
        self.query.setObjectName(f"generic_query_{self.spec.id}")
        self.query.setPlaceholderText("Search in this panel")
        go = QPushButton("Find")
        row.addWidget(self.query)
        row.addWidget(go)
        layout.addLayout(row)
        self.text = QTextBrowser()
        self.text.setMinimumHeight(100)
        self.text.setMarkdown(self.spec.content or "")
        layout.addWidget(self.text)
        self.result = QLabel("")
        layout.addWidget(self.result)
        go.clicked.connect(self.search)
        self.query.returnPressed.connect(self.search)

    def search(self) -> None:
        query = self.query.text().strip()
        if not query:
            return
        hits = self.spec.content.lower().count(query.lower())
        self.result.setText(f"{hits} match{'es' if hits != 1 else ''}")
        self.text.find(query)
        self._used(query=query, hits=hits)


#: The widget of each feature kind (any other kind gets :class:`GenericFeatureWidget`).
WIDGETS: dict[str, type[FeatureWidget]] = {
    "help": HelpPanel,
    "hint": HintWidget,
    "calculator": CalculatorWidget,
    "notes": NotesWidget,
    "comparison_table": ComparisonTableWidget,
    "table": ComparisonTableWidget,
}


def make_feature(spec: FeatureSpec, *, clock: ClockFn = lsl_clock, parent=None) -> FeatureWidget:
    """The widget for ``spec.kind`` (the generic panel for kinds without their own widget)."""
    return WIDGETS.get(spec.kind, GenericFeatureWidget)(spec, clock=clock, parent=parent)
