"""A strict reader of HTTP ``Link`` headers (RFC 8288 §3), for tests: quoted values may hold
commas and semicolons, parameter names are case-insensitive, the target is a URI reference."""

from __future__ import annotations

import re

_LINK = re.compile(r'\s*<([^>]*)>((?:\s*;\s*[A-Za-z0-9!#$&+\-.^_`|~*]+\s*'
                   r'(?:=\s*(?:"(?:[^"\\]|\\.)*"|[A-Za-z0-9!#$&+\-.^_`|~]+))?)*)\s*(?:,|$)')
_PARAM = re.compile(r';\s*([A-Za-z0-9!#$&+\-.^_`|~*]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,\s]+))?')


def parse_link_header(value: str) -> list[dict[str, str]]:
    """Each link as ``{"href": ..., "rel": ..., "type": ...}``; a malformed header fails."""
    links, position = [], 0
    while position < len(value.strip()):
        match = _LINK.match(value, position)
        assert match, f"malformed Link header at {position}: {value[position:position + 80]!r}"
        link = {"href": match.group(1)}
        for name, raw in _PARAM.findall(match.group(2)):
            text = raw[1:-1].replace('\\"', '"') if raw.startswith('"') else raw
            link[name.lower()] = text
        links.append(link)
        position = match.end()
    return links
