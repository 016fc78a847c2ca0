"""Photos of a report: checked by what they are (not what the client says), the EXIF location
kept for the officers, and a published copy re-encoded from the pixels alone - no EXIF, XMP,
ICC profile, comment or thumbnail survives."""

from __future__ import annotations

import io
import secrets
import warnings
from dataclasses import dataclass

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from iocgis.citizen.definitions import PhotoRules
from iocgis.errors import InvalidInput, PayloadTooLarge

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True)
class Photo:
    public_id: str
    content_type: str  # of the published copy
    width: int
    height: int
    bytes_sent: int
    image: bytes  # the published copy
    exif_lon: float | None
    exif_lat: float | None
    exif_taken_at: str | None


def _degrees(value: tuple, ref: str | None) -> float | None:
    try:
        d, m, s = (float(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = d + m / 60 + s / 3600
    return -result if ref in ("S", "W") else result


def exif_location(image: Image.Image) -> tuple[float | None, float | None, str | None]:
    """Longitude, latitude and the time taken, from the EXIF GPS and EXIF blocks."""
    exif = image.getexif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo) if exif else {}
    lon = lat = None
    if gps:
        lat = _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef))
        lon = _degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef))
    taken = exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal) if exif else None
    return lon, lat, (str(taken)[:40] if taken else None)


def process(data: bytes, rules: PhotoRules, *, where: str = "photo") -> Photo:
    """Check one photo and make its published copy (CPU work: run it in a thread)."""
    if len(data) > rules.max_bytes:
        raise PayloadTooLarge(f"{where} is larger than {rules.max_bytes // (1024 * 1024)} MiB",
                              where=where, hint="send a smaller photo")
    Image.MAX_IMAGE_PIXELS = rules.max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            kind = FORMATS.get(image.format or "")
            if kind is None or kind not in rules.types:
                raise InvalidInput(f"{where} is not a photo of an accepted type", where=where,
                                   hint=f"send one of: {', '.join(rules.types)}")
            if image.width * image.height > rules.max_pixels:
                raise InvalidInput(f"{where} has too many pixels", where=where,
                                   hint="send a smaller photo")
            lon, lat, taken = exif_location(image)
            upright = ImageOps.exif_transpose(image)
            upright.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise InvalidInput(f"{where} cannot be read as an image", where=where,
                           hint=f"send a JPEG, PNG or WebP photo ({str(exc)[:80]})") from None
    published = _published_copy(upright, rules.publish_max_side)
    return Photo(public_id=secrets.token_urlsafe(12), content_type="image/jpeg",
                 width=published.width, height=published.height, bytes_sent=len(data),
                 image=_jpeg(published), exif_lon=lon, exif_lat=lat, exif_taken_at=taken)


def _published_copy(image: Image.Image, max_side: int) -> Image.Image:
    rgb = image.convert("RGB")
    rgb.thumbnail((max_side, max_side))
    # A new image from the pixels only: nothing of the original's info dictionary comes along.
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    return clean


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()
