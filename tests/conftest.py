"""Shared test fixtures and paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
PROTOCOLS = PROJECT_ROOT / "protocols"
SCREENSHOTS = PROJECT_ROOT / "screenshots"


@pytest.fixture
def shared_data() -> Path:
    """The reference data folder, read in place; tests using it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data folder {SHARED_DATA} is absent (it sits beside the project)")
    return SHARED_DATA
