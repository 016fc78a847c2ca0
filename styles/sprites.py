"""Local map icons: a sprite sheet (PNG + JSON index, 1x and 2x) drawn from a few shapes.

Nothing is fetched: the icons are computed here (anti-aliased by supersampling) and kept in
memory once drawn.
"""

from __future__ import annotations

import json
import struct
import zlib
from functools import lru_cache

import numpy as np

ICON_SIZE = 24  # CSS pixels
# name -> (symbol drawn in white, background colour)
ICONS: dict[str, tuple[str, str]] = {
    "school": ("square", "#fb8c00"),
    "health": ("cross", "#e53935"),
    "shelter": ("house", "#2e7d32"),
    "substation": ("diamond", "#8e24aa"),
    "incident": ("triangle", "#d32f2f"),
    "station": ("dot", "#3949ab"),
}
SUPERSAMPLE = 4


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _symbol(shape: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A mask of the white symbol in the unit square centred on 0 (y grows downwards)."""
    ax, ay = np.abs(x), np.abs(y)
    if shape == "cross":
        return ((ax < 0.09) & (ay < 0.3)) | ((ay < 0.09) & (ax < 0.3))
    if shape == "square":
        return (ax < 0.22) & (ay < 0.18)
    if shape == "diamond":
        return ax + ay < 0.3
    if shape == "triangle":
        return (y < 0.2) & (y > -0.3) & (ax < (y + 0.3) * 0.6)
    if shape == "house":
        roof = (y < -0.02) & (y > -0.3) & (ax < (y + 0.3) * 1.1)
        walls = (ax < 0.2) & (y >= -0.04) & (y < 0.25)
        return roof | walls
    return x * x + y * y < 0.12 ** 2  # dot


def draw_icon(name: str, ratio: int) -> np.ndarray:
    """RGBA pixels of one icon: a coloured disc with a white ring and symbol."""
    shape, color = ICONS[name]
    side = ICON_SIZE * ratio
    n = side * SUPERSAMPLE
    coords = (np.arange(n) + 0.5) / n - 0.5
    x, y = np.meshgrid(coords, coords)
    r = np.sqrt(x * x + y * y)
    disc = r < 0.47
    inner = r < 0.40
    symbol = _symbol(shape, x, y) & inner
    rgb = np.zeros((n, n, 3), dtype=np.float64)
    rgb[...] = 255.0  # the white ring and symbol
    rgb[inner & ~symbol] = _rgb(color)
    alpha = disc.astype(np.float64)

    def down(a: np.ndarray) -> np.ndarray:
        return a.reshape(side, SUPERSAMPLE, side, SUPERSAMPLE, *a.shape[2:]).mean(axis=(1, 3))

    a = down(alpha)
    premultiplied = down(rgb * alpha[..., None])
    with np.errstate(invalid="ignore", divide="ignore"):
        colour = np.where(a[..., None] > 0, premultiplied / a[..., None], 0)
    out = np.dstack([colour, a * 255.0])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def png(pixels: np.ndarray) -> bytes:
    """A minimal RGBA PNG encoder (filter 0, zlib)."""
    height, width, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


@lru_cache(maxsize=2)
def sprite(ratio: int) -> tuple[bytes, bytes]:
    """(index JSON, PNG) of the sprite sheet at a pixel ratio of 1 or 2: icons in one row."""
    side = ICON_SIZE * ratio
    names = sorted(ICONS)
    sheet = np.zeros((side, side * len(names), 4), dtype=np.uint8)
    index = {}
    for i, name in enumerate(names):
        sheet[:, i * side:(i + 1) * side] = draw_icon(name, ratio)
        index[name] = {"x": i * side, "y": 0, "width": side, "height": side, "pixelRatio": ratio}
    return json.dumps(index).encode(), png(sheet)
