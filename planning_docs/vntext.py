"""Vietnamese text as the search index stores it: NFC and one tone-mark placement.

Two spellings of the same syllable are in use: the older one puts the tone mark on the first
vowel of an open ``oa``/``oe``/``uy`` (hòa, khỏe, thủy), the newer one on the second (hoà,
khoẻ, thuỷ). Both are written here the newer way, in documents and in queries alike, so the
exact-accent index matches either. Diacritics themselves are folded by the database
(``planning_docs.vn_folded``: unaccent), which also merges distinct words (hòa / hóa): the
exact index is what ranks a true match first.
"""

from __future__ import annotations

import re
import unicodedata

TONES = "\u0300\u0301\u0309\u0303\u0323"  # huyền, sắc, hỏi, ngã, nặng
PAIRS = ("oa", "oe", "uy")
# The longest text indexed per document: PostgreSQL's tsvector holds at most 1 MB.
MAX_INDEXED_CHARS = 400_000


def _old_to_new() -> dict[str, str]:
    table = {}
    for first, second in PAIRS:
        for tone in TONES:
            for upper in (False, True):
                a, b = (first.upper(), second.upper()) if upper else (first, second)
                old = unicodedata.normalize("NFC", a + tone + b)
                new = unicodedata.normalize("NFC", a + b + tone)
                table[old] = new
    return table


OLD_TO_NEW = _old_to_new()
# An open syllable: the pair ends the word (no final consonant or vowel after it).
_OLD_STYLE = re.compile("(" + "|".join(sorted(OLD_TO_NEW, key=len, reverse=True)) + r")(?!\w)",
                        re.IGNORECASE)


def _mixed(match: re.Match[str]) -> str:
    text = match.group(1)
    key = text if text in OLD_TO_NEW else text.lower()
    new = OLD_TO_NEW.get(key, text)
    # Keep each letter's case: the replacement has the same two letters.
    return "".join(n.upper() if o.isupper() else n for o, n in zip(text, new, strict=True))


def normalise(text: str) -> str:
    """NFC with the newer tone-mark placement (Hòa -> Hoà), case kept."""
    return _OLD_STYLE.sub(_mixed, unicodedata.normalize("NFC", text))


def search_text(*parts: str | None) -> str:
    """What the index is built from (and snippets are cut from): the parts joined, normalised,
    capped. The text search configurations fold case themselves."""
    joined = " ".join(p for p in parts if p)
    return normalise(joined)[:MAX_INDEXED_CHARS]
