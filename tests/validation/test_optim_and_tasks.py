"""AdamW against an independent closed form, schedules, clipping, and the task generators."""

import math

import numpy as np
import pytest

from grokphase.validation.optim import SGD, AdamW, clip_grad_norm, warmup_cosine
from grokphase.validation.progress import fourier_sparsity, med
from grokphase.validation.tasks import copy_batch, make_icl_tasks, modular_dataset


def adam_reference(p0, grads, lr, b1, b2, eps, wd):
    """Scalar-by-scalar AdamW in plain Python floats (torch.optim.AdamW's documented algorithm)."""
    p, m, v, out = float(p0), 0.0, 0.0, []
    for t, g in enumerate(grads, start=1):
        p = p - lr * wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * mhat / (math.sqrt(vhat) + eps)
        out.append(p)
    return out


def test_adamw_matches_the_closed_form(rng):
    p0 = rng.standard_normal(5)
    gs = rng.standard_normal((7, 5))
    params = {"w": p0.copy()}
    opt = AdamW(params, lr=0.01, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.5)
    traj = []
    for g in gs:
        opt.step(params, {"w": g.copy()})
        traj.append(params["w"].copy())
    for j in range(5):
        ref = adam_reference(p0[j], gs[:, j], 0.01, 0.9, 0.98, 1e-8, 0.5)
        np.testing.assert_allclose(np.array(traj)[:, j], ref, rtol=1e-13, atol=1e-15)


def test_optimisers_keep_float32():
    params = {"w": np.ones(4, np.float32)}
    for opt in (AdamW(params, lr=1e-3, weight_decay=1.0), SGD(params, lr=1e-2, momentum=0.9, weight_decay=0.1)):
        opt.step(params, {"w": np.full(4, 0.5, np.float32)}, lr=np.float64(1e-3).item())
        assert params["w"].dtype == np.float32
        assert all(v.dtype == np.float32 for k, v in opt.state().items() if k != "t")


def test_sgd_momentum_closed_form():
    params = {"w": np.array([1.0])}
    opt = SGD(params, lr=0.1, momentum=0.5)
    for g in (1.0, 1.0, 1.0):
        opt.step(params, {"w": np.array([g])})
    # buffers 1, 1.5, 1.75 -> w = 1 - 0.1 (1 + 1.5 + 1.75)
    assert params["w"][0] == pytest.approx(1 - 0.425, abs=1e-15)


def test_clip_and_schedule():
    g = {"a": np.array([3.0]), "b": np.array([4.0])}
    assert clip_grad_norm(g, 1.0) == pytest.approx(5.0)
    assert math.hypot(g["a"][0], g["b"][0]) == pytest.approx(1.0, rel=1e-6)
    assert [warmup_cosine(s, warmup=10, total=100) for s in (0, 5, 10, 99)] == [0.0, 0.5, 1.0, 1.0]
    assert warmup_cosine(0, warmup=10, total=110, start=0.01, final=0.1) == pytest.approx(0.01)
    assert warmup_cosine(60, warmup=10, total=110, start=0.01, final=0.1) == pytest.approx(0.55)
    assert warmup_cosine(110, warmup=10, total=110, start=0.01, final=0.1) == pytest.approx(0.1)


@pytest.mark.parametrize("k,expected", [(40, 0.396), (50, 0.249), (60, 0.116), (67, 0.118)])
def test_strip_split_ceiling_matches_the_spec(k, expected):
    ds = modular_dataset(97, "add", 0.3, split="strip", k=k, offset=60)
    assert ds.ceiling() == pytest.approx(expected, abs=6e-4)
    assert set(np.flatnonzero(ds.tokens[:, 0] <= k)) <= set(ds.test_idx)
    assert not np.any(ds.tokens[ds.train_idx][:, 0] <= k)


def test_modular_labels_and_rectangle_split():
    ds = modular_dataset(13, "quad", 0.4, split="rectangle", k=4, seed=3)
    a, b = ds.tokens[:, 0], ds.tokens[:, 1]
    assert np.array_equal(ds.labels, (a * a + a * b + b * b) % 13)
    tr = ds.tokens[ds.train_idx]
    assert not np.any((tr[:, 0] <= 4) & (tr[:, 1] <= 4))
    assert len(ds.train_idx) == int(0.4 * 169) and len(set(ds.train_idx) | set(ds.test_idx)) == 169
    with pytest.raises(ValueError, match="p must be a prime"):
        modular_dataset(12)


