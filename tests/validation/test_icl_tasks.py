"""The in-context task family's batch layout, evaluation sets and context coverage (docs/icl_grokking.md §1).

Independent checks: each row's task is recovered by brute force over all p^2 task vectors from its
(x, y, z) triples; the ratio-matching ceiling is compared with (a) enumerating every multiple c in
Z_p, (b) the determinant criterion for prime p, (c) its meaning (one context example fixes the query's
z for every task vector) and (d) a ratio matcher that is never wrong on the queries it flags.
"""

import collections
import dataclasses
import itertools

import numpy as np
import pytest

from grokphase.validation.experiments import icl_training
from grokphase.validation.experiments.uncertainty_runs import diversity_run, study_run
from grokphase.validation.tasks.icl import (MIN_EVAL_SEQS, SPLITS, coverage_stats, icl_evaluation, make_icl_tasks,
                                            query_coverage)


def _pairs(tok):
    """(B, m, 2) input pairs of a token batch."""
    return np.stack([tok[:, 0::3], tok[:, 1::3]], axis=-1)


def _recover_tasks(tok, tg, p):
    """Each row's task vector by brute force: the unique (a, b) in Z_p^2 that fits every (x, y, z) of
    the row (z from the targets); None where the row does not determine it."""
    ab = np.array(list(itertools.product(range(p), repeat=2)))                  # (p^2, 2)
    xy, z = _pairs(tok), tg[:, 1::3]
    fits = ((ab[None, None, :, 0] * xy[:, :, None, 0] + ab[None, None, :, 1] * xy[:, :, None, 1]) % p
            == z[:, :, None]).all(axis=1)                                         # (B, p^2)
    return [tuple(int(v) for v in ab[np.flatnonzero(f)[0]]) if f.sum() == 1 else None for f in fits]


@pytest.mark.parametrize("p,n_task,alpha,split,r", [(7, 2, 0.8, "id_train", 5), (7, 10, 0.8, "id_train", 3),
                                                    (11, 3, 0.6, "id_val", 4), (11, 3, 0.6, "ood_val", 2),
                                                    (5, 1, 0.7, "ood_train", 6)])
def test_every_task_appears_r_times_on_r_shared_sequences(p, n_task, alpha, split, r):
    ts = make_icl_tasks(p, n_task, alpha, seed=3, n_ood=6)
    tok, tg, m_all, m_fin = ts.batch(np.random.default_rng(1), split, r, 16)
    tasks = [tuple(int(v) for v in t) for t in ts.tasks_of(split)]
    T = len(tasks)
    assert tok.shape == (r * T, 48) and m_fin.sum() == r * T and m_all.sum() == 16 * r * T
    # every row's task, recovered from its triples alone: each task of the split exactly r times
    rec = _recover_tasks(tok, tg, p)
    assert None not in rec
    assert collections.Counter(rec) == {t: r for t in tasks}
    # exactly r distinct input sequences, each carrying every task once; row t r + j is task t on sequence j
    seqs = [tuple(map(tuple, s)) for s in _pairs(tok)]
    assert len(set(seqs)) == r
    for s in set(seqs):
        assert sorted(rec[i] for i in range(len(seqs)) if seqs[i] == s) == sorted(tasks)
    assert all(rec[t * r + j] == tasks[t] and seqs[t * r + j] == seqs[j] for t in range(T) for j in range(r))
    # the pairs come from the split's pairs only; labels are the clean z
    allowed = set(map(tuple, ts.train_pairs if split.endswith("train") else ts.val_pairs))
    assert set(map(tuple, _pairs(tok).reshape(-1, 2).tolist())) <= allowed
    assert np.array_equal(tok[:, 2::3], tg[:, 1::3])


