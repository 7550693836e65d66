"""The participant's number field: what it accepts, and how it says so.

It accepts exactly what :func:`labmrt.session.answers.parse_number` scores
(digits, one decimal separator, ``.`` or ``,``), and its placeholder names the
separator of the participant's locale, so ``3,9`` typed on a German keyboard is
both allowed and scored as 3.9.
"""

from __future__ import annotations

from PySide6.QtCore import QLocale, QRegularExpression
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import QLineEdit

from labmrt.session.answers import NUMBER_PATTERN


def number_placeholder(locale: QLocale | None = None) -> str:
    """``Type a number, e.g. 3,9`` with the locale's decimal separator."""
    point = (locale or QLocale.system()).decimalPoint()
    separator = "," if point == "," else "."
    name = "comma" if separator == "," else "point"
    return f"Type a number, e.g. 1250{separator}5 (decimal {name}, no thousands separator)"


def number_field(edit: QLineEdit, locale: QLocale | None = None) -> QLineEdit:
    """Make ``edit`` a number answer field (validator and placeholder); returns it."""
    edit.setValidator(QRegularExpressionValidator(QRegularExpression(NUMBER_PATTERN), edit))
    edit.setPlaceholderText(number_placeholder(locale))
    return edit
