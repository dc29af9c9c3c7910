"""Tally of what the public API and the CLI do with invalid (and edge-of-domain) inputs.

Usage::

    python tests/fuzz/tally.py [--timeout 60] [--json out.json] [--only SUBSTRING]

Each case is one call.  Invalid cases name the parameter at fault; a call is classified as

* ``clear``: ValueError (CLI: exit status 2, or argparse's usage error) whose message names the
  parameter (for the CLI: the option or the parameter);
* ``unnamed``: ValueError whose message does not name the parameter;
* ``internal``: any other exception (NumPy, Numba, SciPy, bare Python), or a traceback from the CLI;
* ``silent_nan``: a returned result with NaN in it;
* ``plausible``: a finite result returned for an invalid input (wrong but plausible);
* ``hang``: no answer within the timeout (the worker process is killed and restarted).

Edge cases (valid inputs near the edge of the documented domain) are classified ``ok`` (finite),
``flagged`` (a result with ``converged`` False), ``silent_nan``, ``internal``, ``unnamed`` /
``clear`` (an error for a valid input: the domain is smaller than documented) or ``hang``.

Calls run in a worker subprocess (in a temporary folder: CLI runs write there), so a hang or a
crash costs only that case.  Not a test: the committed record of the before/after sweep.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import re
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Callable

import numpy as np

nan, inf = math.nan, math.inf


@dataclass(frozen=True)
class Case:
    kind: str        # "api" or "cli"
    label: str
    param: str       # the parameter at fault ("" for edge cases)
    call: Callable | list
    edge: bool = False


CASES: list[Case] = []


def api(label, param, call, edge=False):
    CASES.append(Case("api", label, param, call, edge))


def cli(argv: str, param, edge=False):
    CASES.append(Case("cli", "grokphase " + argv, param, argv.split(), edge))


# --------------------------------------------------------------------------- lazy imports

def A():
    from grokphase import attention
    return attention


def LV():
    from grokphase import linear_vi
    return linear_vi


def V():
    import grokphase.validation as v
    return v


REF = dict(L=8, s_qk=0.25, s_uv=9.0)


# --------------------------------------------------------------------------- attention facade
for v in (-1.0, nan, inf, "x", None, [1.0, 2.0]):
    api(f"attention.solve(beta={v!r})", "beta", lambda v=v: A().solve(v, **REF))
for v in (1, 1.5, 0, nan, inf, "8", None):
    api(f"attention.solve(L={v!r})", "L", lambda v=v: A().solve(1.0, L=v, s_qk=0.25, s_uv=9.0))
for v in ("soft", None, 3):
    api(f"attention.solve(kind={v!r})", "kind", lambda v=v: A().solve(1.0, kind=v, **REF))
for v in (0.0, -1.0, nan, inf, 1e-300, 1e300, "a"):
    api(f"attention.solve(s_qk={v!r})", "s_qk", lambda v=v: A().solve(1.0, L=8, s_qk=v, s_uv=9.0))
for v in (0.0, nan, 1e-300, 1e300):
    api(f"attention.solve(s_uv={v!r})", "s_uv", lambda v=v: A().solve(1.0, L=8, s_qk=0.25, s_uv=v))
for v in ("foo", (1.0,), (nan, 1.0), (1.0, 2.0, 3.0), 5):
    api(f"attention.solve(init={v!r})", "init", lambda v=v: A().solve(13.0, init=v, **REF))
for v in (0.0, -1.0, nan):
    api(f"attention.solve(tol={v!r})", "tol", lambda v=v: A().solve(13.0, tol=v, **REF))
for v in (0, -1, 2.5):
    api(f"attention.solve(max_iter={v!r})", "max_iter", lambda v=v: A().solve(13.0, max_iter=v, **REF))
api("attention.solve_full(L=8.5)", "L", lambda: A().solve_full(13.0, L=8.5, s_qk=0.25, s_uv=9.0))
api("attention.solve_full(init=(3x3, 1))", "init",
    lambda: A().solve_full(13.0, init=(np.zeros((3, 3)), 1.0), **REF))
api("attention.solve_full(init=(nan 8x8, 1))", "init",
    lambda: A().solve_full(13.0, init=(np.full((8, 8), nan), 1.0), **REF))
api("attention.solve_full(tol=nan)", "tol", lambda: A().solve_full(13.0, tol=nan, **REF))
api("attention.solve_full(max_iter=0)", "max_iter", lambda: A().solve_full(13.0, max_iter=0, **REF))
api("attention.solve_full(beta=-1)", "beta", lambda: A().solve_full(-1.0, **REF))
api("attention.check_copy_ansatz(L=8.5)", "L", lambda: A().check_copy_ansatz(13.0, L=8.5, s_qk=0.25, s_uv=9.0))
api("attention.check_copy_ansatz(n_random=-1)", "n_random", lambda: A().check_copy_ansatz(13.0, n_random=-1, **REF))
api("attention.check_copy_ansatz(n_random=2.5)", "n_random", lambda: A().check_copy_ansatz(13.0, n_random=2.5, **REF))
api("attention.check_copy_ansatz(tol=0)", "tol", lambda: A().check_copy_ansatz(13.0, tol=0.0, **REF))
api("attention.check_copy_ansatz(seed='x')", "seed", lambda: A().check_copy_ansatz(13.0, seed="x", **REF))
for lab, v in (("2-D", np.ones((2, 2))), ("empty", []), ("[nan]", [nan]), ("[-1]", [-1.0]), ("'abc'", "abc")):
    api(f"attention.trace(betas={lab})", "betas", lambda v=v: A().trace(v, **REF))
api("attention.trace(L=1)", "L", lambda: A().trace([1.0], L=1, s_qk=0.25, s_uv=9.0))
for v in (1, inf, "x"):
    api(f"attention.transition(L={v!r})", "L", lambda v=v: A().transition(L=v, s_qk=0.25, s_uv=9.0))
api("attention.transition(kind='x')", "kind", lambda: A().transition(kind="x", **REF))
api("attention.transition(s_qk=1e-300)", "s_qk", lambda: A().transition(L=8, s_qk=1e-300, s_uv=9.0))
api("attention.transition(linear, s_qk=1e-300)", "s_qk",
    lambda: A().transition(L=8, kind="linear", s_qk=1e-300, s_uv=9.0))
api("attention.transition(s_uv=1e300)", "s_uv", lambda: A().transition(L=8, s_qk=0.25, s_uv=1e300))
api("attention.transition(s_qk=1e-160)", "s_qk", lambda: A().transition(L=8, s_qk=1e-160, s_uv=9.0))
api("attention.critical_end_point(kind='linear')", "kind", lambda: A().critical_end_point(kind="linear", s_qk=0.25, s_uv=9.0))
api("attention.critical_end_point(vary='beta')", "vary", lambda: A().critical_end_point(vary="beta", s_qk=0.25, s_uv=9.0))
api("attention.critical_end_point(bracket=(64, 2))", "bracket", lambda: A().critical_end_point(bracket=(64.0, 2.0), s_qk=0.25, s_uv=9.0))
api("attention.critical_end_point(bracket=(1,))", "bracket", lambda: A().critical_end_point(bracket=(1.0,), s_qk=0.25, s_uv=9.0))
api("attention.critical_end_point(bracket=(nan, 3))", "bracket", lambda: A().critical_end_point(bracket=(nan, 3.0), s_qk=0.25, s_uv=9.0))
api("attention.critical_end_point(bracket=(1, 64))", "bracket", lambda: A().critical_end_point(bracket=(1.0, 64.0), s_qk=0.25, s_uv=9.0))
api("attention.critical_end_point(s_qk=0)", "s_qk", lambda: A().critical_end_point(s_qk=0.0, s_uv=9.0))
for lab, kw in (("betas 2-D", dict(betas=np.ones((2, 2)), Ls=[8.0])), ("Ls empty", dict(betas=[1.0], Ls=[])),
                ("Ls [1]", dict(betas=[1.0], Ls=[1.0])), ("betas [-1]", dict(betas=[-1.0], Ls=[8.0])),
                ("Ls 2-D", dict(betas=[1.0], Ls=np.ones((2, 2)) * 8)), ("Ls [nan]", dict(betas=[1.0], Ls=[nan]))):
    api(f"attention.phase_diagram({lab})", lab.split()[0], lambda kw=kw: A().phase_diagram(kw["betas"], kw["Ls"], s_qk=0.25, s_uv=9.0))
api("attention.phase_diagram(vary='x')", "vary", lambda: A().phase_diagram([1.0], [8.0], vary="x", s_qk=0.25, s_uv=9.0))
api("attention.phase_diagram(kind='x')", "kind", lambda: A().phase_diagram([1.0], [8.0], kind="x", s_qk=0.25, s_uv=9.0))
api("attention.phase_diagram(vary='s_qk', Ls=[0])", "s_qk", lambda: A().phase_diagram([1.0], [0.0], vary="s_qk", s_qk=0.25, s_uv=9.0))
for v in (-1.0, nan):
    api(f"attention.map_state(beta={v!r})", "beta", lambda v=v: A().map_state(v, **REF))
api("attention.map_state(L=1)", "L", lambda: A().map_state(30.0, L=1, s_qk=0.25, s_uv=9.0))
api("attention.map_state(kind='x')", "kind", lambda: A().map_state(30.0, kind="x", **REF))
api("attention.map_transition(L=1)", "L", lambda: A().map_transition(L=1, s_qk=0.25, s_uv=9.0))
api("attention.map_transition(s_uv=nan)", "s_uv", lambda: A().map_transition(L=8, s_qk=0.25, s_uv=nan))
# edge: valid points the solver should resolve
api("attention.solve(linear, beta=158, s_qk=1, s_uv=1e4, copy) [edge]", "",
    lambda: A().solve(158.0, L=8, kind="linear", s_qk=1.0, s_uv=1e4, init="copy"), edge=True)
api("attention.solve(linear, beta=1e5, L=64, s_qk=1, s_uv=1e4, copy) [edge]", "",
    lambda: A().solve(1e5, L=64, kind="linear", s_qk=1.0, s_uv=1e4, init="copy"), edge=True)
api("attention.solve(softmax, beta=1e6, copy) [edge]", "", lambda: A().solve(1e6, init="copy", **REF), edge=True)

# --------------------------------------------------------------------------- linear VI
for v in (0.0, 1.0, nan, -1.0, 1e-300, "0.5", None):
    api(f"LinearVIModel(lam={v!r})", "lam", lambda v=v: LV().LinearVIModel(v, 5e7).grokking_times())
for v in (0.0, -1.0, nan, inf, 1e300, 1e-300):
    api(f"LinearVIModel(n_over_sigma2={v!r})", "n_over_sigma2", lambda v=v: LV().LinearVIModel(0.5, v).grokking_times())
for v in (-1.0, nan, inf):
    api(f"LinearVIModel(inv_tau2={v!r})", "inv_tau2", lambda v=v: LV().LinearVIModel(0.5, 5e7, inv_tau2=v).grokking_times())
for v in (0.0, nan, -1.0):
    api(f"LinearVIModel(eps={v!r})", "eps", lambda v=v: LV().LinearVIModel(0.5, 5e7, eps=v).grokking_times())
for v in (0.0, nan, inf):
    api(f"LinearVIModel(C0={v!r})", "C0", lambda v=v: LV().LinearVIModel(0.5, 5e7, C0=v).grokking_times())
for v in (-1.0, nan, "a", [[-1.0]]):
    api(f"LinearVIModel.excess_risk(t={v!r})", "t", lambda v=v: LV().LinearVIModel(0.6, 5e7).excess_risk(v))
for v in (0.0, nan, -1.0):
    api(f"LinearVIModel.crossing_times(level={v!r})", "level", lambda v=v: LV().LinearVIModel(0.6, 5e7).crossing_times(v))
api("LinearVIModel.eu_regression(sigma2=0)", "sigma2", lambda: LV().LinearVIModel(0.6, 5e7).eu_regression([1e-8], sigma2=0.0))
api("LinearVIModel.eu_regression(cov_share=2)", "cov_share", lambda: LV().LinearVIModel(0.6, 5e7).eu_regression([1e-8], cov_share=2.0))
api("LinearVIModel.eu_regression(cov_share=nan)", "cov_share", lambda: LV().LinearVIModel(0.6, 5e7).eu_regression([1e-8], cov_share=nan))
api("LinearVIModel.curves(sigma2=-1)", "sigma2", lambda: LV().LinearVIModel(0.6, 5e7).curves([1e-8], sigma2=-1.0))
api("LinearVIModel.accuracy(t=nan)", "t", lambda: LV().LinearVIModel(0.6, 5e7).accuracy(nan))
api("LinearVIModel(0.6, 5e7).excess_risk(1e300) [edge]", "",
    lambda: LV().LinearVIModel(0.6, 5e7).log_excess_risk(1e300), edge=True)
api("LinearVIModel(0.99, 5e7).excess_risk(1e250) [edge]", "",
    lambda: LV().LinearVIModel(0.99, 5e7).log_excess_risk(1e250), edge=True)
api("SpectralVIModel(spectrum='mp')", "spectrum", lambda: LV().SpectralVIModel("mp", 5e7))
api("SpectralVIModel(spectrum=None)", "spectrum", lambda: LV().SpectralVIModel(None, 5e7))
api("SpectralVIModel(n_over_sigma2=0)", "n_over_sigma2",
    lambda: LV().SpectralVIModel(LV().DiscreteSpectrum([1.0, 2.0]), 0.0))
for lab, kw in (("eigenvalues=[]", dict(eigenvalues=[])), ("eigenvalues=[-1]", dict(eigenvalues=[-1.0])),
                ("eigenvalues=[nan]", dict(eigenvalues=[nan])),
                ("weights shape", dict(eigenvalues=[1.0, 2.0], weights=[1.0])),
                ("weights=[-1, 2]", dict(eigenvalues=[1.0, 2.0], weights=[-1.0, 2.0])),
                ("aspect_ratio=2", dict(eigenvalues=[1.0, 2.0], aspect_ratio=2.0))):
    api(f"DiscreteSpectrum({lab})", lab.split("=")[0].split()[0], lambda kw=kw: LV().DiscreteSpectrum(**kw))
for v in (0.0, 1.0, nan):
    api(f"MarchenkoPastur(lam={v!r})", "lam", lambda v=v: LV().MarchenkoPastur(v))
api("sweep_lam(lams=[])", "lams", lambda: LV().sweep_lam([], [1e-8], n_over_sigma2=5e7))
api("sweep_lam(lams=[[0.5]])", "lams", lambda: LV().sweep_lam([[0.5]], [1e-8], n_over_sigma2=5e7))
api("sweep_lam(lams=[1.5])", "lams", lambda: LV().sweep_lam([1.5], [1e-8], n_over_sigma2=5e7))
api("sweep_lam(t=[-1])", "t", lambda: LV().sweep_lam([0.5], [-1.0], n_over_sigma2=5e7))
api("sweep_lam(t=[nan])", "t", lambda: LV().sweep_lam([0.5], [nan], n_over_sigma2=5e7))
api("sweep_lam(t=[])", "t", lambda: LV().sweep_lam([0.5], [], n_over_sigma2=5e7))
api("sweep_lam(n_over_sigma2=0)", "n_over_sigma2", lambda: LV().sweep_lam([0.5], [1e-8], n_over_sigma2=0.0))


CORRUPT = os.path.join(tempfile.gettempdir(), "grokphase-tally-corrupt.nc")


def _load_corrupt():
    """A damaged saved result: LinearVISweep.load (.npz) before the result layer, load_dataset after."""
    with open(CORRUPT, "wb") as f:
        f.write(b"PK\x03\x04 not a result file")
    if hasattr(LV(), "LinearVISweep"):
        return LV().LinearVISweep.load(CORRUPT)
    from grokphase.results import load_dataset
    return load_dataset(CORRUPT)


def _load_missing():
    if hasattr(LV(), "LinearVISweep"):
        return LV().LinearVISweep.load("/nonexistent/sweep.nc")
    from grokphase.results import load_dataset
    return load_dataset("/nonexistent/sweep.nc")


api("load a saved sweep (corrupted file)", CORRUPT, _load_corrupt)
api("load a saved sweep (missing file)", "/nonexistent/sweep.nc", _load_missing)

# --------------------------------------------------------------------------- copy posterior, samplers
def cpm(**kw):
    base = dict(N=16, L=8, n_iter=40, n_chains=2)
    base.update(kw)
    beta = base.pop("beta", 13.0)
    return V().copy_posterior_means(beta, **base)


for k, v in (("N", 16.9), ("N", 0), ("N", -5), ("N", "16"), ("L", 8.5), ("L", 1), ("beta", -1.0), ("beta", nan),
             ("beta", inf), ("kind", "x"), ("sampler", "x"), ("start", "x"), ("n_chains", 1), ("n_chains", 2.5),
             ("n_iter", 10), ("n_iter", 100.5), ("s_qk", 0.0), ("s_uv", nan), ("sigma2", 0.0), ("sigma2", -1.0),
             ("seed", "x"), ("whitened", "no")):
    api(f"copy_posterior_means({k}={v!r})", k, lambda k=k, v=v: cpm(**{k: v}))
api("copy_posterior_means(linear reduced, N=9, L=8)", "N", lambda: cpm(beta=0.3, N=9, kind="linear", sampler="reduced"))
api("copy_posterior_means(linear reduced, N=16.5)", "N", lambda: cpm(beta=0.3, N=16.5, kind="linear", sampler="reduced"))
api("copy_posterior_means(linear reduced, beta=-1)", "beta", lambda: cpm(beta=-1.0, kind="linear", sampler="reduced"))
api("copy_posterior_means(linear reduced, s_qk=0)", "s_qk", lambda: cpm(beta=0.3, s_qk=0.0, kind="linear", sampler="reduced"))
api("copy_posterior_means(linear reduced, n_iter=5)", "n_iter", lambda: cpm(beta=0.3, n_iter=5, kind="linear", sampler="reduced"))
api("copy_posterior_means(linear reduced, whitened=False)", "whitened",
    lambda: cpm(beta=0.3, kind="linear", sampler="reduced", whitened=False))
api("copy_posterior_means(0.3, N=16, L=8, linear, reduced) [edge]", "",
    lambda: cpm(beta=0.3, kind="linear", sampler="reduced", n_iter=200), edge=True)
api("copy_posterior_means(0.3, N=12, L=8, linear, reduced) [edge]", "",
    lambda: cpm(beta=0.3, N=12, kind="linear", sampler="reduced", n_iter=200), edge=True)


def CA():
    from grokphase.validation import copy_attention
    return copy_attention


def SM():
    from grokphase.validation import samplers
    return samplers


def _reduced():
    """The reduced linear sampler under its name before or after the result-layer rename."""
    from grokphase.validation import copy_reduced
    return getattr(copy_reduced, "linear_reduced_hmc", None) or copy_reduced.linear_reduced_w


for k, v in (("L", 1), ("N", 0), ("L", 2.5), ("kind", "x"), ("s_q", 0.0), ("sigma2", nan), ("s_u", inf)):
    api(f"CopyModel({k}={v!r})", k, lambda k=k, v=v: CA().CopyModel(**({"L": 4, "N": 8} | {k: v})))


def _hmc(**kw):
    m = CA().CopyModel(L=4, N=8)
    rng = np.random.default_rng(0)
    th = CA().prior_draw(m, 2, rng)
    C = CA().data_statistic(4, 10)
    return SM().hmc(m, th, C, rng, **({"n_iter": 20} | kw))


for k, v in (("n_iter", 0), ("n_iter", 2.5), ("n_leapfrog", 0), ("step0", -1.0), ("target", 2.0), ("thin", 0)):
    api(f"samplers.hmc({k}={v!r})", k, lambda k=k, v=v: _hmc(**{k: v}))


def _langevin(**kw):
    m = CA().CopyModel(L=4, N=8)
    rng = np.random.default_rng(0)
    th = CA().prior_draw(m, 2, rng)
    return SM().langevin(m, th, CA().data_statistic(4, 10), rng, **({"eta": 1e-3, "n_steps": 10} | kw))


for k, v in (("eta", 0.0), ("eta", nan), ("n_steps", -1), ("record_every", 0)):
    api(f"samplers.langevin({k}={v!r})", k, lambda k=k, v=v: _langevin(**{k: v}))
for lab, x in (("1-D", np.ones(10)), ("empty", np.ones((2, 0))), ("nan", np.full((2, 10), nan))):
    api(f"split_rhat(x={lab})", "x", lambda x=x: SM().split_rhat(x))
    api(f"effective_sample_size(x={lab})", "x", lambda x=x: SM().effective_sample_size(x))
api("split_rhat(x=(2, 3): 1 draw per half)", "x", lambda: SM().split_rhat(np.arange(6.0).reshape(2, 3)))
api("split_rhat(one chain) [edge]", "", lambda: SM().split_rhat(np.random.default_rng(0).standard_normal((1, 10))), edge=True)
api("split_rhat(constant draws) [edge]", "", lambda: SM().split_rhat(np.ones((2, 10))), edge=True)
api("copy_reduced.linear_reduced_(w|hmc)(N=5)", "N", lambda: _reduced()(0.3, N=5, n_iter=20))
api("copy_reduced.linear_reduced_(w|hmc)(L=1.5)", "L", lambda: _reduced()(0.3, N=16, L=1.5, n_iter=20))


# --------------------------------------------------------------------------- tasks
def T():
    from grokphase.validation import tasks
    return tasks


for k, v in (("p", 4), ("p", 2.5), ("op", "x"), ("frac", 0.0), ("frac", 1.0), ("frac", nan),
             ("split", "x"), ("offset", -1), ("offset", 2.5), ("seed", "x")):
    api(f"modular_dataset({k}={v!r})", k, lambda k=k, v=v: T().modular_dataset(**({"p": 7} | {k: v})))
api("modular_dataset(split='strip', k=-1)", "k", lambda: T().modular_dataset(7, split="strip", k=-1))
api("modular_dataset(split='strip', k=None)", "k", lambda: T().modular_dataset(7, split="strip"))
api("modular_dataset(split='strip', k=2.5)", "k", lambda: T().modular_dataset(7, split="strip", k=2.5))
for v in ("validation", None, "Train"):
    api(f"ModularDataset.split({v!r})", "which", lambda v=v: T().modular_dataset(7).split(v))
for k, v in (("p", 2), ("p", 7.5), ("n_task", 0), ("n_task", 13), ("n_task", 2.5), ("alpha", 0.0), ("alpha", 1.01),
             ("alpha", 0.01), ("alpha", nan), ("n_ood", -1), ("n_ood", 2.5), ("seed", "x"), ("val_protocol", "x")):
    api(f"make_icl_tasks({k}={v!r})", k, lambda k=k, v=v: T().make_icl_tasks(**({"p": 7, "n_task": 2} | {k: v})))
api("make_icl_tasks(p=7, n_task=12: <= p^2/4, > p (p - 1)/4)", "n_task", lambda: T().make_icl_tasks(7, 12))
api("make_icl_tasks(p=11, n_task=30: <= p^2/4, > p (p - 1)/4)", "n_task", lambda: T().make_icl_tasks(11, 30))
api("make_icl_tasks(p=7, n_task=10) [edge: the largest packing]", "", lambda: T().make_icl_tasks(7, 10, seed=5), edge=True)
api("make_icl_tasks(p=13, n_task=39) [edge: the largest packing]", "", lambda: T().make_icl_tasks(13, 39), edge=True)
api("make_icl_tasks(p=7, n_task=2, alpha=1.0) [edge: no held-out pairs]", "", lambda: T().make_icl_tasks(7, 2, 1.0),
    edge=True)


def _batch(**kw):
    ts = T().make_icl_tasks(7, 2)
    base = dict(split="id_train", n_seqs=2, n_ctx=3)
    base |= kw
    return ts.batch(np.random.default_rng(0), base.pop("split"), base.pop("n_seqs"), base.pop("n_ctx"), **base)


for k, v in (("split", "x"), ("n_seqs", 0), ("n_seqs", 2.5), ("n_ctx", 0), ("k", -1), ("k", 3),
             ("p_noise", 2.0), ("p_noise", nan)):
    api(f"ICLTaskSet.batch({k}={v!r})", k, lambda k=k, v=v: _batch(**{k: v}))
api("ICLTaskSet.batch(split='id_val') at alpha = 1", "split",
    lambda: T().make_icl_tasks(7, 2, 1.0).batch(np.random.default_rng(0), "id_val", 2, 3))
for k, v in (("length", 1), ("vocab", 1), ("batch", 0), ("batch", 2.5), ("length", 3.5)):
    api(f"copy_batch({k}={v!r})", k,
        lambda k=k, v=v: T().copy_batch(np.random.default_rng(0), **({"batch": 2, "length": 4, "vocab": 5} | {k: v})))


# --------------------------------------------------------------------------- transformer, optimisers
def NN():
    from grokphase.validation import nn
    return nn


for k, v in (("vocab_size", 0), ("d_model", 2.5), ("n_heads", 3), ("attention", "x"), ("dropout", 1.0),
             ("dropout", nan), ("dtype", "float16")):
    api(f"TransformerConfig({k}={v!r})", k, lambda k=k, v=v: NN().TransformerConfig(**({"vocab_size": 8, "d_model": 8, "n_heads": 2} | {k: v})))


def _model():
    return NN().Transformer(NN().TransformerConfig(vocab_size=8, d_model=8, n_heads=2, d_mlp=8, max_len=4))


api("Transformer.logits(tokens out of vocab)", "tokens", lambda: _model().logits(np.array([[1, 9]])))
api("Transformer.logits(tokens longer than max_len)", "tokens", lambda: _model().logits(np.zeros((1, 6), int)))
api("Transformer.logits(tokens 1-D)", "tokens", lambda: _model().logits(np.zeros(3, int)))
api("Transformer.logits(tokens float)", "tokens", lambda: _model().logits(np.zeros((1, 3)) + 0.5))


def O():
    from grokphase.validation import optim
    return optim


P1 = {"w": np.ones(3)}
for k, v in (("lr", -1.0), ("lr", nan), ("betas", (1.0, 0.9)), ("eps", nan), ("weight_decay", inf)):
    api(f"AdamW({k}={v!r})", k, lambda k=k, v=v: O().AdamW(dict(P1), **{k: v}))
for k, v in (("lr", nan), ("momentum", -1.0), ("weight_decay", nan)):
    api(f"SGD({k}={v!r})", k, lambda k=k, v=v: O().SGD(dict(P1), **{k: v}))
for v in (0.0, nan, -1.0):
    api(f"clip_grad_norm(max_norm={v!r})", "max_norm", lambda v=v: O().clip_grad_norm({"w": np.ones(3)}, v))
api("warmup_cosine(warmup=-1)", "warmup", lambda: O().warmup_cosine(0, warmup=-1, total=10))
api("warmup_cosine(step=-1)", "step", lambda: O().warmup_cosine(-1, warmup=0, total=10))
api("warmup_cosine(final=nan)", "final", lambda: O().warmup_cosine(5, warmup=1, total=10, final=nan))


# --------------------------------------------------------------------------- bayes
def B():
    from grokphase.validation import bayes
    return bayes


for lab, p in (("zero samples", np.zeros((0, 3, 4))), ("1-D", np.ones(3) / 3), ("rows not summing to 1", np.ones((2, 3))),
               ("nan", np.full((2, 3), nan)), ("zero classes", np.zeros((2, 3, 0)))):
    api(f"uncertainty_decomposition({lab})", "probs", lambda p=p: B().uncertainty_decomposition(p))
for k, v in (("lr", 0.0), ("ess", nan), ("weight_decay", -1.0), ("beta1", 1.0), ("hess_init", nan), ("clip_radius", 0.0)):
    api(f"IVON({k}={v!r})", k, lambda k=k, v=v: B().IVON(dict(P1), **({"lr": 0.1, "ess": 10.0} | {k: v})))


def _ivon_step(grad):
    params = {"w": np.ones(3)}
    opt = B().IVON(params, lr=0.1, ess=10.0)
    opt.perturb(params, np.random.default_rng(0))
    opt.step(params, {"w": grad})
    return params, opt.h


api("IVON.step(grads with NaN)", "grads", lambda: _ivon_step(np.array([nan, 1.0, 1.0])))
api("IVON.step(grads with inf)", "grads", lambda: _ivon_step(np.array([inf, 1.0, 1.0])))
api("IVON.step(grads of wrong shape)", "grads", lambda: _ivon_step(np.ones(4)))
api("IVON.step(without perturb)", "perturb", lambda: B().IVON({"w": np.ones(3)}, lr=0.1, ess=10.0).step({"w": np.ones(3)}, {"w": np.ones(3)}))
for v in (1, 2.5):
    api(f"SWAG(rank={v!r})", "rank", lambda v=v: B().SWAG(rank=v))


def _swag(*snaps):
    s = B().SWAG(rank=2)
    for x in snaps:
        s.collect(x)
    return s.mean, s.diag_var, s.sample(np.random.default_rng(0))


api("SWAG.collect(params with NaN)", "params", lambda: _swag({"w": np.ones(3)}, {"w": np.array([nan, 1.0, 1.0])}, {"w": np.ones(3)}))
api("SWAG.collect(different keys)", "params", lambda: _swag({"w": np.ones(3)}, {"v": np.ones(3)}))
api("SWAG.collect(different shapes)", "params", lambda: _swag({"w": np.ones(3)}, {"w": np.ones(4)}))
api("SWAG.sample(one snapshot)", "collect", lambda: _swag({"w": np.ones(3)}))
F = np.random.default_rng(0).standard_normal((6, 3))
W = np.random.default_rng(1).standard_normal((3, 4))
for lab, kw in (("features NaN", dict(features=np.full((6, 3), nan), W_map=W)),
                ("features empty", dict(features=np.zeros((0, 3)), W_map=W)),
                ("features 1-D", dict(features=np.ones(3), W_map=W)),
                ("W_map NaN", dict(features=F, W_map=np.full((3, 4), nan))),
                ("W_map shape", dict(features=F, W_map=np.ones((5, 4))))):
    for st in ("full", "kfac"):
        api(f"last_layer_laplace({lab}, {st})", lab.split()[0],
            lambda kw=kw, st=st: B().last_layer_laplace(kw["features"], kw["W_map"], 1.0, st).sample(np.random.default_rng(0), 2))
for v in (0.0, nan, "evid", inf):
    api(f"last_layer_laplace(prior_precision={v!r})", "prior_precision", lambda v=v: B().last_layer_laplace(F, W, v))
api("last_layer_laplace(structure='x')", "structure", lambda: B().last_layer_laplace(F, W, 1.0, "x"))
api("last_layer_laplace(evidence, W_map=0)", "W_map", lambda: B().last_layer_laplace(F, np.zeros((3, 4)), "evidence"))


def _fit(mask):
    m = _model()
    return B().fit_transformer_laplace(m, np.zeros((2, 3), int), mask, 1.0).sample(np.random.default_rng(0), 2)


api("fit_transformer_laplace(mask all False)", "mask", lambda: _fit(np.zeros((2, 3), bool)))
api("fit_transformer_laplace(mask wrong shape)", "mask", lambda: _fit(np.ones((2, 4), bool)))
api("ensemble_probs(models=[])", "models", lambda: B().ensemble_probs([], np.zeros((1, 3), int), np.zeros(1, int)))
api("mc_dropout_probs(S=0)", "S", lambda: B().mc_dropout_probs(NN().Transformer(NN().TransformerConfig(
    vocab_size=8, d_model=8, n_heads=2, d_mlp=8, max_len=4, dropout=0.1)), np.zeros((1, 3), int), np.zeros(1, int),
    np.random.default_rng(0), 0))
api("ensemble_probs(pos out of range)", "pos", lambda: B().ensemble_probs([_model()], np.zeros((1, 3), int), np.array([5])))


def GT():
    from grokphase.validation.bayes import grokking_times
    return grokking_times


api("threshold_time(fraction=0)", "fraction", lambda: GT().threshold_time([0, 1], [0.1, 0.9], 0.1, 0.0))
api("threshold_time(steps empty)", "steps", lambda: GT().threshold_time([], [], 0.1))
api("threshold_time(acc NaN)", "acc", lambda: GT().threshold_time([0, 1, 2], [0.1, nan, nan], 0.1))
api("eu_peak(eu NaN)", "eu", lambda: GT().eu_peak([0, 1], [nan, nan]))
api("eu_peak(steps mismatched)", "steps", lambda: GT().eu_peak([0, 1, 2], [1.0, 2.0]))
api("EUMonitor(drop=1)", "drop", lambda: GT().EUMonitor(drop=1.0))
api("EUMonitor(patience=2.5)", "patience", lambda: GT().EUMonitor(patience=2.5))
api("detect(eu with NaN)", "eu", lambda: GT().detect([0, 1, 2], [nan, 1.0, 0.1]))

# --------------------------------------------------------------------------- CLI
for a, p in (("--lam 0", "--lam"), ("--lam 1", "--lam"), ("--lam nan", "--lam"), ("--lam -1", "--lam"),
             ("--lam 1e-300", "--lam"), ("--lam abc", "--lam"), ("--n-over-sigma2 0", "--n-over-sigma2"),
             ("--n-over-sigma2 nan", "--n-over-sigma2"), ("--n-over-sigma2 inf", "--n-over-sigma2"),
             ("--n-over-sigma2 1e300", "--n-over-sigma2"), ("--n-over-sigma2 1e-300", "--n-over-sigma2"),
             ("--inv-tau2 -1", "--inv-tau2"), ("--inv-tau2 nan", "--inv-tau2"), ("--eps 0", "--eps"),
             ("--eps nan", "--eps"), ("--C0 0", "--C0"), ("--C0 -1", "--C0"), ("--lam 1e-300 --json", "--lam")):
    cli("linear-vi " + a, p)
for a, p in (("--L 1", "--L"), ("--L nan", "--L"), ("--L inf", "--L"), ("--L abc", "--L"), ("--s-qk 0", "--s-qk"),
             ("--s-qk nan", "--s-qk"), ("--s-uv -1", "--s-uv"), ("--s-qk 1e-300", "--s-qk"), ("--kind x", "--kind"),
             ("--kind linear --end-point", "--end-point")):
    cli("attention transition " + a, p)
for a, p in (("--n-x 0", "--n-x"), ("--n-beta 0", "--n-beta"), ("--n-x -1", "--n-x"), ("--x-min 1", "--x-min"),
             ("--x-min 5 --x-max 3 --n-x 3 --n-beta 3", "--x-min"), ("--beta-min -1 --n-x 3 --n-beta 3", "--beta-min"),
             ("--beta-max nan --n-x 3 --n-beta 3", "--beta-max"), ("--vary s_qk --x-min 0 --n-x 3 --n-beta 3", "--x-min"),
             ("--s-uv 0", "--s-uv"), ("--n-x 3 --n-beta 3 --save /dev/null/pd.npz", "--save"),
             ("--n-x 3 --n-beta 3 --L 5", "--L")):
    cli("attention phase-diagram " + a, p)
for a, p in (("linear --n-iter 0", "--n-iter"), ("linear --N 0", "--N"), ("map --N -1", "--N")):
    cli("attention validate " + a, p)
for a, p in (("modular --p 4 --steps 2", "p"), ("modular --frac 1.5 --steps 2", "frac"), ("modular --p abc", "--p"),
             ("modular --preset nope", "--preset"), ("icl --alpha 2 --steps 2", "alpha"), ("modular --op div", "--op")):
    cli("train " + a, p)
cli("uncertainty train foo", "task")
cli("uncertainty evaluate modular --samples x", "--samples")
cli("figs --out", "--out")
cli("", "command")


# --------------------------------------------------------------------------- worker and classification

def _has_nan(x, depth=0) -> bool:
    if depth > 6:
        return False
    if hasattr(x, "data_vars"):       # xarray.Dataset
        return any(_has_nan(v.values, depth + 1) for v in x.data_vars.values())
    if isinstance(x, Mapping):
        return any(_has_nan(v, depth + 1) for v in x.values())
    if isinstance(x, float):
        return math.isnan(x)
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "fc" and bool(np.isnan(x).any())
    if isinstance(x, np.floating):
        return bool(np.isnan(x))
    if isinstance(x, (list, tuple)):
        return any(_has_nan(v, depth + 1) for v in x)
    if is_dataclass(x):
        return any(_has_nan(getattr(x, f.name), depth + 1) for f in fields(x))
    return False


def _flagged(x) -> bool:
    return getattr(x, "converged", True) is False


def _names(msg: str, param: str) -> bool:
    names = {param, param.lstrip("-"), param.lstrip("-").replace("-", "_")}
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", msg) for n in names if n)


def run_case(i: int) -> dict:
    c = CASES[i]
    if c.kind == "api":
        try:
            out = c.call()
        except (ValueError, FileNotFoundError) as e:   # FileNotFoundError: documented for missing files
            msg = str(e)
            return {"outcome": "clear" if c.param and _names(msg, c.param) else "unnamed",
                    "message": f"{type(e).__name__}: {msg[:300]}"}
        except Exception as e:  # noqa: BLE001 -- classified, that is the point
            return {"outcome": "internal", "message": f"{type(e).__name__}: {str(e)[:300]}"}
        if _has_nan(out):
            return {"outcome": "silent_nan", "message": repr(out)[:300]}
        if c.edge:
            return {"outcome": "flagged" if _flagged(out) else "ok", "message": repr(out)[:300]}
        return {"outcome": "flagged" if _flagged(out) else "plausible", "message": repr(out)[:300]}
    from grokphase.cli import main

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(c.call)
    except SystemExit as e:
        rc = e.code
    except Exception as e:  # noqa: BLE001
        return {"outcome": "internal", "message": f"{type(e).__name__}: {str(e)[:300]}"}
    msg = err.getvalue()
    if rc == 2 or (rc not in (0, None) and "Traceback" not in msg):
        return {"outcome": "clear" if _names(msg, c.param) else "unnamed", "message": msg[-300:]}
    if rc not in (0, None):
        return {"outcome": "internal", "message": msg[-300:]}
    text = out.getvalue()
    if re.search(r"\b(nan|NaN|null)\b", text):
        return {"outcome": "silent_nan", "message": text[:300]}
    return {"outcome": "ok" if c.edge else "plausible", "message": text[:300]}


def _worker() -> None:
    os.chdir(tempfile.mkdtemp(prefix="grokphase-tally-"))
    import warnings

    warnings.simplefilter("ignore")
    for line in sys.stdin:
        i = int(line)
        res = run_case(i)
        sys.__stdout__.write(json.dumps({"i": i} | res) + "\n")
        sys.__stdout__.flush()


class _Pool:
    def __init__(self):
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)

    def ask(self, i: int, timeout: float) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self.proc.stdin.write(f"{i}\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            return {"i": i, "outcome": "hang", "message": f"no answer in {timeout:g} s"}
        line = self.proc.stdout.readline()
        if not line:
            self.proc = None
            return {"i": i, "outcome": "internal", "message": "the worker process died"}
        return json.loads(line)

    def close(self):
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait()


OUTCOMES = ("clear", "unnamed", "internal", "silent_nan", "plausible", "hang", "flagged", "ok")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per call (default 60)")
    ap.add_argument("--json", help="write every case and its outcome here")
    ap.add_argument("--only", help="run only the cases whose label contains this")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker()
        return 0
    pool = _Pool()
    rows = []
    t0 = time.time()
    for i, c in enumerate(CASES):
        if args.only and args.only not in c.label:
            continue
        r = pool.ask(i, args.timeout)
        rows.append({"kind": c.kind, "label": c.label, "param": c.param, "edge": c.edge} | r)
    pool.close()
    for group in ("api", "cli"):
        for edge in (False, True):
            sel = [r for r in rows if r["kind"] == group and r["edge"] == edge]
            if not sel:
                continue
            counts = {o: sum(r["outcome"] == o for r in sel) for o in OUTCOMES}
            print(f"{group} {'edge' if edge else 'invalid'} ({len(sel)} calls): "
                  + ", ".join(f"{o} {n}" for o, n in counts.items() if n))
    print(f"wall time {time.time() - t0:.0f} s")
    for r in rows:
        if r["outcome"] not in ("clear", "ok", "flagged"):
            print(f"  [{r['outcome']}] {r['label']}: {r['message'][:160]!r}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
