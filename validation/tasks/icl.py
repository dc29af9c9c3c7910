"""In-context modular arithmetic (``docs/icl_grokking.md`` §1; He et al. 2024).

A task is a vector (a, b) in Z_p^2; an example is (x, y, z = (a x + b y) mod p), three tokens, and a
sequence holds n_ctx examples (the last one is the query).  Vocabulary = p tokens (one per residue).
The model reads the sequence causally and is scored on each z, predicted at the position of the y
before it (loss mask ``mask_all``; headline accuracy ``mask_final``: the query's z only).

Batch layout (§1, after He et al.): :meth:`ICLTaskSet.batch` draws r = ``n_seqs`` input sequences,
each of n_ctx pairs drawn i.i.d. (repeats allowed) from the split's pairs, and puts EVERY task of the
split on each of them: B = r x (tasks of the split) rows, task-major, so row ``t * r + j`` is task t on
sequence j (all tasks share the same r sequences).  A training step of batch size B therefore needs B
to be a multiple of T = 4 n_task (``icl_training.ICLRun`` checks it; r = B / T).  Evaluation
(:meth:`ICLTaskSet.eval_batches`, :func:`icl_evaluation`) uses at least 64 fresh sequences per split x
all tasks of the split, and reports beside the accuracies the chance level 1/p, the ratio-matching
ceiling and the copyable fraction (:func:`query_coverage`).

Choices that §1 leaves open (documented here): base task vectors are drawn from all p^2 vectors;
held-out ("val") splits follow ``val_protocol``: 'all' (default) draws every example of a sequence,
context included, from the held-out pairs (the query pair is never a training pair); 'query' draws the
context from the training pairs and only the query from the held-out pairs.  alpha = 1 keeps every pair
for training: the task set then has no held-out pairs and only the splits 'id_train' and 'ood_train'
(``ICLTaskSet.splits``); asking for a val split raises ValueError.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grokphase import _checks as chk

SPLITS = ("id_train", "id_val", "ood_train", "ood_val")
VAL_PROTOCOLS = ("all", "query")
#: The fewest fresh input sequences per split an evaluation uses (§1).
MIN_EVAL_SEQS = 64


@dataclass(frozen=True)
class ICLTaskSet:
    """train_tasks (T, 2) and ood_tasks (n_ood, 2) task vectors; train_pairs (n_train, 2) and
    val_pairs (n_val, 2) input pairs (n_val = 0 when alpha = 1); ``val_protocol`` in VAL_PROTOCOLS
    (module docstring)."""

    p: int
    train_tasks: np.ndarray
    ood_tasks: np.ndarray
    train_pairs: np.ndarray
    val_pairs: np.ndarray
    val_protocol: str = "all"

    def __post_init__(self):
        chk.choice("val_protocol", self.val_protocol, VAL_PROTOCOLS)

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits this task set can draw (SPLITS without the val splits when no pair is held out)."""
        return tuple(s for s in SPLITS if (s.endswith("train") or len(self.val_pairs)) and
                     len(self.train_tasks if s.startswith("id") else self.ood_tasks))

    def tasks_of(self, split: str) -> np.ndarray:
        """The task vectors (n, 2) of ``split``: the pretraining tasks for 'id_*', the unseen ones for 'ood_*'."""
        chk.choice("split", split, SPLITS)
        return self.train_tasks if split.startswith("id") else self.ood_tasks

    def _pairs(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(context pairs, query pairs) of ``split``; ValueError when the split cannot be drawn."""
        tasks = self.tasks_of(split)
        if len(tasks) == 0:
            raise ValueError(f"split: {split!r} has no tasks in this task set (no unseen task vector is left); "
                             f"available splits: {self.splits}")
        if split.endswith("train"):
            return self.train_pairs, self.train_pairs
        if len(self.val_pairs) == 0:
            raise ValueError(f"split: {split!r} needs held-out input pairs, but this task set keeps all "
                             f"{len(self.train_pairs)} of the p^2 = {self.p * self.p} pairs for training "
                             f"(alpha = 1, or round(alpha p^2) = p^2); available splits: {self.splits}; "
                             "use alpha < 1 for the val splits")
        return (self.train_pairs if self.val_protocol == "query" else self.val_pairs), self.val_pairs

    def batch(self, rng: np.random.Generator, split: str, n_seqs: int, n_ctx: int, *,
              p_noise: float = 0.0, k: int | None = None):
        """One batch of ``split`` in the balanced layout (module docstring).

        Parameters
        ----------
        rng : numpy.random.Generator
        split : one of SPLITS (and of ``self.splits``).
        n_seqs : int >= 1
            r, the number of input sequences; every task of the split appears once on each.
        n_ctx : int >= 1
            Examples per sequence; with ``k`` only the last k + 1 (k context examples before the query).
        p_noise : float in [0, 1]
            Each context label is replaced by a uniform token with this probability (independently per
            row); the query and all targets stay clean.
        k : int in [0, n_ctx - 1] or None

        Returns
        -------
        tokens, targets : (B, 3 m) int64, B = n_seqs x len(tasks_of(split)), m = n_ctx or k + 1;
            row ``t * n_seqs + j`` is task t on sequence j.  targets hold z at the y position before it.
        mask_all, mask_final : (B, 3 m) bool
            Every z target position; the query's only (column 3 m - 2).
        """
        p_noise = chk.real("p_noise", p_noise, 0.0, 1.0)
        n_seqs = chk.integer("n_seqs", n_seqs, 1, note="input sequences per batch, each carrying every task")
        n_ctx = chk.integer("n_ctx", n_ctx, 1, note="examples per sequence")
        tasks = self.tasks_of(split)
        ctx_pairs, query_pairs = self._pairs(split)
        m = n_ctx if k is None else chk.integer("k", k, 0, n_ctx - 1, note="context examples before the query") + 1
        if ctx_pairs is query_pairs:
            xy = ctx_pairs[rng.integers(0, len(ctx_pairs), size=(n_seqs, m))]            # (r, m, 2)
        else:                                   # query-held-out protocol: context from training pairs
            xy = np.concatenate([ctx_pairs[rng.integers(0, len(ctx_pairs), size=(n_seqs, m - 1))],
                                 query_pairs[rng.integers(0, len(query_pairs), size=(n_seqs, 1))]], axis=1)
        n_t = len(tasks)
        B = n_t * n_seqs
        t = np.repeat(tasks, n_seqs, axis=0)                                  # (B, 2), task-major
        xy = np.tile(xy, (n_t, 1, 1))                                         # (B, m, 2): row t r + j <- seq j
        z = (t[:, :1] * xy[:, :, 0] + t[:, 1:] * xy[:, :, 1]) % self.p        # (B, m)
        zin = z.copy()
        if p_noise > 0 and m > 1:
            noisy = rng.random((B, m - 1)) < p_noise
            zin[:, :-1] = np.where(noisy, rng.integers(0, self.p, size=(B, m - 1)), z[:, :-1])
        tokens = np.empty((B, 3 * m), np.int64)
        tokens[:, 0::3] = xy[:, :, 0]
        tokens[:, 1::3] = xy[:, :, 1]
        tokens[:, 2::3] = zin
        targets = np.zeros_like(tokens)
        targets[:, 1::3] = z
        mask_all = np.zeros(tokens.shape, bool)
        mask_all[:, 1::3] = True
        mask_final = np.zeros(tokens.shape, bool)
        mask_final[:, 3 * m - 2] = True
        return tokens, targets, mask_all, mask_final

    def eval_batches(self, rng: np.random.Generator, n_ctx: int, n_seqs: int = MIN_EVAL_SEQS, splits=None,
                     **kw) -> dict:
        """{split: :meth:`batch`} with ``n_seqs`` >= MIN_EVAL_SEQS fresh sequences x all tasks of each
        split (default: every split in ``self.splits``), drawn in that order from ``rng``; ``kw``
        (p_noise, k) as in :meth:`batch`."""
        n_seqs = chk.integer("n_seqs", n_seqs, MIN_EVAL_SEQS, note="fresh input sequences per split for an evaluation")
        splits = self.splits if splits is None else tuple(splits)
        return {s: self.batch(rng, s, n_seqs, n_ctx, **kw) for s in splits}


def query_coverage(tokens, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Which queries the context already answers, from the tokens alone (§1).

    Parameters
    ----------
    tokens : (B, 3 m) int array, m >= 1 examples (x, y, z) per row, the last being the query; entries in [0, p).
    p : int >= 2, the modulus.

    Returns
    -------
    ratio : (B,) bool
        Some context example i has (x_q, y_q) = c (x_i, y_i) mod p for a c in Z_p, so that for every
        task z_q = c z_i mod p (linearity): a "ratio matcher" answers it from that one example.  This
        includes the copyable queries (c = 1) and the query (0, 0) (c = 0).  The ratio-matching ceiling
        is ``ratio.mean()``; a matcher that guesses uniformly otherwise scores ceiling + (1 - ceiling)/p.
        Computed from the pairs only (a noisy context label would make the matched answer wrong).
    copyable : (B,) bool
        The query pair occurs among the context pairs.

    A query with no context (m = 1) is neither.
    """
    p = chk.integer("p", p, 2, note="modulus")
    tokens = chk.int_array("tokens", tokens, ndim=2, lo=0, hi=p - 1)
    if tokens.shape[1] % 3:
        raise ValueError(f"tokens must have 3 m columns (m examples x, y, z); got shape {tokens.shape}")
    x, y = tokens[:, 0::3].astype(np.int64), tokens[:, 1::3].astype(np.int64)
    xc, yc, xq, yq = x[:, :-1], y[:, :-1], x[:, -1:], y[:, -1:]
    copyable = ((xc == xq) & (yc == yq)).any(axis=1)
    ratio = np.zeros(len(tokens), bool)
    for c in range(p):              # (B, m - 1) at a time: p passes, no (p, B, m) temporaries
        ratio |= (((c * xc) % p == xq) & ((c * yc) % p == yq)).any(axis=1)
    return ratio, copyable


_ATTRS = {"acc_last": ("accuracy at the query's z", "1"), "acc_all": ("accuracy over every z position", "1"),
          "loss_last": ("cross-entropy at the query's z", "nat"), "chance": ("chance accuracy 1/p", "1"),
          "ratio_ceiling": ("fraction of queries a context example fixes as c (x_i, y_i)", "1"),
          "copyable": ("fraction of queries whose pair occurs in the context", "1"),
          "n_seqs": ("fresh input sequences", "1"), "n_tasks": ("tasks of the split", "1"),
          "n_queries": ("queries (sequences x tasks)", "1")}


def _split_dataset(cols: dict, splits: list, p: int):
    import xarray as xr

    return xr.Dataset({k: ("split", np.asarray(v), {"long_name": _ATTRS[k][0], "units": _ATTRS[k][1]})
                       for k, v in cols.items()}, coords={"split": list(splits)}, attrs={"p": int(p)})


def coverage_stats(tasks: ICLTaskSet, batches: dict):
    """What the evaluation sets themselves fix, as an ``xarray.Dataset`` over ``split`` (in the order
    of ``batches``, {split: (tokens, targets, mask_all, mask_final)} from :meth:`ICLTaskSet.batch`):
    ``n_seqs``, ``n_tasks``, ``n_queries`` (= n_seqs x n_tasks), ``chance`` (1/p), ``ratio_ceiling``
    and ``copyable`` (fractions of the queries, :func:`query_coverage`)."""
    if not batches:
        raise ValueError("batches must hold at least one split")
    cols = {k: [] for k in ("n_seqs", "n_tasks", "n_queries", "chance", "ratio_ceiling", "copyable")}
    for split, (tok, *_rest) in batches.items():
        n_t = len(tasks.tasks_of(split))
        if n_t == 0 or len(tok) % n_t:
            raise ValueError(f"batches[{split!r}] has {len(tok)} rows, not a multiple of the split's {n_t} tasks "
                             "(draw it with ICLTaskSet.batch)")
        ratio, copy = query_coverage(tok, tasks.p)
        for key, v in (("n_seqs", len(tok) // n_t), ("n_tasks", n_t), ("n_queries", len(tok)), ("chance", 1.0 / tasks.p),
                       ("ratio_ceiling", float(ratio.mean())), ("copyable", float(copy.mean()))):
            cols[key].append(v)
    return _split_dataset(cols, list(batches), tasks.p)


def icl_evaluation(logits_fn, tasks: ICLTaskSet, batches: dict):
    """Accuracies and the context's coverage per split, as an ``xarray.Dataset`` over ``split``.

    Parameters
    ----------
    logits_fn : callable, tokens (B, L) -> logits (B, L, V >= p) (e.g. ``Transformer.logits``).
    tasks : the ICLTaskSet the batches were drawn from.
    batches : {split: (tokens, targets, mask_all, mask_final)}, e.g. :meth:`ICLTaskSet.eval_batches`.

    Returns
    -------
    xarray.Dataset over ``split`` (in the order of ``batches``): ``acc_last`` (the query's z; the
    headline), ``acc_all`` (every z position), ``loss_last`` (nats), and :func:`coverage_stats`
    (``chance``, ``ratio_ceiling``, ``copyable``, ``n_seqs``, ``n_tasks``, ``n_queries``).
    """
    from grokphase.validation.nn.loss import cross_entropy

    stats = coverage_stats(tasks, batches)
    cols = {k: [] for k in ("acc_last", "acc_all", "loss_last")}
    for tok, tg, m_all, m_fin in batches.values():
        logits = logits_fn(tok)
        loss, _, _, ok = cross_entropy(logits[m_fin], tg[m_fin])
        cols["acc_last"].append(float(ok.mean()))
        cols["acc_all"].append(float(cross_entropy(logits[m_all], tg[m_all])[3].mean()))
        cols["loss_last"].append(loss)
    return _split_dataset(cols, list(batches), tasks.p).merge(stats)


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


def make_icl_tasks(p: int = 29, n_task: int = 8, alpha: float = 0.5, *, seed: int = 0, n_ood: int = 256,
                   val_protocol: str = "all") -> ICLTaskSet:
    """T = 4 n_task pretraining tasks by the parallelogram rule, up to n_ood unseen tasks, and the
    input split (first round(alpha p^2) pairs of a seeded permutation for training).

    p >= 3, 1 <= n_task <= ``max_n_task(p)`` (p^2/4 for even p, floor(p (p - 1)/4) for odd p),
    n_ood >= 1 integers; alpha in (0, 1] with round(alpha p^2) >= 1 (alpha = 1: no held-out pairs,
    so no 'id_val' / 'ood_val' split); ``val_protocol`` in VAL_PROTOCOLS: how the val splits draw
    their sequences ('all': every pair held out; 'query': context from the training pairs, query
    held out).  Tasks: the greedy random packing (10 attempts), then a seeded relabelling of a
    largest packing (``_rectangles``), which exists up to the bound."""
    p = chk.integer("p", p, 3, note="modulus")
    alpha = chk.real("alpha", alpha, 0.0, 1.0, lo_open=True, note="training fraction of the pairs; 1: none held out")
    if int(round(alpha * p * p)) < 1:
        raise ValueError(f"alpha must leave at least one training pair: round(alpha p^2) = 0 for alpha = {alpha!r} "
                         f"at p = {p}; use alpha >= 1/p^2 = {1 / (p * p):.3g}")
    chk.choice("val_protocol", val_protocol, VAL_PROTOCOLS)
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
                      val_pairs=pairs[n_tr:], val_protocol=val_protocol)
