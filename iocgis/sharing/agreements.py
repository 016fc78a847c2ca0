"""Sharing agreements (Điều 3.8-3.9, sharing on specific request): what one agency may read.

An agreement names the receiving agency, the layers and the fields of each (personal-data
fields only where the agreement names them and the registry's ``share_pii`` allows), the
communes, the purpose, the legal basis and its start and end dates. Creating one makes the
agency's service account (``sharing.a<id>``: the least role that reads the agreed layers, the
personal-data right only when a personal field is shared, the agreement's communes) and its
first API key. Every request with that key is the account's caller narrowed to the agreement
(``iocgis.sharing.narrowing``), so the access plan and PostgreSQL enforce it like any caller's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from iocgis.access import ROLE_RIGHTS
from iocgis.db import expect_row
from iocgis.errors import InvalidInput, NotFound
from iocgis.layers import Registry, get_registry
from iocgis.layers.model import SENSITIVITY_RANK, nfc
from iocgis.security import accounts, audit, login
from iocgis.security.accounts import Actor
from iocgis.security.settings import SecuritySettings
from iocgis.sharing.narrowing import IN_FORCE_SQL, TIME_ZONE

ACCOUNT_PREFIX = "sharing.a"
# The least role reading each level, with no action right worth having (a caller under an
# agreement has none anyway: ``Caller.may``).
READER_ROLE = {"public": "public", "internal": "viewer", "restricted": "gis_officer"}
COLUMNS = (f"g.id, g.agency, a.name AS account, g.layers, g.communes, g.purpose, g.legal_basis, "
           f"g.starts_on, g.ends_on, g.revoked_at, g.revoked_by, g.revoked_reason, g.created_at, "
           f"g.created_by, {IN_FORCE_SQL} AS in_force, "
           f"(now() AT TIME ZONE '{TIME_ZONE}')::date > g.ends_on AS ended")


@dataclass(frozen=True)
class Terms:
    """What an agreement says, checked against the registry (``check_terms``)."""

    agency: str
    layers: dict[str, tuple[str, ...]]  # layer id -> the fields shared, in registry order
    communes: tuple[str, ...]  # empty: every commune
    purpose: str
    legal_basis: str
    starts_on: date
    ends_on: date


def _text(value: str, where: str, limit: int) -> str:
    text = nfc(str(value or "").strip())
    if not text or len(text) > limit:
        raise InvalidInput(f"the agreement's {where} is {'missing' if not text else 'too long'}",
                           where=where, hint=f"write 1-{limit} characters")
    return text


def check_layers(registry: Registry, wanted: Mapping[str, Sequence[str] | None]
                 ) -> dict[str, tuple[str, ...]]:
    """Each layer known, each field one of its own; no fields given: every non-personal field.
    A personal-data field only where the layer allows sharing it (registry ``share_pii``)."""
    if not wanted:
        raise InvalidInput("an agreement names at least one layer", where="layers",
                           hint="e.g. --layer land.parcels:sheet_no,parcel_no,land_use")
    checked: dict[str, tuple[str, ...]] = {}
    for layer_id, fields in wanted.items():
        if layer_id not in registry:
            raise InvalidInput(f"unknown layer {str(layer_id)[:80]!r}", where="layers",
                               hint="list the layers with `iocgis layers`")
        layer = registry.get(layer_id)
        names = list(fields) if fields else [f.name for f in layer.fields if not f.pii]
        unknown = [n for n in names if not layer.has_field(n)]
        if unknown:
            raise InvalidInput(f"layer {layer_id} has no field(s) {unknown}",
                               where=f"layers.{layer_id}",
                               hint=f"use some of: {', '.join(layer.field_names)}")
        personal = [n for n in names if layer.field(n).pii]
        if personal and not layer.share_pii:
            raise InvalidInput(f"layer {layer_id} does not allow sharing its personal data "
                               f"({', '.join(personal)})", where=f"layers.{layer_id}",
                               hint="leave those fields out; the registry's share_pii decides "
                                    "which layers' personal data may be shared")
        checked[layer_id] = tuple(f.name for f in layer.fields if f.name in set(names))
    return checked


def check_terms(registry: Registry, *, agency: str, layers: Mapping[str, Sequence[str] | None],
                communes: Sequence[str], purpose: str, legal_basis: str, starts_on: date,
                ends_on: date, today: date | None = None) -> Terms:
    if ends_on < starts_on:
        raise InvalidInput(f"the agreement ends ({ends_on}) before it starts ({starts_on})",
                           where="ends_on", hint="give an end date on or after the start date")
    if today is not None and ends_on < today:
        raise InvalidInput(f"the agreement's end date {ends_on} has passed", where="ends_on",
                           hint="give an end date from today on")
    return Terms(agency=_text(agency, "agency", 300), layers=check_layers(registry, layers),
                 communes=tuple(accounts.check_communes(list(communes))),
                 purpose=_text(purpose, "purpose", 2000),
                 legal_basis=_text(legal_basis, "legal_basis", 2000), starts_on=starts_on,
                 ends_on=ends_on)


def reader_role(registry: Registry, layers: Mapping[str, Sequence[str]]) -> str:
    """The least role that reads every agreed layer."""
    highest = max(SENSITIVITY_RANK[registry.get(layer_id).sensitivity] for layer_id in layers)
    level = next(name for name, rank in SENSITIVITY_RANK.items() if rank == highest)
    role = READER_ROLE[level]
    assert ROLE_RIGHTS[role]["sensitivity"] == level
    return role


def shares_pii(registry: Registry, layers: Mapping[str, Sequence[str]]) -> bool:
    return any(registry.get(layer_id).field(name).pii
               for layer_id, names in layers.items() for name in names)


async def _today(conn: psycopg.AsyncConnection) -> date:
    cur = await conn.execute(f"SELECT (now() AT TIME ZONE '{TIME_ZONE}')::date")
    return expect_row(await cur.fetchone())[0]


async def create(conn: psycopg.AsyncConnection, settings: SecuritySettings, actor: Actor, *,
                 agency: str, layers: Mapping[str, Sequence[str] | None],
                 communes: Sequence[str], purpose: str, legal_basis: str, starts_on: date,
                 ends_on: date, networks: list[str] | None = None,
                 registry: Registry | None = None) -> tuple[dict[str, Any], str]:
    """A new agreement, its service account and first API key (shown once): (agreement, key).
    One transaction: an agreement never exists without its account, nor the other way."""
    registry = registry or get_registry()
    terms = check_terms(registry, agency=agency, layers=layers, communes=communes,
                        purpose=purpose, legal_basis=legal_basis, starts_on=starts_on,
                        ends_on=ends_on, today=await _today(conn))
    async with conn.transaction():
        cur = await conn.execute("SELECT nextval(pg_get_serial_sequence('sharing.agreements', "
                                 "'id'))")
        (agreement_id,) = expect_row(await cur.fetchone())
        account = f"{ACCOUNT_PREFIX}{agreement_id}"
        # The password is never shown: the account reads with its API keys only (login.py
        # refuses its password logins), so none is waiting to be changed.
        await accounts.create(conn, settings, actor, name=account,
                              roles=[reader_role(registry, terms.layers)],
                              full_name=terms.agency, pii=shares_pii(registry, terms.layers),
                              communes=terms.communes)
        await conn.execute("UPDATE security.accounts SET must_change_password = false "
                           "WHERE name = %s", (account,))
        await conn.execute(
            "INSERT INTO sharing.agreements (id, agency, account_id, layers, communes, purpose, "
            "legal_basis, starts_on, ends_on, created_by) SELECT %s, %s, a.id, %s, %s, %s, %s, "
            "%s, %s, %s FROM security.accounts a WHERE a.name = %s",
            (agreement_id, terms.agency, Jsonb(terms.layers), list(terms.communes),
             terms.purpose, terms.legal_basis, terms.starts_on, terms.ends_on, actor.name,
             account))
        key, key_id = await login.create_api_key(conn, actor, account,
                                                 label=f"agreement {agreement_id}",
                                                 networks=networks)
        await audit.record(conn, actor=actor.name, action="sharing.agreement_create",
                           target=str(agreement_id), client=actor.client,
                           details={"agency": terms.agency, "layers": terms.layers,
                                    "communes": list(terms.communes),
                                    "starts_on": terms.starts_on.isoformat(),
                                    "ends_on": terms.ends_on.isoformat(), "key_id": key_id})
    return await get(conn, agreement_id), key


async def get(conn: psycopg.AsyncConnection, agreement_id: int) -> dict[str, Any]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(f"SELECT {COLUMNS} FROM sharing.agreements g JOIN security.accounts a "
                      "ON a.id = g.account_id WHERE g.id = %s", (int(agreement_id),))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"no sharing agreement {agreement_id}", where="agreement",
                       hint="list them with `iocgis sharing agreements list`")
    return _shown(row)


async def list_all(conn: psycopg.AsyncConnection) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(f"SELECT {COLUMNS} FROM sharing.agreements g JOIN security.accounts a "
                      "ON a.id = g.account_id ORDER BY g.id")
    return [_shown(row) for row in await cur.fetchall()]


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    ended = row.pop("ended")
    status = ("revoked" if row["revoked_at"] is not None else "in force" if row["in_force"]
              else "ended" if ended else "not started")
    return {**row, "status": status}


async def revoke(conn: psycopg.AsyncConnection, actor: Actor, agreement_id: int,
                 reason: str) -> dict[str, Any]:
    """End the agreement now: its keys are refused from the next request on."""
    reason = _text(reason, "reason", 500)
    cur = await conn.execute(
        "UPDATE sharing.agreements SET revoked_at = coalesce(revoked_at, now()), "
        "revoked_by = coalesce(revoked_by, %s), revoked_reason = coalesce(revoked_reason, %s) "
        "WHERE id = %s RETURNING id", (actor.name, reason, int(agreement_id)))
    if await cur.fetchone() is None:
        raise NotFound(f"no sharing agreement {agreement_id}", where="agreement",
                       hint="list them with `iocgis sharing agreements list`")
    await audit.record(conn, actor=actor.name, action="sharing.agreement_revoke",
                       target=str(agreement_id), client=actor.client, details={"reason": reason})
    return await get(conn, agreement_id)
