"""What ``verify`` checks: every part of a collection folder against the others.

In order, stopping where later checks would only repeat an earlier failure: SQLite's own check
of ``items.sqlite``; the manifest's binding against the copy in the database; the state counters
against the rows; the vector file's length and every block's CRC-32; the index snapshot's
identity (collection, generation, rows covered, digest of those rows' vectors).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from embedlab.store.errors import CorruptCollectionError
from embedlab.store.local.layout import DB_FILE

if TYPE_CHECKING:
    from embedlab.store.local.backend import LocalBackend


def find_problems(backend: LocalBackend) -> tuple[list[str], dict[str, Any]]:
    """Every inconsistency found (for verify and repair) and what was checked."""
    problems: list[str] = []
    facts: dict[str, Any] = {}
    rows = backend._rows
    try:
        check = rows.execute("PRAGMA quick_check").fetchall()
        if [r[0] for r in check] != ["ok"]:
            problems.append(f"{DB_FILE} fails SQLite's check: {check[0][0]}")
            return problems, facts
        binding = backend.binding_problem()
        if binding:
            problems.append(binding)
            return problems, facts
        state = rows.state()
    except CorruptCollectionError as exc:
        return [exc.problem], facts
    gen, next_slot = state["gen"], state["next_slot"]
    n_items, max_slot = rows.execute("SELECT COUNT(*), MAX(slot) FROM items").fetchone()
    facts.update(rows=n_items, slots=next_slot)
    if n_items != state["live"]:
        problems.append(f"{n_items} rows but the state records {state['live']}")
    if max_slot is not None and max_slot >= next_slot:
        problems.append(f"slot {max_slot} is past next_slot {next_slot}")
    try:
        size = backend._files.check(gen, next_slot)
        facts["vector_file_rows"] = size // backend._files.row_bytes
    except CorruptCollectionError as exc:
        return [*problems, exc.problem], facts
    stored = rows.checksums()
    if stored is not None:
        live = np.zeros(next_slot, dtype=bool)
        live[[s for (s,) in rows.execute("SELECT slot FROM items") if s < next_slot]] = True
        bad = backend._files.bad_rows(gen, next_slot, stored) & live
        if bad.any():
            problems.append(f"{int(bad.sum())} stored vectors fail their block checksum")
        facts["checksummed_blocks"] = len(stored)
    if problems:
        return problems, facts
    try:
        backend._sync()
        if int(backend._live.sum()) != n_items:
            problems.append("the in-memory live mask disagrees with the rows")
        snapshot = backend._snapshots.load(gen, next_slot, backend._uid, backend._digest)
        facts["index_rows"] = snapshot.ntotal if snapshot is not None else 0
    except CorruptCollectionError as exc:
        problems.append(exc.problem)
    return problems, facts
