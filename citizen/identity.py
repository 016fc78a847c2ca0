"""Reporters' identities: read (personal-data right, a stated purpose, audited), keys rotated,
kept only as long as privacy.yaml says (Law 91/2025), forgotten on request, and identities that
arrived by file import moved into the encrypted store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

from iocgis.citizen.calendar import WorkingCalendar
from iocgis.citizen.definitions import Process
from iocgis.citizen.keyring import Keyring, new_encryption_key
from iocgis.citizen.routing import IN_METRES, PRECISE_POINT, PUBLIC_POINT
from iocgis.security import audit


async def read(conn: psycopg.AsyncConnection, keyring: Keyring, case_id: int, code: str,
               actor: str, client: str | None, purpose: str) -> dict[str, Any]:
    """The identity of one report, decrypted; the read is audited whatever it finds."""
    cur = await conn.execute("SELECT name_enc, phone_enc, email_enc FROM "
                             "citizen_private.identities WHERE case_id = %s", (case_id,))
    row = await cur.fetchone()
    pseudonym = (await (await conn.execute(
        "SELECT reporter_pseudonym FROM citizen_private.cases WHERE id = %s",
        (case_id,))).fetchone())[0]
    await audit.record(conn, actor=actor, action="citizen.identity.read", target=code,
                       layer="citizen.reports", client=client,
                       details={"purpose": purpose, "found": row is not None})
    if row is None:
        return {"report_code": code, "anonymous": True, "pseudonym": pseudonym}
    name, phone, email = (keyring.decrypt(v) for v in row)
    return {"report_code": code, "anonymous": False, "name": name, "phone": phone,
            "email": email, "pseudonym": pseudonym}


# --- key rotation (sync: the CLI) -----------------------------------------------------------

@dataclass
class RotationReport:
    new_key: str
    reencrypted: int = 0
    retired: list[str] = field(default_factory=list)
    pseudonyms: int = 0


def rotate(conn: psycopg.Connection, keyring: Keyring, *, retire: bool = True,
           pseudonym_key: bytes | None = None) -> tuple[Keyring, RotationReport]:
    """A new primary key in front; every identity re-encrypted with it in one transaction;
    old keys dropped when ``retire``. With ``pseudonym_key``, pseudonyms are recomputed."""
    number = 1 + max(int(k.id[1:]) if k.id[1:].isdigit() else 0 for k in keyring.keys)
    fresh = new_encryption_key(f"k{number}")
    rotated = Keyring(keys=(fresh, *keyring.keys),
                      pseudonym_key=pseudonym_key or keyring.pseudonym_key,
                      source=keyring.source)
    report = RotationReport(new_key=fresh.id)
    with conn.transaction():
        rows = conn.execute("SELECT case_id, name_enc, phone_enc, email_enc FROM "
                            "citizen_private.identities FOR UPDATE").fetchall()
        for case_id, *tokens in rows:
            plain = [keyring.decrypt(t) for t in tokens]
            conn.execute("UPDATE citizen_private.identities SET key_id = %s, name_enc = %s, "
                         "phone_enc = %s, email_enc = %s WHERE case_id = %s",
                         (fresh.id, *[rotated.encrypt(p) for p in plain], case_id))
            if pseudonym_key:
                conn.execute("UPDATE citizen_private.cases SET reporter_pseudonym = %s "
                             "WHERE id = %s", (rotated.pseudonym(plain[1] or plain[2]), case_id))
                report.pseudonyms += 1
            report.reencrypted += 1
        texts = conn.execute("SELECT id, content_enc FROM citizen_private.cases "
                             "WHERE content_enc IS NOT NULL FOR UPDATE").fetchall()
        for case_id, token in texts:
            conn.execute("UPDATE citizen_private.cases SET content_enc = %s WHERE id = %s",
                         (rotated.encrypt(keyring.decrypt(token)), case_id))
        report.reencrypted += len(texts)
        audit.record_sync(conn, actor="iocgis citizen", action="citizen.keys.rotate",
                          details={"new_key": fresh.id, "rows": report.reencrypted,
                                   "pseudonyms": report.pseudonyms})
    if retire:
        report.retired = [k.id for k in keyring.keys]
        rotated = Keyring(keys=(fresh,), pseudonym_key=rotated.pseudonym_key,
                          source=keyring.source)
    return rotated, report


# --- retention and erasure -----------------------------------------------------------------

RETENTION = """
WITH old AS (
    SELECT id FROM citizen_private.cases WHERE final_at IS NOT NULL AND final_at < %(identity)s
), ids AS (
    DELETE FROM citizen_private.identities WHERE case_id IN (SELECT id FROM old) RETURNING 1
), pseud AS (
    UPDATE citizen_private.cases SET reporter_pseudonym = NULL, content_enc = NULL
     WHERE id IN (SELECT id FROM old)
       AND (reporter_pseudonym IS NOT NULL OR content_enc IS NOT NULL) RETURNING 1
), locs AS (
    UPDATE citizen_private.photos SET exif_lon = NULL, exif_lat = NULL, exif_taken_at = NULL
     WHERE (exif_lon IS NOT NULL OR exif_taken_at IS NOT NULL) AND case_id IN (
        SELECT id FROM citizen_private.cases WHERE final_at < %(photo_location)s) RETURNING 1
), photos AS (
    DELETE FROM citizen_private.photos WHERE NOT published AND case_id IN (
        SELECT id FROM citizen_private.cases WHERE final_at < %(photos)s) RETURNING 1
)
SELECT (SELECT count(*) FROM ids), (SELECT count(*) FROM pseud), (SELECT count(*) FROM locs),
       (SELECT count(*) FROM photos)