def test_pairs_are_iid_with_repeats_and_cover_the_split():
    """Within a row the pairs are i.i.d. from the split: with 40 draws from 9 pairs repeats occur and
    every pair shows up over a few sequences."""
    ts = make_icl_tasks(3, 1, 1.0, seed=0, n_ood=1)
    tok, *_ = ts.batch(np.random.default_rng(0), "id_train", 4, 40)
    xy = _pairs(tok[:4])
    assert all(len(set(map(tuple, row))) < 40 for row in xy)                     # repeats within a row
    assert set(map(tuple, xy.reshape(-1, 2).tolist())) == set(map(tuple, ts.train_pairs.tolist()))


def test_batches_are_reproducible_per_seed():
    ts = make_icl_tasks(7, 3, 0.6, seed=1)
    for split in SPLITS:
        a = ts.batch(np.random.default_rng(5), split, 3, 6, p_noise=0.3)
        b = ts.batch(np.random.default_rng(5), split, 3, 6, p_noise=0.3)
        c = ts.batch(np.random.default_rng(6), split, 3, 6, p_noise=0.3)
        assert all(np.array_equal(u, v) for u, v in zip(a, b)) and not np.array_equal(a[0], c[0])
    t2 = make_icl_tasks(7, 3, 0.6, seed=1)
    assert all(np.array_equal(getattr(ts, f), getattr(t2, f)) for f in ("train_tasks", "ood_tasks", "train_pairs"))


def test_noise_keeps_the_layout_and_the_query_clean():
    ts = make_icl_tasks(7, 2, 0.8, seed=0)
    tok, tg, *_ = ts.batch(np.random.default_rng(2), "id_train", 50, 6, p_noise=1.0)
    clean, *_ = ts.batch(np.random.default_rng(2), "id_train", 50, 6, p_noise=0.0)
    assert np.array_equal(_pairs(tok), _pairs(clean))                            # same sequences first
    assert np.array_equal(tok[:, -1], tg[:, -2])                                 # query label clean
    assert (tok[:, 2:-1:3] != tg[:, 1:-2:3]).mean() == pytest.approx(6 / 7, abs=0.03)


def test_k_context_examples():
    ts = make_icl_tasks(7, 2, 0.8, seed=0)
    tok, tg, m_all, m_fin = ts.batch(np.random.default_rng(0), "ood_val", 2, 8, k=3)
    assert tok.shape == (2 * len(ts.ood_tasks), 12) and np.all(np.argmax(m_fin, axis=1) == 10)
    with pytest.raises(ValueError, match=r"k must be an integer in \[0, 7\]"):
        ts.batch(np.random.default_rng(0), "ood_val", 2, 8, k=8)
    with pytest.raises(ValueError, match="n_seqs"):
        ts.batch(np.random.default_rng(0), "ood_val", 0, 8)


def test_alpha_one_keeps_every_pair_and_has_no_val_splits():
    ts = make_icl_tasks(7, 2, 1.0, seed=0)
    assert len(ts.val_pairs) == 0 and sorted(map(tuple, ts.train_pairs.tolist())) == list(np.ndindex(7, 7))
    assert ts.splits == ("id_train", "ood_train")
    for split in ("id_val", "ood_val"):
        with pytest.raises(ValueError, match=r"split: '\w+_val' needs held-out input pairs.*alpha = 1.*alpha < 1"):
            ts.batch(np.random.default_rng(0), split, 2, 4)
        with pytest.raises(ValueError, match="needs held-out input pairs"):
            ts.eval_batches(np.random.default_rng(0), 4, splits=(split,))
    assert list(ts.eval_batches(np.random.default_rng(0), 4)) == ["id_train", "ood_train"]
    # the training split of alpha = 1 is the same task set's: tasks do not depend on alpha
    assert np.array_equal(ts.train_tasks, make_icl_tasks(7, 2, 0.5, seed=0).train_tasks)
    with pytest.raises(ValueError, match=r"alpha must be a finite number in \(0, 1\]"):
        make_icl_tasks(7, 2, 1.5)
    with pytest.raises(ValueError, match="alpha must leave at least one training pair"):
        make_icl_tasks(7, 2, 0.005)
    with pytest.raises(ValueError, match="val_protocol"):
        make_icl_tasks(7, 2, 0.5, val_protocol="context")


