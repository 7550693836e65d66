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
    """One line for the console: how well the calibration separated, and its warnings."""
    if not summary:
        return ""
    status = summary.get("status")
    models = summary.get("models") or {}

    def one(key: str, m: Mapping) -> str:
        auc_ = m.get("auc")
        text = f"{key} {'-' if auc_ is None else f'{auc_:.2f}'}"
        return text + ("" if m.get("ok") else " (not used)")

    per_model = ", ".join(one(k, m) for k, m in models.items())
    if status == "failed":
        line = f"calibration failed, the state stays unknown: {summary.get('error', '')}"
    elif status == "ok":
        line = "calibration separated rest from stressor, cross-validated AUC " + (
            per_model or "not measured"
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
        line = "rest-only calibration: the separation cannot be measured"
    else:
        line = f"calibration: {status}"
    warn = summary.get("warnings") or []
    return line + "".join(f"; warning: {w}" for w in warn)