def test_icl_tasks_follow_the_parallelogram_rule_and_splits(rng):
    ts = make_icl_tasks(11, 6, 0.6, seed=2)
    T = [tuple(t) for t in ts.train_tasks]
    assert len(T) == 24 == len(set(T))
    for i in range(0, 24, 4):
        (a, b), (a2, y), (x, b2), (x2, y2) = T[i:i + 4]
        assert a2 == a and b2 == b and x2 == x and y2 == y
    assert not set(map(tuple, ts.ood_tasks)) & set(T)
    assert len(ts.train_pairs) == round(0.6 * 121)
    tok, tg, m_all, m_fin = ts.batch(rng, "ood_val", 4, 5, p_noise=0.0)
    n = 4 * len(ts.ood_tasks)                                      # 4 sequences x every OOD task
    x, y, z = tok[:, 0::3], tok[:, 1::3], tok[:, 2::3]
    assert np.all(tg[:, 1::3] == z) and m_all.sum() == n * 5 and m_fin.sum() == n
    val = set(map(tuple, ts.val_pairs))
    assert all((int(u), int(v)) in val for u, v in zip(x.ravel(), y.ravel()))
    tok2, tg2, *_ = ts.batch(rng, "id_train", 11, 6, p_noise=1.0)
    noisy = tok2[:, 2::3][:, :-1] != tg2[:, 1::3][:, :-1]
    assert noisy.mean() == pytest.approx(1 - 1 / 11, abs=0.03)   # uniform replacement
    assert np.all(tok2[:, -1] == tg2[:, -2])                      # the query's label stays clean


def test_copy_batch_targets():
    tok, tg, mask = copy_batch(np.random.default_rng(0), 3, 6, 10)
    assert np.all(tg[:, 1:] == tok[:, :-1]) and not mask[:, 0].any() and mask[:, 1:].all()


def test_med_and_fourier_sparsity_on_known_embeddings():
    p = 31
    # equally spaced points on a circle: every adjacent distance is 2 sin(pi f / p)
    f = 3
    ang = 2 * np.pi * f * np.arange(p) / p
    E = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    assert med(E, p) == pytest.approx(2 * np.sin(np.pi * f / p), rel=1e-12)
    assert fourier_sparsity(E, p, k=1) == pytest.approx(1.0, abs=1e-12)
    Er = np.random.default_rng(0).standard_normal((p, 64))
    assert fourier_sparsity(Er, p, k=1) < 0.2


def test_dense_parallelogram_packing_retries():
    """p = 7, T = 40 of 49 vectors: the greedy packing runs out of bases for seed 2 on its first
    attempt (an IndexError before); the retry builds 40 distinct tasks in parallelogram groups, and
    the 9 OOD tasks are the rest."""
    from grokphase.validation.tasks.icl import make_icl_tasks

    t = make_icl_tasks(7, 10, 0.8, seed=2)
    tasks = [tuple(v) for v in t.train_tasks]
    assert len(set(tasks)) == 40
    for g in range(10):
        (a, b), (a2, y), (x, b2), (x2, y2) = tasks[4 * g:4 * g + 4]
        assert (a2, b2, x2, y2) == (a, b, x, y)
    assert set(map(tuple, t.ood_tasks)) == {(i, j) for i in range(7) for j in range(7)} - set(tasks)


def _check_parallelograms(tasks, p):
    assert len(set(tasks)) == len(tasks)
    for g in range(0, len(tasks), 4):
        (a, b), (a2, y), (x, b2), (x2, y2) = tasks[g:g + 4]
        assert (a2, b2, x2, y2) == (a, b, x, y)
        assert x not in (a, b) and y not in (a, b, x)          # the rule's distinctness
        assert all(0 <= v < p for v in (a, b, x, y))


@pytest.mark.parametrize("p", [3, 4, 5, 6, 7, 11, 13])
def test_parallelogram_tasks_up_to_the_largest_packing(p):
    """4 n_task distinct tasks exist exactly for n_task <= max_n_task(p): p^2/4 for even p and
    floor(p (p - 1)/4) for odd p (every row of the p x p grid is covered in pairs, so an odd row
    keeps a free cell); at the bound the greedy packing fails and the constructed one is used."""
    from grokphase.validation.tasks.icl import max_n_task

    n_max = max_n_task(p)
    assert n_max == (p * p // 4 if p % 2 == 0 else p * (p - 1) // 4)
    for seed in (0, 1):
        t = make_icl_tasks(p, n_max, 0.5, seed=seed)
        _check_parallelograms([tuple(int(v) for v in row) for row in t.train_tasks], p)
        assert len(t.ood_tasks) == min(256, p * p - 4 * n_max)
    with pytest.raises(ValueError, match=rf"n_task must be an integer in \[1, {n_max}\]"):
        make_icl_tasks(p, n_max + 1)


def test_icl_and_modular_reject_what_they_used_to_misread():
    with pytest.raises(ValueError, match="n_ood"):
        make_icl_tasks(7, 2, n_ood=-1)
    with pytest.raises(ValueError, match="which"):
        modular_dataset(7).split("validation")
    ds = modular_dataset(7, frac=0.5)
    assert len(ds.split("train")[1]) + len(ds.split("test")[1]) == 49