@pytest.mark.parametrize("split", ["id_val", "ood_val"])
def test_query_held_out_protocol(split):
    ts = make_icl_tasks(7, 3, 0.6, seed=4, val_protocol="query")
    train, val = set(map(tuple, ts.train_pairs.tolist())), set(map(tuple, ts.val_pairs.tolist()))
    for k in (None, 0, 2):
        tok, *_ = ts.batch(np.random.default_rng(0), split, 40, 6, k=k)
        xy = _pairs(tok)
        assert set(map(tuple, xy[:, -1].tolist())) <= val                       # queries: held-out only
        assert set(map(tuple, xy[:, :-1].reshape(-1, 2).tolist())) <= train      # context: training only
        assert len(set(map(tuple, xy[:, -1].tolist()))) > 1
    # the default protocol holds out every pair; the training splits are the same under both
    tok, *_ = make_icl_tasks(7, 3, 0.6, seed=4).batch(np.random.default_rng(0), split, 40, 6)
    assert set(map(tuple, _pairs(tok).reshape(-1, 2).tolist())) <= val
    a = ts.batch(np.random.default_rng(0), "id_train", 3, 6)[0]
    b = make_icl_tasks(7, 3, 0.6, seed=4).batch(np.random.default_rng(0), "id_train", 3, 6)[0]
    assert np.array_equal(a, b)