"""


def retention(conn: psycopg.Connection, process: Process, at: datetime, *,
              apply: bool) -> dict[str, int]:
    """What privacy.yaml's retention deletes at ``at``: counted, and deleted with ``apply``
    (otherwise rolled back); audited either way."""
    rule = process.privacy.retention
    params = {"identity": at - timedelta(days=rule.identity_days_after_final),
              "photo_location": at - timedelta(days=rule.photo_location_days_after_final),
              "photos": at - timedelta(days=rule.unpublished_photos_days_after_final)}
    with conn.transaction() as tx:
        counts = conn.execute(RETENTION, params).fetchone()
        if not apply:
            raise psycopg.Rollback(tx)
    result = dict(zip(("identities", "pseudonyms", "photo_locations", "photos"), counts))
    audit.record_sync(conn, actor="iocgis citizen", action="citizen.retention",
                      details={**result, "applied": apply})
    return result


def forget(conn: psycopg.Connection, keyring: Keyring, contact: str, actor: str) -> int:
    """Erase the identity of every report of the reporter with this phone or e-mail (the
    right to erasure); the reports themselves stay, anonymous."""
    pseudonym = keyring.pseudonym(contact)
    with conn.transaction():
        ids = [r[0] for r in conn.execute("SELECT id FROM citizen_private.cases "
                                          "WHERE reporter_pseudonym = %s", (pseudonym,))]
        conn.execute("DELETE FROM citizen_private.identities WHERE case_id = ANY(%s)", (ids,))
        conn.execute("UPDATE citizen_private.cases SET reporter_pseudonym = NULL, "
                     "content_enc = NULL WHERE id = ANY(%s)", (ids,))
        audit.record_sync(conn, actor=actor, action="citizen.identity.erase",
                          details={"reports": len(ids)})
    return len(ids)


def keys_in_use(conn: psycopg.Connection) -> dict[str, int]:
    """Identities per encryption key id (a key may be retired once it has none)."""
    return dict(conn.execute("SELECT key_id, count(*) FROM citizen_private.identities "
                             "GROUP BY key_id ORDER BY key_id").fetchall())


# --- identities that arrived by file import ------------------------------------------------

IMPORTED = """
SELECT r.report_code, r.category, r.content, r.status, r.reported_at, r.commune_code,
       r.reporter_name, r.reporter_phone, ST_X(r.geom), ST_Y(r.geom),
       ST_X(ST_PointOnSurface(a.geom)), ST_Y(ST_PointOnSurface(a.geom)), a.name
