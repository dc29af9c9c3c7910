"""Test pairs of a ``ModularDataset`` by what training showed of their two ids.

Definitions: ``docs/uniformity_med.md`` (§2).  With S1 / S2 the ids
that appear in training as first / second operand, a test pair (a, t) (t = b + d) is

* ``both_seen``  : a in S1 and t in S2 (each id seen in its own role);
* ``other_role`` : not both_seen, but a and t are both in S1 | S2 (an id seen only in the other
                   operand role: with d = 60 the ids 60..k of a strip split);
* ``never_seen`` : a or t never appears in training (its row only feels weight decay).

``ModularDataset.ceiling()`` is the share of the first two categories.  :func:`collapsed_ceiling`
is the sharper bound once the never-seen rows have decayed to one common vector: pairs that then
look identical to the model (never-seen ids replaced by one placeholder) get one answer, so each
such group contributes at most the count of its most frequent label.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CATEGORIES", "pair_categories", "never_seen_ids", "category_accuracy", "collapsed_ceiling"]

CATEGORIES = ("both_seen", "other_role", "never_seen")


def _seen(ds):
    tr = ds.tokens[ds.train_idx]
    s1 = np.zeros(ds.vocab_size, bool)
    s2 = np.zeros(ds.vocab_size, bool)
    s1[tr[:, 0]] = True
    s2[tr[:, 1]] = True
    return s1, s2


def never_seen_ids(ds) -> np.ndarray:
    """Operand ids (0..p+d-1) that appear in no training pair, sorted."""
    s1, s2 = _seen(ds)
    return np.flatnonzero(~(s1 | s2)[:ds.p + ds.offset])


def pair_categories(ds) -> np.ndarray:
    """Category code (index into ``CATEGORIES``) of every test pair, shape (n_test,), int8."""
    s1, s2 = _seen(ds)
    t = ds.tokens[ds.test_idx]
    a, b = t[:, 0], t[:, 1]
    any_seen = s1 | s2
    out = np.full(len(t), 1, np.int8)
    out[s1[a] & s2[b]] = 0
    out[~(any_seen[a] & any_seen[b])] = 2
    return out


def category_accuracy(correct: np.ndarray, categories: np.ndarray) -> dict:
    """{"acc_<cat>": accuracy or None (empty category), "n_<cat>": count} for each category;
    correct (n_test,) bool in the order of ``ds.test_idx``."""
    correct = np.asarray(correct, bool)
    if correct.shape != categories.shape:
        raise ValueError(f"correct has shape {correct.shape}, categories {categories.shape}")
    out = {}
    for i, name in enumerate(CATEGORIES):
        sel = categories == i
        out[f"n_{name}"] = int(sel.sum())
        out[f"acc_{name}"] = float(correct[sel].mean()) if sel.any() else None
    return out


def collapsed_ceiling(ds) -> float:
    """Upper bound on test accuracy when all never-seen rows coincide (module docstring)."""
    s1, s2 = _seen(ds)
    seen = s1 | s2
    t = ds.tokens[ds.test_idx]
    lab = ds.labels[ds.test_idx]
    ok = seen[t[:, 0]] & seen[t[:, 1]]
    key_a = np.where(seen[t[:, 0]], t[:, 0], -1)
    key_b = np.where(seen[t[:, 1]], t[:, 1], -1)
    groups = {}
    for ka, kb, y in zip(key_a[~ok], key_b[~ok], lab[~ok]):
        g = groups.setdefault((int(ka), int(kb)), {})
        g[int(y)] = g.get(int(y), 0) + 1
    best = sum(max(g.values()) for g in groups.values())
    return float((ok.sum() + best) / len(t))
