"""Open an HTML report in a real browser engine (Qt WebEngine, Chromium) and check it rendered.

``python -m ui.analysis.report_browser REPORT.html --screenshot OUT.png [--json]`` loads
the file, collects every JavaScript console message at warning level or
above, asks the page for each ``<img>``'s ``complete`` and ``naturalWidth``,
saves a screenshot of the window, and prints the findings as JSON. It runs
in its own process: Qt WebEngine must be set up before the process's
``QApplication`` exists, which a test process with other Qt windows cannot
promise. Chromium's sandbox refuses to run as root, and offscreen there is no
GPU: ``--no-sandbox --disable-gpu`` are added to ``QTWEBENGINE_CHROMIUM_FLAGS``
when not already set.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

CHROMIUM_FLAGS = "--no-sandbox --disable-gpu"

IMAGES_JS = """
(function () {
  var imgs = Array.prototype.slice.call(document.images);
  return JSON.stringify({
    images: imgs.map(function (i) {
      return {alt: i.alt, complete: i.complete, naturalWidth: i.naturalWidth,
              naturalHeight: i.naturalHeight};
    }),
    title: document.title,
    tables: document.querySelectorAll('table').length,
    headings: Array.prototype.map.call(document.querySelectorAll('h2'),
                                       function (h) { return h.textContent; }),
    height: document.documentElement.scrollHeight
  });
})()
"""


def render(
    html_path: Path,
    screenshot: Path | None,
    width: int = 1200,
    height: int = 900,
    scroll_to: str = "",
) -> dict:
    """Load ``html_path`` in a QWebEngineView and return what the page reported."""
    os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", CHROMIUM_FLAGS)
    from PySide6.QtCore import QEventLoop, QTimer, QUrl
    from PySide6.QtWebEngineCore import QWebEnginePage
    from PySide6.QtWebEngineWidgets import QWebEngineView
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    messages: list[dict] = []

    class Page(QWebEnginePage):
        def javaScriptConsoleMessage(self, level, message, line, source):  # noqa: N802 - Qt API
            messages.append(
                {"level": int(level.value), "message": message, "line": line, "source": source}
            )

    view = QWebEngineView()
    page = Page(view)
    view.setPage(page)
    view.resize(width, height)
    view.show()
    loop = QEventLoop()
    status: dict = {}

    def finished(ok: bool) -> None:
        status["loaded"] = bool(ok)
        loop.quit()

    page.loadFinished.connect(finished)
    QTimer.singleShot(60000, loop.quit)
    view.load(QUrl.fromLocalFile(str(Path(html_path).resolve())))
    loop.exec()

    def run_js(code: str):
        box: dict = {}
        inner = QEventLoop()

        def done(value) -> None:
            box["value"] = value
            inner.quit()

        page.runJavaScript(code, 0, done)
        QTimer.singleShot(20000, inner.quit)
        inner.exec()
        return box.get("value")

    # Images decode asynchronously: poll until every one is complete (or 10 s pass).
    info: dict = {}
    for _ in range(50):
        info = json.loads(run_js(IMAGES_JS) or "{}")
        if all(i["complete"] for i in info.get("images", [])):
            break
        wait = QEventLoop()
        QTimer.singleShot(200, wait.quit)
        wait.exec()
    if scroll_to:
        run_js(f"document.getElementById({json.dumps(scroll_to)}).scrollIntoView();")
    settle = QEventLoop()
    QTimer.singleShot(800, settle.quit)  # let the compositor paint the last frame
    settle.exec()
    if screenshot is not None:
        Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
        status["screenshot_saved"] = bool(view.grab().save(str(screenshot)))
    # Qt's console levels: 0 info, 1 warning, 2 error.
    status["errors"] = [m for m in messages if m["level"] >= 2]
    status["warnings"] = [m for m in messages if m["level"] == 1]
    status.update(info)
    view.close()
    app.processEvents()
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ui.analysis.report_browser", description=__doc__
    )
    parser.add_argument("html", type=Path)
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--scroll-to", default="", help="element id to scroll to first")
    args = parser.parse_args(argv)
    result = render(args.html, args.screenshot, args.width, args.height, args.scroll_to)
    print(json.dumps(result))
    images = result.get("images", [])
    ok = (
        result.get("loaded") and not result["errors"] and all(i["naturalWidth"] > 0 for i in images)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
