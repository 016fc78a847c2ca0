"""The caller an agreement's API key stands for: the service account's caller narrowed to the
agreement's layers, fields and communes (``iocgis.access.Narrowing``), or refused once the
agreement has ended or was revoked. Asked on every request (``iocgis.security.login``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from iocgis.access import Caller, Narrowing
from iocgis.errors import Unauthorized

# Agreements run from their start date to their end date inclusive, in the province's time.
TIME_ZONE = "Asia/Ho_Chi_Minh"
# Is the agreement ``g`` in force now (one expression for the key check and the listings).
IN_FORCE_SQL = (f"(g.revoked_at IS NULL AND (now() AT TIME ZONE '{TIME_ZONE}')::date "
                "BETWEEN g.starts_on AND g.ends_on)")


def narrowing_of(agreement_id: int, layers: Mapping[str, Sequence[str]]) -> Narrowing:
    return Narrowing(agreement_id=int(agreement_id),
                     layers=tuple(sorted((layer_id, frozenset(fields))
                                         for layer_id, fields in layers.items())))


def under_agreement(caller: Caller, agreement_id: int, layers: Mapping[str, Sequence[str]],
                    communes: Sequence[str], in_force: bool) -> Caller:
    """``caller`` reading only what agreement ``agreement_id`` names; Unauthorized when the
    agreement is not in force (ended, not yet started, or revoked): its keys stop at once."""
    if not in_force:
        raise Unauthorized(f"sharing agreement {agreement_id} is not in force (ended, not yet "
                           "started, or revoked): its keys are refused", where="X-API-Key",
                           hint="ask the province's IOC to renew the agreement")
    return replace(caller, narrowing=narrowing_of(agreement_id, layers),
                   commune_codes=frozenset(communes))
