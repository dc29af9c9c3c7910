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
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if not (0.0 <= p_noise <= 1.0):
            raise ValueError(f"p_noise must be in [0, 1], got {p_noise}")
        tasks = self.train_tasks if split.startswith("id") else self.ood_tasks
        pairs = self.train_pairs if split.endswith("train") else self.val_pairs
        m = n_ctx if k is None else k + 1
        if not (1 <= m <= n_ctx):
            raise ValueError(f"k must be in [0, n_ctx - 1], got {k}")
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


def make_icl_tasks(p: int = 29, n_task: int = 8, alpha: float = 0.5, *, seed: int = 0, n_ood: int = 256) -> ICLTaskSet:
    """T = 4 n_task pretraining tasks by the parallelogram rule, up to n_ood unseen tasks, and the
    input split (first round(alpha p^2) pairs of a seeded permutation for training)."""
    if p < 3:
        raise ValueError(f"p must be >= 3, got {p}")
    if not (0.0 < alpha < 1.0):
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not (1 <= n_task and 4 * n_task <= p * p):
        raise ValueError(f"n_task must be in [1, p^2/4], got {n_task}")
    rng = np.random.default_rng(seed)
    for _ in range(100):  # greedy packing can run out of bases when 4 n_task is close to p^2: retry
        tasks = _parallelogram_tasks(rng, p, n_task)
        if tasks is not None:
            break
    else:
        raise ValueError(f"n_task: could not build {4 * n_task} distinct parallelogram tasks for p = {p} in 100 attempts")
    seen = set(tasks)
    rest = np.array([t for t in np.ndindex(p, p) if t not in seen])
    ood = rest[rng.permutation(len(rest))[:n_ood]]
    perm = rng.permutation(p * p)
    n_tr = int(round(alpha * p * p))
    pairs = np.stack(np.divmod(perm, p), axis=1)
    return ICLTaskSet(p=p, train_tasks=np.array(tasks), ood_tasks=ood, train_pairs=pairs[:n_tr],
                      val_pairs=pairs[n_tr:])
