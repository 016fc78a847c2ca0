"""Taking a report in (the form and Open311 alike): check it, find its commune and unit, keep
the identity encrypted, the photos' EXIF location internal, and record the first steps."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool

from iocgis.citizen import photos as photo_rules
from iocgis.citizen.context import CitizenContext
from iocgis.citizen.routing import IN_METRES, PRECISE_POINT, PUBLIC_POINT, Unit, commune_at, unit_for
from iocgis.citizen.workflow import Actor, Step, apply, clean_text
from iocgis.errors import InvalidInput
from iocgis.security import audit

MIN_TEXT = 10
MAX_TEXT = 4000
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")
LOCATION_SOURCES = ("map", "device", "app", "photo", "import")

# The point as sent and its public point (iocgis.citizen.routing).
INSERT_CASE = f"""
INSERT INTO citizen_private.cases (report_code, category, content, content_enc, status,
    commune_code, geom,
    public_geom, location_precision, location_source, address, channel, client_account,
    reported_at, due_at, reporter_pseudonym, tracking_hash)
SELECT 'PA-' || to_char(%(at)s::timestamptz AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY') || '-'
        || lpad(nextval('citizen_private.report_number')::text, 6, '0'),
    %(category)s, %(content)s, %(content_enc)s, 'moi', %(commune)s, {PRECISE_POINT},
    {PUBLIC_POINT},
    %(precision)s, %(source)s, %(address)s, %(channel)s, %(client_account)s, %(at)s, %(due)s,
    %(pseudonym)s, %(tracking)s
FROM {IN_METRES}
RETURNING id, report_code
"""


@dataclass(frozen=True)
class Contact:
    name: str | None = None
    phone: str | None = None
    email: str | None = None

    @property
    def pseudonym_source(self) -> str | None:
        """What links one reporter's reports: the phone (digits), else the e-mail."""
        return self.phone or self.email


@dataclass(frozen=True)
class Submission:
    category: str
    text: str
    lon: float
    lat: float
    channel: str  # web | open311
    location_source: str = "map"
    address: str | None = None
    contact: Contact = Contact()
    photos: tuple[bytes, ...] = ()
    client_account: str | None = None
    actor: str = "citizen"
    received_at: datetime | None = None  # library callers only (imports, tests)


@dataclass(frozen=True)
class Receipt:
    report_code: str
    tracking_token: str
    status: str
    unit: Unit
    commune_code: str
    due_at: datetime
    photo_ids: tuple[str, ...] = field(default_factory=tuple)


PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?84|0)(?:[\s.\-]?\d){8,10}(?!\d)")
EMAIL_IN_TEXT = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MASK = "[đã ẩn]"


def masked(text: str, contact: Contact) -> str:
    """The text with phone numbers, e-mail addresses and the reporter's own name hidden: what
    officers without the personal-data right read (citizen.reports.content)."""
    out = EMAIL_IN_TEXT.sub(MASK, PHONE_IN_TEXT.sub(MASK, text))
    if contact.name and len(contact.name) >= 3:
        out = re.sub(re.escape(contact.name), MASK, out, flags=re.IGNORECASE)
    return out


def normal_phone(value: str | None) -> str | None:
    """Vietnamese numbers as 0 + 9-10 digits (+84 and spaces, dots, dashes removed)."""
    if not value or not value.strip():
        return None
    digits = re.sub(r"[\s.\-()]", "", value.strip())
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) >= 11:
        digits = "0" + digits[2:]
    if not re.fullmatch(r"0\d{9,10}", digits):
        raise InvalidInput("the phone number is not a Vietnamese number", where="phone",
                           hint="write it as 0912345678 or +84912345678, or leave it empty")
    return digits


