"""How a calibration went: as a JSON-ready summary, and as one line for the console.

The monitor's status, ``labmrt sensors monitor`` and the experimenter's
console all report the same thing, from :func:`summarize_calibration`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def summarize_calibration(clf: Any) -> dict:
    """JSON-ready: how well rest and stressor separated, per model, and warnings."""
    models = {
        k: {
            "features": m["features"],
            "auc": None if m.get("auc") is None else round(m["auc"], 3),
            "ok": bool(m.get("ok")),
            "n_rest": m["n_rest"],
            "n_stress": m["n_stress"],
            **({"reason": m["reason"]} if m.get("reason") else {}),
        }
        for k, m in clf.models.items()
    }
    aucs = [m["auc"] for m in clf.models.values() if m.get("auc") is not None]
    if clf.method is None:
        status = "not calibrated"
    elif clf.method == "rest_threshold":
        status = "rest only"
    elif clf.separated:
        status = "ok"
    else:
        status = "rest reference" if clf.rest_reference else "not separated"
    return {
        "status": status,
        "method": clf.method,
        "not_separated": clf.not_separated,
        **(
            {"rest_reference": {k: m["features"] for k, m in clf.rest_reference.items()}}
            if clf.rest_reference
            else {}
        ),
        "auc": round(max(aucs), 3) if aucs else None,
        "models": models,
        "warnings": list(clf.warnings),
        "changes": {k: round(v, 3) for k, v in clf.changes.items()},
        "n_rest": clf.n_rest,
        "n_stress": clf.n_stress,
        "notes": list(clf.notes),
    }


def describe_calibration(summary: Mapping | None) -> str:
    """One line for the console: the calibration's figures, how well it separated, warnings.

    The figures (windows per phase, how far heart rate and skin conductance moved
    from rest to stressor) are there whether or not the separation could be
    cross-validated: a short stressor leaves too few windows to hold some out, and
    the line then says so rather than showing an empty AUC.
    """
    if not summary:
        return ""
    status = summary.get("status")
    models = summary.get("models") or {}

    def one(key: str, m: Mapping) -> str:
        auc_ = m.get("auc")
        text = f"{key} {'not measured' if auc_ is None else f'{auc_:.2f}'}"
        return text + ("" if m.get("ok") else " (not used)")

    measured = any(m.get("auc") is not None for m in models.values())
    per_model = ", ".join(one(k, m) for k, m in models.items())
    figures = calibration_figures(summary)
    if status == "failed":
        line = f"calibration failed, the state stays unknown: {summary.get('error', '')}"
    elif status == "ok":
        line = "calibration separated rest from stressor" + (f" ({figures})" if figures else "")
        if measured:
            line += f", cross-validated AUC {per_model}"
        elif models:
            line += (
                "; AUC not measured: too few stressor windows to hold some out for "
                "cross-validation (a longer stressor allows it)"
            )
    elif status == "not separated":
        line = (
            "calibration did not separate rest from stressor (cross-validated AUC "
            f"{per_model}): the state stays unknown"
        )
    elif status == "rest reference":
        line = (
            "calibration did not separate rest from stressor (cross-validated AUC "
            f"{per_model}): states from the rest reference only (a departure from this "
            "participant's rest in physiology's direction)"
        )
    elif status == "rest only":
        line = "rest-only calibration: the separation cannot be measured" + (
            f" ({figures})" if figures else ""
        )
    else:
        line = f"calibration: {status}"
    warn = summary.get("warnings") or []
    return line + "".join(f"; warning: {w}" for w in warn)


def calibration_figures(summary: Mapping) -> str:
    """``21 rest and 12 stressor windows; heart rate +32 bpm, skin conductance +2.23 uS``."""
    parts = []
    n_rest, n_stress = summary.get("n_rest"), summary.get("n_stress")
    if n_rest:
        parts.append(
            f"{n_rest} rest" + (f" and {n_stress} stressor" if n_stress else "") + " windows"
        )
    changes = summary.get("changes") or {}
    moved = []
    hr = changes.get("hr_fast", changes.get("hr"))
    if hr is not None:
        moved.append(f"heart rate {hr:+.0f} bpm")
    scl = changes.get("scl_fast", changes.get("scl"))
    if scl is not None:
        moved.append(f"skin conductance {scl:+.2f} uS")
    if moved:
        parts.append(", ".join(moved) + " from rest to stressor")
    return "; ".join(parts)
