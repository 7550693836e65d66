"""Where the console and the participant's window go when there is only one screen."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize

#: Room a window manager's frame takes around a window (title bar, borders), in pixels.
FRAME_ALLOWANCE = QSize(4, 40)
#: Width of the console's left column (set-up, start, pause, abort): never covered.
CONSOLE_CONTROLS_WIDTH = 460
#: Sizes the windows open at when the screen has room (they are larger than their minimum).
CONSOLE_PREFERRED = QSize(1400, 860)
#: Size the participant's window opens at when the screen has room.
PARTICIPANT_PREFERRED = QSize(1280, 800)


def single_screen_layout(
    available: QRect,
    console_min: QSize,
    participant_min: QSize,
    console_preferred: QSize = CONSOLE_PREFERRED,
    participant_preferred: QSize = PARTICIPANT_PREFERRED,
) -> tuple[QRect, QRect]:
    """Where console and participant window go on one screen: (console, participant).

    Side by side when the screen holds both at their minimum widths; otherwise
    the console fills the screen and the participant window (at its minimum
    size) sits in the bottom-right corner, over the live plots but not over the
    console's controls column. Rectangles are client areas; each leaves room
    for a window frame (:data:`FRAME_ALLOWANCE`).
    """
    fw, fh = FRAME_ALLOWANCE.width(), FRAME_ALLOWANCE.height()
    x, y, w, h = available.x(), available.y(), available.width(), available.height()
    c_min, p_min = console_min.width() + fw, participant_min.width() + fw
    if w >= c_min + p_min:
        console_w = max(c_min, min(console_preferred.width() + fw, w - p_min))
        participant_w = min(w - console_w, participant_preferred.width() + fw)
        c_h = max(min(h, console_preferred.height() + fh) - fh, console_min.height())
        p_h = max(min(h, participant_preferred.height() + fh) - fh, participant_min.height())
        return (
            QRect(x, y, console_w - fw, c_h),
            QRect(x + console_w, y, participant_w - fw, p_h),
        )
    console = QRect(
        x,
        y,
        max(min(w, console_preferred.width() + fw) - fw, console_min.width()),
        max(min(h, console_preferred.height() + fh) - fh, console_min.height()),
    )
    p_w, p_h = participant_min.width(), participant_min.height()
    p_x = max(x + w - p_w - fw, x + CONSOLE_CONTROLS_WIDTH)
    p_y = max(y + h - p_h - fh, y)
    return console, QRect(p_x, p_y, p_w, p_h)
