"""Which plans are in force on a day, as the dossiers say.

A project whose dossier was ever approved is governed by it: in force from its decision's
effective date until it expired, and each approved adjustment in force on the day supersedes
the zones it lists (or all of the adjusted plan's, ``replaces_all``) from its own effective
date. A project without such a dossier keeps what ``planning.projects`` says: approved
(``da_phe_duyet``) with a decision on or before the day. Drafts never change what is in force.

The answer is a few arrays the zone and project statements take as parameters: the dossier
tables are the API role's, the layers are read under the caller's plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from iocgis.planning_docs.rules import APPROVED_STATUSES

IN_FORCE_SQL = (Path(__file__).parent / "sql" / "in_force.sql").read_text(encoding="utf-8")


@dataclass(frozen=True)
class InForce:
    as_of: date
    governed: list[str]  # project codes whose dossier decides (approved at some time)
    in_force: list[str]  # of those, the ones in force on the day
    replaced: list[str]  # projects all of whose zones an adjustment replaced by the day
    superseded: list[str]  # zone codes an adjustment in force on the day replaced

    @property
    def params(self) -> dict[str, object]:
        return {"as_of": self.as_of, "governed": self.governed, "in_force": self.in_force,
                "replaced": self.replaced, "superseded": self.superseded}


def in_force_params(as_of: date) -> dict[str, object]:
    return {"as_of": as_of, "approved": list(APPROVED_STATUSES)}


def in_force_of(as_of: date, row: tuple[Any, ...] | None) -> InForce:
    """The facts from the row of ``IN_FORCE_SQL`` (the benchmark runs the same statement)."""
    assert row is not None
    return InForce(as_of, *(list(v) for v in row))


async def in_force(conn: psycopg.AsyncConnection, as_of: date) -> InForce:
    cur = await conn.execute(IN_FORCE_SQL, in_force_params(as_of))
    return in_force_of(as_of, await cur.fetchone())
