"""Sessions as a participant lives them: a resumed session and its continuations are one.

A session killed mid-way and resumed is two rows of the store (the second has
``resume_of``); a lab counts it as one session in several runs. The BIDS export
names files by it (``ses-<n>_run-<k>``) and so does LabRecorder's file name.
"""

from __future__ import annotations

import pandas as pd


def session_chains(sessions: pd.DataFrame) -> dict[str, list[list[int]]]:
    """Per participant, each session as the list of its store sessions, first part first.

    ``sessions``: rows with ``session``, ``participant``, ``resume_of`` (and
    ``session_no`` when there, for the order), as :meth:`labmrt.store.StudyStore.sessions` gives.
    """
    parent = {
        int(r.session): None if pd.isna(r.resume_of) else int(r.resume_of)
        for r in sessions.itertuples(index=False)
    }

    def root(sid: int) -> int:
        while parent.get(sid) is not None:
            sid = parent[sid]
        return sid

    order = [c for c in ("participant", "session_no", "session") if c in sessions.columns]
    chains: dict[str, dict[int, list[int]]] = {}
    for r in sessions.sort_values(order).itertuples(index=False):
        sid = int(r.session)
        chains.setdefault(r.participant, {}).setdefault(root(sid), []).append(sid)
    return {code: list(by_root.values()) for code, by_root in chains.items()}


def session_entities(sessions: pd.DataFrame, session_id: int) -> tuple[int, int]:
    """(ses, run) of one store session: the participant's n-th session, its k-th part."""
    for chains in session_chains(sessions).values():
        for ses, chain in enumerate(chains, start=1):
            if int(session_id) in chain:
                return ses, chain.index(int(session_id)) + 1
    raise KeyError(f"no session {session_id}")