# --------------------------------------------------------------------------- ratio ceiling, copyable
def _coverage_brute(tokens, p):
    """Enumerate, per row, every multiple c (x_i, y_i) of every context pair (plain Python)."""
    ratio, copy = [], []
    for row in tokens.tolist():
        pairs = [(row[3 * i], row[3 * i + 1]) for i in range(len(row) // 3)]
        q, ctx = pairs[-1], pairs[:-1]
        copy.append(q in ctx)
        ratio.append(any(((c * x) % p, (c * y) % p) == q for x, y in ctx for c in range(p)))
    return np.array(ratio, bool), np.array(copy, bool)


def _fixed_by_one_example(tokens, p):
    """The meaning of the ceiling: some context example i fixes the query's z for every task vector,
    i.e. over all (a, b) in Z_p^2 the query z is a function of z_i."""
    ab = np.array(list(itertools.product(range(p), repeat=2)))
    out = []
    for row in tokens:
        xq, yq = row[-3], row[-2]
        zq = (ab[:, 0] * xq + ab[:, 1] * yq) % p
        ok = False
        for i in range(len(row) // 3 - 1):
            zi = (ab[:, 0] * row[3 * i] + ab[:, 1] * row[3 * i + 1]) % p
            ok |= all(len(set(zq[zi == v].tolist())) <= 1 for v in range(p))
        out.append(ok)
    return np.array(out, bool)


@pytest.mark.parametrize("p", [2, 3, 4, 5, 6, 7, 9])
def test_query_coverage_matches_brute_force(p):
    rng = np.random.default_rng(p)
    for m in (1, 2, 3, 5):
        tok = rng.integers(0, p, size=(300, 3 * m))
        ratio, copy = query_coverage(tok, p)
        r2, c2 = _coverage_brute(tok, p)
        assert np.array_equal(ratio, r2) and np.array_equal(copy, c2)
        assert np.array_equal(ratio, _fixed_by_one_example(tok, p))
        assert not (copy & ~ratio).any()                                    # copyable => ratio-matchable
        if m == 1:
            assert not ratio.any() and not copy.any()
        if p in (2, 3, 5, 7) and m > 1:                                     # prime p: a determinant test
            x, y = tok[:, 0::3], tok[:, 1::3]
            det0 = (x[:, -1:] * y[:, :-1] - y[:, -1:] * x[:, :-1]) % p == 0
            nonzero = (x[:, :-1] != 0) | (y[:, :-1] != 0)
            qzero = (x[:, -1:] == 0) & (y[:, -1:] == 0)
            assert np.array_equal(ratio, (det0 & (nonzero | qzero)).any(axis=1))
        if m > 1 and p >= 5:
            assert 0 < ratio.mean() < 1 and 0 < copy.mean() < ratio.mean()   # not a degenerate sample


def test_query_coverage_hand_built():
    def row(pairs, p):
        return np.array([[v for x, y in pairs for v in (x, y, (x + 2 * y) % p)]])

    cases = [  # (p, context pairs + query, ratio, copyable)
        (7, [(1, 2), (3, 3), (2, 4)], True, False),      # (2, 4) = 2 (1, 2)
        (7, [(1, 2), (3, 3), (1, 2)], True, True),       # a copy
        (7, [(1, 2), (3, 3), (2, 3)], False, False),     # no multiple of (1, 2) or (3, 3)
        (7, [(1, 2), (3, 3), (5, 5)], True, False),      # (5, 5) = 4 (3, 3)
        (7, [(1, 2), (0, 0)], True, False),              # (0, 0) = 0 (1, 2): z = 0 for every task
        (7, [(0, 0), (1, 2)], False, False),             # only (0, 0) is a multiple of (0, 0)
        (7, [(4, 1)], False, False),                     # no context
        (6, [(2, 4), (4, 2)], True, False),              # (4, 2) = 2 (2, 4) mod 6
        (6, [(2, 4), (1, 2)], False, False),             # det = 0 mod 6, yet 2 c = 1 has no solution
        (6, [(3, 0), (3, 3), (0, 3)], False, False),     # (0, 3) is not c (3, 0) nor c (3, 3) mod 6
        (4, [(2, 2), (2, 2)], True, True),
    ]
    for p, pairs, want_ratio, want_copy in cases:
        ratio, copy = query_coverage(row(pairs, p), p)
        assert (bool(ratio[0]), bool(copy[0])) == (want_ratio, want_copy), (p, pairs)
    with pytest.raises(ValueError, match="tokens must hold integers in"):
        query_coverage(np.array([[1, 2, 7]]), 7)
    with pytest.raises(ValueError, match="3 m columns"):
        query_coverage(np.zeros((2, 4), int), 7)


def _ratio_matcher(tok, p):
    """Answer the query as c z_i from the first context example it is a multiple of (-1: none)."""
    out = np.full(len(tok), -1)
    for b, row in enumerate(tok):
        xq, yq = row[-3], row[-2]
        for i, c in itertools.product(range(len(row) // 3 - 1), range(p)):
            if ((c * row[3 * i]) % p, (c * row[3 * i + 1]) % p) == (xq, yq):
                out[b] = (c * row[3 * i + 2]) % p
                break
    return out


def test_ceiling_is_what_a_ratio_matcher_gets_right():
    """On real batches (clean labels) the matcher answers exactly the flagged queries, and is right on
    all of them: the ceiling is sound."""
    ts = make_icl_tasks(7, 2, 0.8, seed=1)
    for split in ("id_train", "ood_val"):
        tok, tg, _, m_fin = ts.batch(np.random.default_rng(0), split, 64, 4)
        ratio, _ = query_coverage(tok, 7)
        guess = _ratio_matcher(tok, 7)
        assert np.array_equal(guess >= 0, ratio)
        assert np.array_equal(guess[ratio], tg[m_fin][ratio])
        assert 0.1 < ratio.mean() < 0.9


# --------------------------------------------------------------------------- evaluation
def test_evaluation_uses_at_least_64_sequences_per_split_and_reports_the_ceiling():
    ts = make_icl_tasks(7, 2, 0.8, seed=1)
    sets = ts.eval_batches(np.random.default_rng(3), 5)
    assert list(sets) == list(SPLITS)
    for split, (tok, *_) in sets.items():
        assert len(tok) == 64 * len(ts.tasks_of(split))
        assert len({tuple(r) for r in _pairs(tok).reshape(len(tok), -1).tolist()}) == 64
    with pytest.raises(ValueError, match=r"n_seqs must be an integer >= 64"):
        ts.eval_batches(np.random.default_rng(3), 5, 63)

    def oracle(tok):                   # logits that put the next token first: right at every z
        lg = np.zeros(tok.shape + (7,))
        nxt = np.concatenate([tok[:, 1:], tok[:, :1]], axis=1)
        np.put_along_axis(lg, nxt[..., None], 1.0, axis=-1)
        return lg

    ev = icl_evaluation(oracle, ts, sets)
    assert ev.acc_last.dims == ("split",) and ev.split.values.tolist() == list(SPLITS)
    assert np.all(ev.acc_last == 1.0) and np.all(ev.acc_all == 1.0) and np.all(ev.chance == 1 / 7)
    assert ev.n_seqs.values.tolist() == [64] * 4
    assert ev.n_tasks.values.tolist() == [8, 8, len(ts.ood_tasks), len(ts.ood_tasks)]
    zero = icl_evaluation(lambda tok: np.zeros(tok.shape + (7,)), ts, sets)      # argmax 0 everywhere
    for split, (tok, tg, m_all, m_fin) in sets.items():
        ratio, copy = _coverage_brute(tok, 7)
        e = zero.sel(split=split)
        assert float(e.ratio_ceiling) == ratio.mean() and float(e.copyable) == copy.mean()
        assert float(e.acc_last) == np.mean(tg[m_fin] == 0) and float(e.acc_all) == np.mean(tg[m_all] == 0)
        assert float(e.loss_last) == pytest.approx(np.log(7))
    assert coverage_stats(ts, sets).identical(zero[list(coverage_stats(ts, sets).data_vars)])


def test_training_runs_use_the_balanced_layout_and_64_sequence_evaluation(tmp_path):
    run = dataclasses.replace(icl_training.PRESETS["smoke"], steps=4, warmup=1, log_every=4, d_model=8, n_heads=2)
    *_, tasks, eval_sets = icl_training._build(run)
    batch_fn = icl_training._build(run)[2]
    tok, tg, mask = batch_fn(0, np.random.default_rng(0))
    T, r = 4 * run.n_task, run.batch // (4 * run.n_task)
    assert len(tok) == run.batch and len({tuple(s) for s in _pairs(tok).reshape(len(tok), -1).tolist()}) == r
    t = np.repeat(tasks.train_tasks, r, axis=0)                   # row t r + j: task t on sequence j
    xy = _pairs(tok)
    assert np.array_equal(tg[:, 1::3], (t[:, :1] * xy[..., 0] + t[:, 1:] * xy[..., 1]) % run.p) and mask.sum() == 4 * T * r
    assert all(len(v[0]) == MIN_EVAL_SEQS * len(tasks.tasks_of(s)) for s, v in eval_sets.items())
    summary = icl_training.run_icl(run, tmp_path, progress=False)
    stats = summary["eval_sets"]
    assert set(stats) == set(SPLITS) and all(v["n_seqs"] == 64 and v["chance"] == 1 / 5 for v in stats.values())
    assert all(0 <= v["copyable"] <= v["ratio_ceiling"] <= 1 for v in stats.values())
    assert {f"{s}_acc" for s in SPLITS} <= set(summary["final"])
    with pytest.raises(ValueError, match=r"batch must be a multiple of T = 4 n_task = 16.*e\.g\. use 48 or 64"):
        dataclasses.replace(run, batch=50)
    with pytest.raises(ValueError, match="eval_seqs must be an integer >= 64"):
        dataclasses.replace(run, eval_seqs=32)


def test_presets_and_grid_batches_are_multiples_of_T():
    for name, run in icl_training.PRESETS.items():
        assert run.batch % (4 * run.n_task) == 0, name
    assert icl_training.PRESETS["study-p7-adamw"].batch == 120 == icl_training.PRESETS["study-p7-ivon"].batch
    assert icl_training.PRESETS["p7-T40"].batch == 240
    assert study_run("icl", "adamw", 0)[0].batch == 120
    assert [diversity_run(n, 0.5, 0)[0].batch for n in (1, 2, 4, 6, 10)] == [120, 120, 128, 120, 120]
