"""In-context modular arithmetic (``docs/icl_grokking.md`` §1; He et al. 2024).

A task is a vector (a, b) in Z_p^2; an example is (x, y, z = (a x + b y) mod p), three tokens, and a
sequence holds n_ctx examples (the last one is the query).  Vocabulary = p tokens (one per residue).
The model reads the sequence causally and is scored on each z, predicted at the position of the y
before it (loss mask ``mask_all``; headline accuracy ``mask_final``: the query's z only).

Choices that §1 leaves open (documented here): base task vectors are drawn from all p^2 vectors;
in the held-out ("val") splits every example of a sequence, context included, uses held-out input
pairs (so the query pair is never a training pair); one batch shares a single random order of input
pairs across its sequences (one input sequence per batch; §1 describes r = B/T shared sequences).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grokphase import _checks as chk

SPLITS = ("id_train", "id_val", "ood_train", "ood_val")


@dataclass(frozen=True)
class ICLTaskSet:
    """train_tasks (T, 2) and ood_tasks (n_ood, 2) task vectors; train_pairs / val_pairs (n, 2) inputs."""

    p: int
    train_tasks: np.ndarray
    ood_tasks: np.ndarray
    train_pairs: np.ndarray
    val_pairs: np.ndarray

    def batch(self, rng: np.random.Generator, split: str, batch_size: int, n_ctx: int, *,
              p_noise: float = 0.0, k: int | None = None):
        """(tokens (B, 3m), targets (B, 3m), mask_all, mask_final) for ``split`` in SPLITS, with
        m = n_ctx examples, or the last k + 1 of them (k context examples before the query) when
        k is given.  Context labels are replaced by uniform tokens with probability p_noise (the
        query and all targets stay clean)."""
        chk.choice("split", split, SPLITS)
        p_noise = chk.real("p_noise", p_noise, 0.0, 1.0)
        batch_size = chk.integer("batch_size", batch_size, 1)
        n_ctx = chk.integer("n_ctx", n_ctx, 1, note="examples per sequence")
        tasks = self.train_tasks if split.startswith("id") else self.ood_tasks
        pairs = self.train_pairs if split.endswith("train") else self.val_pairs
        if len(tasks) == 0 or len(pairs) == 0:
            raise ValueError(f"split: {split!r} has no {'tasks' if len(tasks) == 0 else 'input pairs'} in this task set")
        m = n_ctx if k is None else chk.integer("k", k, 0, n_ctx - 1, note="context examples before the query") + 1
        t = tasks[rng.integers(0, len(tasks), size=batch_size)]          # (B, 2)
        xy = pairs[rng.integers(0, len(pairs), size=m)]                  # (m, 2), shared order
        z = (t[:, :1] * xy[None, :, 0] + t[:, 1:] * xy[None, :, 1]) % self.p   # (B, m)
        zin = z.copy()
        if p_noise > 0 and m > 1:
            noisy = rng.random((batch_size, m - 1)) < p_noise
            zin[:, :-1] = np.where(noisy, rng.integers(0, self.p, size=(batch_size, m - 1)), z[:, :-1])
        tokens = np.empty((batch_size, 3 * m), np.int64)
        tokens[:, 0::3] = xy[None, :, 0]
        tokens[:, 1::3] = xy[None, :, 1]
        tokens[:, 2::3] = zin
        targets = np.zeros_like(tokens)
        targets[:, 1::3] = z
        mask_all = np.zeros(tokens.shape, bool)
        mask_all[:, 1::3] = True
        mask_final = np.zeros(tokens.shape, bool)
        mask_final[:, 3 * m - 2] = True
        return tokens, targets, mask_all, mask_final


def _parallelogram_tasks(rng: np.random.Generator, p: int, n_task: int) -> list | None:
    """One greedy attempt: bases in random order, each completed by a random (x', y') whose three
    new tasks are unseen; None when the bases run out first."""
    seen: set[tuple[int, int]] = set()
    tasks: list[tuple[int, int]] = []
    for base in rng.permutation(p * p):
        if len(tasks) == 4 * n_task:
            break
        a, b = divmod(int(base), p)
        if (a, b) in seen:
            continue
        for _ in range(1000):
            x = int(rng.integers(0, p))
            y = int(rng.integers(0, p))
            if x in (a, b) or y in (a, b, x):
                continue
            new = [(a, b), (a, y), (x, b), (x, y)]
            if len(set(new)) == 4 and not any(t in seen for t in new):
                break
        else:
            continue
        seen.update(new)
        tasks.extend(new)
    return tasks if len(tasks) == 4 * n_task else None


def _rectangles(p: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """A largest set of disjoint rectangles (row pair R, column pair C, R != C) of Z_p^2, so
    ``max_n_task(p)`` of them, built from differences d = c - r mod p:

    * p even: R = {2i, 2i + 1}, C = {2j + 1, 2j + 2} (every cell);
    * p odd: the translates over i in Z_p of R = {i, i + 1}, C = {i + 4t + 2, i + 4t + 4} cover the
      differences {4t + 1, ..., 4t + 4} once each (t = 0, 1, ... while 4t + 4 <= p - 1); for
      p = 3 mod 4 the rectangles R = {i, i + 1}, C = {i - 1, i} (i = 0, 2, ..., p - 3) then pack
      the differences {0, -1, -2}.  Each row holds an odd number of cells, so at least one per row
      stays free: p (p - 1) / 4 rectangles at most, reached here (p = 3 mod 4: its floor)."""
    if p % 2 == 0:
        return [((2 * i, 2 * i + 1), ((2 * j + 1) % p, (2 * j + 2) % p)) for i in range(p // 2) for j in range(p // 2)]
    out = [((i, (i + 1) % p), ((i + 4 * t + 2) % p, (i + 4 * t + 4) % p))
           for t in range((p - 1) // 4) for i in range(p)]
    if p % 4 == 3:
        out += [((i, i + 1), ((i - 1) % p, i)) for i in range(0, p - 2, 2)]
    return out


def max_n_task(p: int) -> int:
    """The largest n_task for which 4 n_task distinct parallelogram tasks exist in Z_p^2: p^2 / 4 for
    even p, floor(p (p - 1) / 4) for odd p (each row of the p x p grid is covered in pairs)."""
    return p * p // 4 if p % 2 == 0 else p * (p - 1) // 4


def _packed_tasks(rng: np.random.Generator, p: int, n_task: int) -> list:
    """n_task rectangles of ``_rectangles`` under a random relabelling of Z_p (the same for rows and
    columns, which keeps R != C), each written as (a, b), (a, y), (x, b), (x, y) with the rule's
    x not in {a, b}, y not in {a, b, x}."""
    perm = rng.permutation(p)
    rects = _rectangles(p)
    tasks = []
    for k in rng.permutation(len(rects))[:n_task]:
        R, C = ([int(perm[v]) for v in pair] for pair in rects[k])
        for a, x in (R, R[::-1]):
            for b, y in (C, C[::-1]):
                if x not in (a, b) and y not in (a, b, x):
                    break
            else:
                continue
            break
        tasks += [(a, b), (a, y), (x, b), (x, y)]
    return tasks


def make_icl_tasks(p: int = 29, n_task: int = 8, alpha: float = 0.5, *, seed: int = 0, n_ood: int = 256) -> ICLTaskSet:
    """T = 4 n_task pretraining tasks by the parallelogram rule, up to n_ood unseen tasks, and the
    input split (first round(alpha p^2) pairs of a seeded permutation for training).

    p >= 3, 1 <= n_task <= ``max_n_task(p)`` (p^2/4 for even p, floor(p (p - 1)/4) for odd p),
    n_ood >= 1 integers; alpha in (0, 1).  Tasks: the greedy random packing (10 attempts), then
    a seeded relabelling of a largest packing (``_rectangles``), which exists up to the bound."""
    p = chk.integer("p", p, 3, note="modulus")
    alpha = chk.real("alpha", alpha, 0.0, 1.0, lo_open=True, hi_open=True, note="training fraction of the pairs")
    n_task = chk.integer("n_task", n_task, 1, max_n_task(p),
                         note=f"4 n_task distinct parallelogram tasks fit in Z_{p}^2 up to this")
    n_ood = chk.integer("n_ood", n_ood, 1)
    rng = np.random.default_rng(chk.seed("seed", seed))
    for _ in range(10):  # greedy packing can run out of bases when 4 n_task is close to p^2: retry
        tasks = _parallelogram_tasks(rng, p, n_task)
        if tasks is not None:
            break
    else:
        tasks = _packed_tasks(rng, p, n_task)
    seen = set(tasks)
    rest = np.array([t for t in np.ndindex(p, p) if t not in seen]).reshape(-1, 2)
    ood = rest[rng.permutation(len(rest))[:n_ood]]
    perm = rng.permutation(p * p)
    n_tr = int(round(alpha * p * p))
    pairs = np.stack(np.divmod(perm, p), axis=1)
    return ICLTaskSet(p=p, train_tasks=np.array(tasks), ood_tasks=ood, train_pairs=pairs[:n_tr],
                      val_pairs=pairs[n_tr:])