FROM citizen.reports r LEFT JOIN admin.communes a ON a.code = r.commune_code
WHERE r.geom IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM citizen_private.cases c WHERE c.report_code = r.report_code)
ORDER BY r.report_code
"""
SEAL = f"""
INSERT INTO citizen_private.cases (report_code, category, content, content_enc, status,
    unit_code, unit_name, commune_code, geom, public_geom, location_precision, location_source,
    channel, reported_at, due_at, final_at, closed_at, reporter_pseudonym)
SELECT %(code)s, %(category)s, %(content)s, %(content_enc)s, %(status)s, %(unit_code)s,
    %(unit_name)s, %(commune)s, {PRECISE_POINT}, {PUBLIC_POINT},
    %(precision)s, 'import', 'import', %(at)s, %(due)s, %(final)s, %(closed)s, %(pseudonym)s
FROM {IN_METRES}
RETURNING id
"""


def seal_imported(conn: psycopg.Connection, keyring: Keyring, process: Process,
                  calendar: WorkingCalendar, actor: str) -> int:
    """Open a case file for every imported report (citizen.reports rows without one): its
    reporter's name and phone encrypted, the plaintext columns emptied (by the projection),
    the text masked, the public copy generalised. Run after importing citizen.reports."""
    from iocgis.citizen.intake import Contact, masked, normal_phone
    from iocgis.citizen.routing import Place, unit_for

    statuses = set(process.workflow.open_statuses) | set(process.workflow.final_statuses) | {
        t.to for t in process.workflow.transitions}
    count = 0
    with conn.transaction():
        for (code, category, content, status, at, commune, name, phone, lon, lat, clon, clat,
             commune_name) in conn.execute(IMPORTED).fetchall():
            category = category if category in process.routing.categories else "khac"
            status = status if status in statuses else "moi"
            try:
                phone = normal_phone(phone)
            except Exception:  # noqa: BLE001 - an imported number that is no phone: keep it
                pass
            contact = Contact(name=name, phone=phone)
            shown = masked(content or "", contact)
            unit = unit_for(process, category, Place(commune, commune_name or commune, None,
                                                     (clon or lon, clat or lat))) \
                if commune else None
            final = at if status in process.workflow.final_statuses else None
            case_id = conn.execute(SEAL, {
                "code": code, "category": category, "content": shown,
                "content_enc": keyring.encrypt(content) if shown != content else None,
                "status": status, "unit_code": unit.code if unit else None,
                "unit_name": unit.vi if unit else None, "commune": commune, "lon": lon,
                "lat": lat, "clon": clon, "clat": clat,
                "precision": process.category(category).public_location, "at": at,
                "due": calendar.deadline(at, process.category(category).sla_working_days),
                "final": final, "closed": at if status == "da_dong" else None,
                "pseudonym": keyring.pseudonym(contact.pseudonym_source)}).fetchone()[0]
            if name or phone:
                conn.execute("INSERT INTO citizen_private.identities (case_id, key_id, "
                             "name_enc, phone_enc) VALUES (%s, %s, %s, %s)",
                             (case_id, keyring.primary.id, keyring.encrypt(name),
                              keyring.encrypt(phone)))
            conn.execute("INSERT INTO citizen_private.transitions (case_id, from_status, "
                         "to_status, actor, actor_kind, note, at) VALUES (%s, NULL, %s, %s, "
                         "'system', 'imported', %s)", (case_id, status, actor, at))
            count += 1
        audit.record_sync(conn, actor=actor, action="citizen.seal_imported",
                          layer="citizen.reports", details={"reports": count})
    return count
