"""Fuzz over the valid domain: every result is finite or explicitly flagged.

Flagged means ``converged=False`` on the result, or a documented exception (ConvergenceError;
for softmax attention beyond its resolved copy branch, a ValueError naming beta).  NaN appears
only where a result documents it as "absent" (``trace``: a branch that does not exist at that
beta), and then some branch at that beta must be finite.  inf is allowed where documented
(MAP beta_local of linear attention, R-hat of chains stuck apart).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields, is_dataclass

import numpy as np
import pytest
from hypothesis import assume
from hypothesis import strategies as st

from grokphase import attention as A
from grokphase import linear_vi as LV
from grokphase.numerics.errors import ConvergenceError
from grokphase.validation import bayes as B
from grokphase.validation import copy_posterior_means
from grokphase.validation import samplers as SM
from grokphase.validation import tasks as T
from grokphase.validation.tasks.icl import max_n_task


def log_uniform(lo, hi):
    return st.floats(math.log10(lo), math.log10(hi)).map(lambda e: float(10.0**e))


def _finite(x, where="") -> None:
    """Every float in x (dataclass, mapping, tuple, array, xarray Dataset) is finite (recursively)."""
    if hasattr(x, "data_vars"):                         # xarray.Dataset
        for k, v in x.data_vars.items():
            _finite(v.values, f"{where}.{k}")
    elif is_dataclass(x):
        for f in fields(x):
            _finite(getattr(x, f.name), f"{where}.{f.name}")
    elif isinstance(x, Mapping):
        for k, v in x.items():
            _finite(v, f"{where}[{k!r}]")
    elif isinstance(x, (tuple, list)):
        for i, v in enumerate(x):
            _finite(v, f"{where}[{i}]")
    elif isinstance(x, (float, np.floating, np.ndarray)):
        a = np.asarray(x)
        if a.dtype.kind == "f":
            assert np.all(np.isfinite(a)), f"non-finite {where}: {x!r}"[:300]


ATT_POINT = st.fixed_dictionaries(dict(kind=st.sampled_from(["softmax", "linear"]), L=st.floats(2.0, 64.0),
                                       s_qk=log_uniform(1e-8, 1e8), s_uv=log_uniform(1e-8, 1e8)))


def test_solve_is_finite_or_flagged(depth, fuzz_run):
    point = st.tuples(ATT_POINT, st.one_of(st.just(0.0), log_uniform(1e-4, 1e8)), st.sampled_from(["uniform", "copy"]))

    def check(args):
        kw, beta, init = args
        try:
            r = A.solve(beta, init=init, **kw)
        except ValueError as err:       # documented: softmax copy logit beyond 25
            assert kw["kind"] == "softmax" and "beyond the resolved copy branch" in str(err)
            return
        _finite(r, "solve")
    fuzz_run(depth, point, check, "valid: attention.solve")


def test_transition_and_map_are_finite_or_flagged(depth, fuzz_run):
    def check(kw):
        try:
            t = A.transition(**kw)
        except ConvergenceError:
            return                          # documented: a root was not bracketed
        _finite(t, "transition")
        m = A.map_transition(**kw)
        assert not any(math.isnan(getattr(m, f.name)) for f in fields(m) if isinstance(getattr(m, f.name), float))
        assert m.kind == "linear" or math.isfinite(m.beta_local)
    fuzz_run(depth, ATT_POINT.filter(lambda kw: 1e-3 <= kw["s_qk"] <= 1e3 and 1e-3 <= kw["s_uv"] <= 1e3),
             check, "valid: attention.transition, map_transition")


def test_trace_has_a_finite_branch_at_every_beta(depth, fuzz_run):
    betas = st.lists(log_uniform(1e-3, 1e2), min_size=1, max_size=4)

    def check(args):
        kw, b = args
        kw = kw | dict(s_qk=min(max(kw["s_qk"], 1e-2), 1e2), s_uv=min(max(kw["s_uv"], 1e-2), 1e2))
        r = A.trace(b, **kw)
        f = np.stack([br["free_energy"] for br in r.branches.values()])       # (branches, betas)
        assert np.all(np.isfinite(f).any(axis=0)), {k: br["free_energy"] for k, br in r.branches.items()}
        for br in r.branches.values():                                         # NaN only where absent
            assert np.array_equal(np.isnan(br["kappa"]), np.isnan(br["free_energy"]))
    fuzz_run(depth, st.tuples(ATT_POINT, betas), check, "valid: attention.trace")


def test_map_state_is_finite(depth, fuzz_run):
    def check(args):
        kw, beta = args
        _finite(A.map_state(beta, **kw), "map_state")
    fuzz_run(depth, st.tuples(ATT_POINT.filter(lambda kw: 1e-3 <= kw["s_qk"] <= 1e3 and 1e-3 <= kw["s_uv"] <= 1e3),
                              log_uniform(1e-2, 1e3)), check, "valid: attention.map_state")


LV_MODEL = st.fixed_dictionaries(dict(lam=st.one_of(st.floats(1e-12, 1 - 1e-12), log_uniform(1e-12, 1e-3)),
                                      n_over_sigma2=log_uniform(1e-100, 1e100),
                                      inv_tau2=st.one_of(st.just(0.0), log_uniform(1e-100, 1e100)),
                                      eps=log_uniform(1e-300, 1e300), C0=log_uniform(1e-100, 1e100)))


def test_linear_vi_milestones_are_finite_or_flagged(depth, fuzz_run):
    def check(kw):
        m = LV.LinearVIModel(**kw)
        _finite((m.kappa, m.K_emp, m.delay_asymptotic()), "closed forms")
        try:
            _finite((m.grokking_times(), m.eu_peak_times(), m.delay()), "milestones")
        except ConvergenceError:
            return
        t_max = min((1 - 1e-15) * float(np.finfo(float).max) / max(2 * m.n_over_sigma2, m.kappa), 1e308)
        t = np.array([0.0, 1e-300, 1.0, t_max ** 0.5, t_max])
        _finite(m.log_excess_risk(t), "log_excess_risk")
        _finite(m.curves(t), "curves")
    fuzz_run(depth, LV_MODEL, check, "valid: LinearVIModel")


def test_sweep_lam_is_finite(depth, fuzz_run):
    def check(args):
        lams, ts, nbar = args
        _finite(LV.sweep_lam(lams, ts, n_over_sigma2=nbar), "sweep_lam")
    fuzz_run(depth, st.tuples(st.lists(st.floats(1e-6, 1 - 1e-6), min_size=1, max_size=3),
                              st.lists(log_uniform(1e-12, 1e12), min_size=1, max_size=4), log_uniform(1e-3, 1e12)),
             check, "valid: sweep_lam")


def test_copy_posterior_means_is_finite(depth, fuzz_run):
    point = st.fixed_dictionaries(dict(beta=st.one_of(st.just(0.0), st.floats(0.01, 20.0)), L=st.integers(2, 6),
                                       N=st.integers(2, 24), kind=st.sampled_from(["softmax", "linear"]),
                                       sampler=st.sampled_from(["hmc", "reduced"]),
                                       start=st.sampled_from(["uniform", "copy"]), seed=st.integers(0, 9)))

    def check(kw):
        if kw["sampler"] == "reduced" and kw["kind"] == "linear":
            assume(kw["N"] > kw["L"] + 1)
        out = copy_posterior_means(kw.pop("beta"), n_iter=30, n_chains=2, **kw)
        assert math.isfinite(out.acceptance)
        for k, e in out.estimates.items():
            assert math.isfinite(e.mean) and math.isfinite(e.se) and math.isfinite(e.ess), (k, e)
            assert not math.isnan(e.rhat) and (math.isfinite(e.rhat) or not out.converged), (k, e)  # inf: stuck apart
    fuzz_run(min(depth, 12), point, check, "valid: copy_posterior_means")


def test_tasks_partition_and_follow_their_rules(depth, fuzz_run):
    primes = [3, 5, 7, 11, 13]

    def check(args):
        p, frac, seed, n_frac = args
        ds = T.modular_dataset(p, frac=max(frac, 1.5 / p**2), seed=seed)
        assert len(np.intersect1d(ds.train_idx, ds.test_idx)) == 0 and len(ds.train_idx) + len(ds.test_idx) == p * p
        assert 0.0 <= ds.ceiling() <= 1.0
        n_task = max(1, int(n_frac * max_n_task(p)))
        ts = T.make_icl_tasks(p, n_task, seed=seed)
        tasks = [tuple(int(v) for v in row) for row in ts.train_tasks]
        assert len(set(tasks)) == 4 * n_task
        for g in range(0, len(tasks), 4):
            (a, b), (a2, y), (x, b2), (x2, y2) = tasks[g:g + 4]
            assert (a2, b2, x2, y2) == (a, b, x, y) and x not in (a, b) and y not in (a, b, x)
    fuzz_run(depth, st.tuples(st.sampled_from(primes), st.floats(0.05, 0.95), st.integers(0, 50), st.floats(0, 1)),
             check, "valid: modular_dataset, make_icl_tasks")


def test_bayes_outputs_are_finite(depth, fuzz_run):
    def check(args):
        seed, S, K = args
        rng = np.random.default_rng(seed)
        p = rng.dirichlet(np.full(K, 0.3), size=(S, 3))
        tu, au, eu = B.uncertainty_decomposition(p)
        _finite((tu, au, eu))
        assert np.all(eu >= 0) and np.all(tu <= math.log(K) + 1e-12)
        params = {"w": rng.standard_normal(4)}
        opt = B.IVON(params, lr=0.1, ess=10.0)
        opt.perturb(params, rng)
        opt.step(params, {"w": rng.standard_normal(4) * 10.0 ** rng.uniform(-6, 6)})
        _finite((params, opt.h))
        sw = B.SWAG(rank=2)
        for _ in range(3):
            sw.collect({"w": rng.standard_normal(4)})
        _finite(sw.sample(rng))
        feats, W = rng.standard_normal((5, 3)), rng.standard_normal((3, K))
        for structure in ("full", "kfac"):
            _finite(B.last_layer_laplace(feats, W, 1.0, structure).sample(rng, 2))
        x = rng.standard_normal((2, 10))
        assert math.isfinite(SM.split_rhat(x)) and SM.effective_sample_size(x) > 0
    fuzz_run(depth, st.tuples(st.integers(0, 10**6), st.integers(1, 5), st.integers(2, 6)), check,
             "valid: bayes, samplers.diagnostics")