def normal_email(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    email = value.strip().lower()
    if not EMAIL_RE.match(email):
        raise InvalidInput("the e-mail address is not valid", where="email",
                           hint="write it as ten@example.vn, or leave it empty")
    return email


def coordinate(value: object, where: str, low: float, high: float) -> float:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidInput(f"{where} must be a number", where=where,
                           hint="pick the place on the map") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise InvalidInput(f"{where} {number} is outside {low}..{high}", where=where,
                           hint="pick the place on the map")
    return number


def check(context: CitizenContext, submission: Submission) -> Submission:
    """The submission with its texts cleaned, or InvalidInput naming the field."""
    if submission.category not in context.process.routing.categories:
        raise InvalidInput(f"unknown category {submission.category[:40]!r}", where="category",
                           hint="use one of: " + ", ".join(context.process.routing.categories))
    text = clean_text(submission.text, "text", limit=MAX_TEXT) or ""
    if len(text) < MIN_TEXT:
        raise InvalidInput(f"the text needs at least {MIN_TEXT} characters", where="text",
                           hint="say what is wrong and where")
    if submission.location_source not in LOCATION_SOURCES:
        raise InvalidInput("unknown location source", where="location_source",
                           hint=f"use one of: {', '.join(LOCATION_SOURCES)}")
    rules = context.process.privacy.photos
    if len(submission.photos) > rules.max_count:
        raise InvalidInput(f"at most {rules.max_count} photos", where="photos",
                           hint="send fewer photos")
    contact = Contact(name=clean_text(submission.contact.name, "name", limit=200),
                      phone=normal_phone(submission.contact.phone),
                      email=normal_email(submission.contact.email))
    return Submission(**{**submission.__dict__, "text": text, "contact": contact,
                         "address": clean_text(submission.address, "address", limit=300)})


async def submit(context: CitizenContext, submission: Submission,
                 client: str | None = None) -> Receipt:
    submission = check(context, submission)
    place = await commune_at(context.reader, context.registry, submission.lon, submission.lat)
    category = context.process.category(submission.category)
    unit = unit_for(context.process, submission.category, place)
    rules = context.process.privacy.photos
    processed = [await run_in_threadpool(photo_rules.process, data, rules, where=f"photo {i + 1}")
                 for i, data in enumerate(submission.photos)]
    received = submission.received_at or datetime.now(UTC)
    due = context.calendar.deadline(received, category.sla_working_days)
    token = secrets.token_urlsafe(24)
    keyring = context.keyring
    contact = submission.contact
    shown = masked(submission.text, contact)
    async with context.pool.connection() as conn, conn.transaction():
        cur = await conn.execute(INSERT_CASE, {
            "at": received, "category": submission.category, "content": shown,
            "content_enc": keyring.encrypt(submission.text) if shown != submission.text else None,
            "commune": place.commune_code, "lon": submission.lon, "lat": submission.lat,
            "precision": category.public_location, "clon": place.centre[0],
            "clat": place.centre[1], "source": submission.location_source,
            "address": submission.address, "channel": submission.channel,
            "client_account": submission.client_account, "due": due,
            "pseudonym": keyring.pseudonym(contact.pseudonym_source),
            "tracking": hashlib.sha256(token.encode()).hexdigest()})
        case_id, code = await cur.fetchone()
        if contact.name or contact.phone or contact.email:
            await conn.execute(
                "INSERT INTO citizen_private.identities (case_id, key_id, name_enc, phone_enc, "
                "email_enc) VALUES (%s, %s, %s, %s, %s)",
                (case_id, keyring.primary.id, keyring.encrypt(contact.name),
                 keyring.encrypt(contact.phone), keyring.encrypt(contact.email)))
        for photo in processed:
            await conn.execute(
                "INSERT INTO citizen_private.photos (case_id, public_id, content_type, width, "
                "height, bytes_sent, image, exif_lon, exif_lat, exif_taken_at) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (case_id, photo.public_id, photo.content_type, photo.width, photo.height,
                 photo.bytes_sent, photo.image, photo.exif_lon, photo.exif_lat,
                 photo.exif_taken_at))
        await conn.execute(
            "INSERT INTO citizen_private.transitions (case_id, from_status, to_status, actor, "
            "actor_kind, note, at) VALUES (%s, NULL, 'moi', %s, 'reporter', %s, %s)",
            (case_id, submission.actor, f"channel {submission.channel}", received))
        await audit.record(conn, actor=submission.actor, action="citizen.report.received",
                           target=code, layer="citizen.reports", client=client,
                           details={"channel": submission.channel, "category":
                                    submission.category, "commune": place.commune_code,
                                    "photos": len(processed)})
        status = "moi"
        system = Actor(name="system", kind="system", client=client)
        intake = context.process.workflow.intake
        if intake.auto_classify:
            status = (await apply(conn, context.process, case_id, Step(
                to="da_phan_loai", note="category chosen by the reporter"), system))["status"]
            if intake.auto_assign:
                status = (await apply(conn, context.process, case_id, Step(
                    to="da_giao", unit=unit, note="routing rules"), system))["status"]
    return Receipt(report_code=code, tracking_token=token, status=status, unit=unit,
                   commune_code=place.commune_code, due_at=due,
                   photo_ids=tuple(p.public_id for p in processed))
