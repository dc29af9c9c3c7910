"""The 4-slot polygon-sum task (the uniformity paper's image dataset, in small).

Task: ``docs/uniformity_med.md`` (§5).  Each of 4 slots holds one of 11
symbols: 0 = empty, s = 1..10 a regular polygon with s + 2 sides (3..12); the label is the total
number of sides (0..48; the values 1 and 2 never occur), so ``n_classes`` = 49.  All 11^4 = 14,641
combinations; a seeded shuffle puts ``floor(frac 11^4)`` of them (25% by default) in training.

Symbolic version: the combinations themselves, (N, 4) symbol ids.  Rendered version
(:func:`render`): a 2 x 2 grid of ``tile`` x ``tile`` px binary images (slot order: top-left,
top-right, bottom-left, bottom-right); a polygon is drawn as its outline plus the spokes from the
centre to its vertices (one vertex at the top), rasterised by dense sampling of each segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["N_SYMBOLS", "N_SLOTS", "sides", "PolygonDataset", "polygon_dataset", "symbol_image", "render"]

N_SYMBOLS = 11
N_SLOTS = 4


def sides(symbols) -> np.ndarray:
    """Number of sides of symbol ids (0 for the empty symbol, s + 2 otherwise)."""
    s = np.asarray(symbols)
    if s.size and (s.min() < 0 or s.max() >= N_SYMBOLS):
        raise ValueError(f"symbols must be ids in [0, {N_SYMBOLS}), got range [{s.min()}, {s.max()}]")
    return np.where(s == 0, 0, s + 2)


@dataclass(frozen=True)
class PolygonDataset:
    """combos (11^4, 4) symbol ids, labels (11^4,) total sides, train_idx / test_idx."""

    combos: np.ndarray
    labels: np.ndarray
    train_idx: np.ndarray
    test_idx: np.ndarray
    n_classes: int = 4 * 12 + 1

    def split(self, which: str):
        """(combos, labels) of 'train' or 'test'."""
        if which not in ("train", "test"):
            raise ValueError(f"which must be 'train' or 'test', got {which!r}")
        idx = self.train_idx if which == "train" else self.test_idx
        return self.combos[idx], self.labels[idx]


def polygon_dataset(frac: float = 0.25, *, seed: int = 0) -> PolygonDataset:
    """All 11^4 slot combinations with a seeded train/test split (module docstring)."""
    total = N_SYMBOLS**N_SLOTS
    n_train = int(np.floor(frac * total))
    if not (0.0 < frac < 1.0 and 1 <= n_train < total):
        raise ValueError(f"frac must be in (0, 1) leaving training and test combinations, got {frac}")
    combos = np.stack(np.unravel_index(np.arange(total), (N_SYMBOLS,) * N_SLOTS), axis=1).astype(np.int64)
    labels = sides(combos).sum(axis=1).astype(np.int64)
    perm = np.random.default_rng(seed).permutation(total)
    return PolygonDataset(combos=combos, labels=labels, train_idx=np.sort(perm[:n_train]),
                          test_idx=np.sort(perm[n_train:]))


def _segment(img: np.ndarray, p0, p1) -> None:
    n = int(4 * max(abs(p1[0] - p0[0]), abs(p1[1] - p0[1]))) + 2
    t = np.linspace(0.0, 1.0, n)
    r = np.rint(p0[0] + t * (p1[0] - p0[0])).astype(int)
    c = np.rint(p0[1] + t * (p1[1] - p0[1])).astype(int)
    img[r, c] = 1.0


@lru_cache(maxsize=None)
def _symbol_image(symbol: int, tile: int) -> np.ndarray:
    img = np.zeros((tile, tile))
    if symbol:
        n = symbol + 2
        centre = (tile - 1) / 2
        radius = 0.45 * (tile - 1)
        ang = -np.pi / 2 + 2 * np.pi * np.arange(n) / n
        verts = [(centre + radius * np.sin(a), centre + radius * np.cos(a)) for a in ang]
        for j in range(n):
            _segment(img, verts[j], verts[(j + 1) % n])
            _segment(img, (centre, centre), verts[j])
    img.flags.writeable = False
    return img


def symbol_image(symbol: int, tile: int = 16) -> np.ndarray:
    """The (tile, tile) image of one symbol (read-only; empty symbol: all zeros)."""
    if not (0 <= int(symbol) < N_SYMBOLS):
        raise ValueError(f"symbol must be in [0, {N_SYMBOLS}), got {symbol}")
    if not (isinstance(tile, int) and tile >= 8):
        raise ValueError(f"tile must be an integer >= 8 px, got {tile!r}")
    return _symbol_image(int(symbol), tile)


def render(combos: np.ndarray, tile: int = 16, dtype=np.float32) -> np.ndarray:
    """Images (N, 1, 2 tile, 2 tile) of slot combinations (N, 4) (module docstring)."""
    combos = np.asarray(combos)
    if combos.ndim != 2 or combos.shape[1] != N_SLOTS:
        raise ValueError(f"combos must have shape (N, {N_SLOTS}), got {combos.shape}")
    sides(combos)  # validates the ids
    tiles = np.stack([symbol_image(s, tile) for s in range(N_SYMBOLS)]).astype(dtype)   # (11, t, t)
    out = np.empty((combos.shape[0], 1, 2 * tile, 2 * tile), dtype=dtype)
    for slot, (r, c) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        out[:, 0, r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = tiles[combos[:, slot]]
    return out
