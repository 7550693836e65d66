"""The study store: one append-only SQLite database per study folder.

``database`` is the :class:`StudyStore` that sessions write and exports read,
``schema`` its tables and ordered migrations, ``provenance`` the software versions
each session records.
"""

from labmrt.store.database import (
    DB_NAME,
    OPEN_STATUSES,
    SessionInfo,
    StudyStore,
    validate_participant_code,
)

__all__ = ["DB_NAME", "OPEN_STATUSES", "SessionInfo", "StudyStore", "validate_participant_code"]
