"""Fuzz: invalid inputs to every public function raise ValueError naming the parameter.

Each target is a public function (or constructor, or method) with valid keyword arguments; each of
its parameters in turn gets values drawn from a strategy of invalid inputs (wrong types, shapes,
NaN/inf, out of range, empty; ``grokphase.testing``), the others stay valid.  The assertion: a
ValueError raised by grokphase whose message names that parameter.  Bounded examples in the
default run, deeper under ``-m slow`` (conftest.DEPTHS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
from hypothesis import strategies as st

from grokphase import attention as A
from grokphase import linear_vi as LV
from grokphase.numerics.spectra import DiscreteSpectrum, MarchenkoPastur
from grokphase.testing import (assert_names_parameter, invalid_arrays, invalid_choices, invalid_integers,
                               invalid_reals, non_numbers)
from grokphase.validation import bayes as B
from grokphase.validation import copy_posterior_means
from grokphase.validation import samplers as SM
from grokphase.validation import tasks as T
from grokphase.validation.bayes import grokking_times as GT
from grokphase.validation.copy_attention import CopyModel, data_statistic, prior_draw
from grokphase.validation.copy_reduced import linear_reduced_hmc
from grokphase.validation.nn import Transformer, TransformerConfig
from grokphase.validation.optim import SGD, AdamW, clip_grad_norm, warmup_cosine
from grokphase.validation.tasks.icl import SPLITS, max_n_task


@dataclass(frozen=True)
class Target:
    """call(**kwargs) with ``base`` valid; ``params`` maps each fuzzed parameter to its invalid
    strategy; ``names`` the word the message must contain when it differs from the parameter."""

    name: str
    call: Callable
    base: dict
    params: dict
    names: dict = field(default_factory=dict)


SCALE = dict(lo=1e-8, hi=1e8)                       # attention.SCALE_RANGE
POS = invalid_reals(0.0, lo_open=True)              # finite > 0
NONNEG = invalid_reals(0.0)                         # finite >= 0
PROB = invalid_reals(0.0, 1.0, lo_open=True, hi_open=True)
REF = dict(L=8, s_qk=0.25, s_uv=9.0)
ATT = dict(L=invalid_reals(2.0, 1e10), s_qk=invalid_reals(**SCALE), s_uv=invalid_reals(**SCALE),
           kind=invalid_choices(["softmax", "linear"]))
OH_REF = dict(REF, tokens="onehot", V=4)          # one-hot tokens (docs/attention_onehot.md)
OH_ATT = dict(L=invalid_reals(2.0, 1e6), s_qk=ATT["s_qk"], s_uv=ATT["s_uv"], kind=ATT["kind"],
              V=invalid_reals(2.0, 1e8), tokens=invalid_choices(["gaussian", "onehot"]),
              score_prior=invalid_choices(["product", "gaussian"]))
FLAGS = non_numbers().filter(lambda v: not isinstance(v, bool))
RNG = np.random.default_rng(0)
P3 = {"w": np.ones(3)}


def _pairs_bad():
    """Explicit (kappa, g) starts that are not a finite pair; strings other than the two names."""
    return st.one_of(st.text(max_size=8).filter(lambda s: s not in ("uniform", "copy")),
                     st.tuples(st.floats(), st.floats()).filter(lambda t: not all(map(math.isfinite, t))),
                     st.lists(st.floats(-1, 1), min_size=3, max_size=4), st.just((1.0,)), st.none(),
                     st.integers())


def _solve_full_init_bad():
    return st.one_of(st.text(max_size=8).filter(lambda s: s not in ("uniform", "copy")), st.none(),
                     st.integers(), st.just((np.zeros((3, 3)), 1.0)), st.just((np.full((8, 8), np.nan), 1.0)),
                     st.just((np.zeros((8, 8)), math.nan)), st.just((np.zeros((8, 8)),)))


def _t_bad():
    """Flow times (any shape allowed) that are not finite and >= 0."""
    return st.one_of(invalid_reals(0.0, numbers_only=True), st.none(), st.text(min_size=1, max_size=4),
                     invalid_arrays(1, lo=0.0).filter(lambda a: isinstance(a, np.ndarray) and a.size > 0
                                                      and not (np.all(np.isfinite(a)) and np.all(a >= 0))))


def _non_primes():
    return st.one_of(invalid_integers(2), st.integers(-5, 200).filter(
        lambda n: n < 2 or any(n % q == 0 for q in range(2, int(n**0.5) + 1))))


def _probs_bad():
    good = np.full((3, 2, 4), 0.25)
    return st.one_of(st.just(np.zeros((0, 2, 4))), st.just(np.ones(4) / 4), st.just(np.zeros((3, 2, 0))),
                     st.sampled_from([-0.5, math.nan, math.inf, 2.0]).map(
                         lambda v: np.where(np.arange(4) == 1, v, good)), st.none(), st.text(max_size=3))


def _grads_bad():
    return st.one_of(st.sampled_from([math.nan, math.inf, -math.inf]).map(lambda v: {"w": np.array([1.0, v, 1.0])}),
                     st.just({"w": np.ones(4)}), st.just({"v": np.ones(3)}), st.just({}), st.none(),
                     st.just([np.ones(3)]))


def _tokens_bad():
    return st.one_of(st.just(np.array([[1, 9]])), st.just(np.array([[-1, 0]])), st.just(np.zeros((1, 6), int)),
                     st.just(np.zeros(3, int)), st.just(np.zeros((1, 3)) + 0.5), st.just(np.zeros((1, 3))),
                     st.none(), st.text(max_size=3))


def _model(**kw):
    return Transformer(TransformerConfig(**({"vocab_size": 8, "d_model": 8, "n_heads": 2, "d_mlp": 8,
                                             "max_len": 4} | kw)))


def _ivon_step(grads):
    params = {"w": np.ones(3)}
    opt = B.IVON(params, lr=0.1, ess=10.0)
    opt.perturb(params, np.random.default_rng(0))
    opt.step(params, grads)


def _swag_collect(params):
    s = B.SWAG(rank=2)
    s.collect({"w": np.ones(3)})
    s.collect(params)


FEAT = RNG.standard_normal((6, 3))
WMAP = RNG.standard_normal((3, 4))
MODEL = _model()
ICL = T.make_icl_tasks(7, 2)
HMC_MODEL = CopyModel(L=4, N=8)


def _hmc(**kw):
    rng = np.random.default_rng(0)
    return SM.hmc(HMC_MODEL, prior_draw(HMC_MODEL, 2, rng), data_statistic(4, 10), rng, **kw)


def _langevin(**kw):
    rng = np.random.default_rng(0)
    return SM.langevin(HMC_MODEL, prior_draw(HMC_MODEL, 2, rng), data_statistic(4, 10), rng, **kw)


TARGETS = [
    # ---------------------------------------------------------------- attention facade
    Target("attention.solve", lambda beta, **kw: A.solve(beta, **kw), dict(beta=13.0, **REF, kind="softmax"),
           dict(beta=NONNEG, **ATT, init=_pairs_bad(), tol=invalid_reals(0.0, 1.0, lo_open=True),
                max_iter=invalid_integers(1))),
    Target("attention.solve_full", lambda beta, **kw: A.solve_full(beta, **kw), dict(beta=13.0, **REF),
           dict(beta=NONNEG, L=invalid_integers(2, 10**10), kind=ATT["kind"], s_qk=ATT["s_qk"],
                init=_solve_full_init_bad(), tol=invalid_reals(0.0, 1.0, lo_open=True), max_iter=invalid_integers(1)),
           names=dict(init="init")),
    Target("attention.check_copy_ansatz", lambda beta, **kw: A.check_copy_ansatz(beta, **kw),
           dict(beta=13.0, **REF, n_random=0),
           dict(L=invalid_integers(2, 10**10), n_random=invalid_integers(0), seed=invalid_integers(0), tol=POS,
                s_uv=ATT["s_uv"])),
    Target("attention.trace", lambda betas, **kw: A.trace(betas, **kw), dict(betas=[1.0], **REF),
           dict(betas=invalid_arrays(1, lo=0.0), **ATT)),
    Target("attention.transition", A.transition, dict(REF), dict(ATT)),
    Target("attention.critical_end_point", A.critical_end_point, dict(s_qk=0.25, s_uv=9.0),
           dict(kind=invalid_choices(["softmax"]), vary=invalid_choices(["L", "s_qk"]),
                bracket=st.one_of(st.just((64.0, 2.0)), st.just((1.0,)), st.just((math.nan, 3.0)), st.just((1.0, 64.0)),
                                  st.just((2.0, 64.0, 3.0)), st.text(max_size=3)),
                L=ATT["L"], s_qk=ATT["s_qk"], s_uv=ATT["s_uv"], fit_exponents=FLAGS)),
    Target("attention.phase_diagram", lambda betas, Ls, **kw: A.phase_diagram(betas, Ls, **kw),
           dict(betas=[1.0], Ls=[8.0], s_qk=0.25, s_uv=9.0),
           dict(betas=invalid_arrays(1, lo=0.0), Ls=invalid_arrays(1, lo=2.0), kind=ATT["kind"],
                vary=invalid_choices(["L", "s_qk"]), s_qk=ATT["s_qk"], s_uv=ATT["s_uv"], L=ATT["L"])),
    Target("attention.transition[onehot]", A.transition, dict(OH_REF), dict(OH_ATT)),
    Target("attention.Variant[onehot]", A.Variant, dict(kind="softmax", tokens="onehot", V=4),
           dict(kind=ATT["kind"], tokens=OH_ATT["tokens"], V=OH_ATT["V"], score_prior=OH_ATT["score_prior"])),
    Target("attention.solve[onehot]", lambda beta, **kw: A.solve(beta, **kw), dict(beta=17.0, **OH_REF),
           dict(beta=NONNEG, **OH_ATT, init=_pairs_bad(), tol=invalid_reals(0.0, 1.0, lo_open=True),
                max_iter=invalid_integers(1))),
    Target("attention.phase_diagram[onehot]", lambda betas, Ls, **kw: A.phase_diagram(betas, Ls, **kw),
           dict(betas=[17.0], Ls=[8.0], s_qk=0.25, s_uv=9.0, tokens="onehot", V=4),
           dict(betas=invalid_arrays(1, lo=0.0), Ls=invalid_arrays(1, lo=2.0), V=OH_ATT["V"],
                score_prior=OH_ATT["score_prior"], vary=invalid_choices(["L", "s_qk", "V"]), s_qk=ATT["s_qk"],
                s_uv=ATT["s_uv"], L=OH_ATT["L"])),
    Target("attention.map_state", lambda beta, **kw: A.map_state(beta, **kw), dict(beta=30.0, **REF),
           dict(beta=NONNEG, **ATT)),
    Target("attention.map_transition", A.map_transition, dict(REF), dict(ATT)),
    # ---------------------------------------------------------------- linear VI
    Target("LinearVIModel", LV.LinearVIModel, dict(lam=0.5, n_over_sigma2=5e7),
           dict(lam=invalid_reals(1e-12, 1 - 1e-12), n_over_sigma2=invalid_reals(1e-100, 1e100),
                inv_tau2=st.one_of(invalid_reals(0.0, 1e100), st.floats(0.0, 1e-100, exclude_min=True,
                                                                     exclude_max=True)),
                eps=invalid_reals(1e-300, 1e300), C0=invalid_reals(1e-100, 1e100))),
    Target("LinearVIModel.log_excess_risk", lambda t: LV.LinearVIModel(0.6, 5e7).log_excess_risk(t), dict(t=1.0),
           dict(t=st.one_of(_t_bad(), st.just(1e305)))),
    Target("LinearVIModel.crossing_times", lambda level: LV.LinearVIModel(0.6, 5e7).crossing_times(level),
           dict(level=1e-3), dict(level=POS)),
    Target("LinearVIModel.eu_regression", lambda **kw: LV.LinearVIModel(0.6, 5e7).eu_regression([1e-8], **kw),
           dict(sigma2=1.0, cov_share=0.5), dict(sigma2=POS, cov_share=invalid_reals(0.0, 1.0))),
    Target("SpectralVIModel", LV.SpectralVIModel, dict(spectrum=MarchenkoPastur(0.5), n_over_sigma2=5e7),
           dict(spectrum=st.one_of(non_numbers(), st.floats()), n_over_sigma2=invalid_reals(1e-100, 1e100))),
    Target("DiscreteSpectrum", DiscreteSpectrum, dict(eigenvalues=[1.0, 2.0]),
           dict(eigenvalues=invalid_arrays(1, lo=0.0), weights=invalid_arrays(1, lo=0.0).filter(lambda v: v is not None),
                aspect_ratio=PROB.filter(lambda v: v is not None))),
    Target("MarchenkoPastur", MarchenkoPastur, dict(lam=0.5), dict(lam=PROB)),
    Target("sweep_lam", lambda lams, t, **kw: LV.sweep_lam(lams, t, **kw),
           dict(lams=[0.5], t=[1e-8], n_over_sigma2=5e7),
           dict(lams=invalid_arrays(1, lo=1e-12, hi=1 - 1e-12), t=invalid_arrays(1, lo=0.0),
                n_over_sigma2=invalid_reals(1e-100, 1e100), sigma2=POS, cov_share=invalid_reals(0.0, 1.0))),
    # ---------------------------------------------------------------- finite-N copy posterior, samplers
    Target("copy_posterior_means", lambda beta, **kw: copy_posterior_means(beta, **kw),
           dict(beta=13.0, N=16, L=8, n_iter=20, n_chains=2),
           dict(beta=NONNEG, N=invalid_integers(1), L=invalid_integers(2), kind=ATT["kind"],
                sampler=invalid_choices(["hmc", "reduced"]), start=invalid_choices(["uniform", "copy"]),
                s_qk=POS, s_uv=POS, sigma2=POS, n_chains=invalid_integers(2), n_iter=invalid_integers(20),
                seed=invalid_integers(0), whitened=FLAGS)),
    Target("linear_reduced_hmc", lambda beta, **kw: linear_reduced_hmc(beta, **kw), dict(beta=0.3, N=16, L=8, n_iter=20),
           dict(beta=NONNEG, N=invalid_integers(10), L=invalid_integers(2), s_qk=POS, n_chains=invalid_integers(2),
                n_iter=invalid_integers(20), seed=invalid_integers(0))),
    Target("CopyModel", CopyModel, dict(L=4, N=8),
           dict(L=invalid_integers(2), N=invalid_integers(1), kind=ATT["kind"], s_q=POS, s_v=POS, sigma2=POS)),
    Target("samplers.hmc", _hmc, dict(n_iter=4),
           dict(n_iter=invalid_integers(2), n_leapfrog=invalid_integers(1), step0=POS, target=PROB,
                thin=invalid_integers(1))),
    Target("samplers.langevin", _langevin, dict(eta=1e-3, n_steps=2),
           dict(eta=POS, n_steps=invalid_integers(0), record_every=invalid_integers(1))),
    Target("samplers.split_rhat", SM.split_rhat, dict(x=np.ones((2, 10))),
           dict(x=st.one_of(invalid_arrays(2), st.just(np.ones((2, 3)))))),
    Target("samplers.effective_sample_size", SM.effective_sample_size, dict(x=np.ones((2, 10))),
           dict(x=st.one_of(invalid_arrays(2), st.just(np.ones((2, 1)))))),
    # ---------------------------------------------------------------- tasks
    Target("modular_dataset", T.modular_dataset, dict(p=7),
           dict(p=_non_primes(), op=invalid_choices(["add", "sub", "mul", "quad"]), frac=PROB,
                split=invalid_choices(["random", "strip", "rectangle"]), offset=invalid_integers(0, 6),
                seed=invalid_integers(0))),
    Target("modular_dataset(split='strip')", lambda **kw: T.modular_dataset(split="strip", **kw), dict(p=7, k=2),
           dict(k=st.one_of(invalid_integers(0, 5), st.none()))),
    Target("ModularDataset.split", lambda which: T.modular_dataset(7).split(which), dict(which="train"),
           dict(which=invalid_choices(["train", "test"]))),
    Target("make_icl_tasks", T.make_icl_tasks, dict(p=7, n_task=2),
           dict(p=invalid_integers(3), n_task=invalid_integers(1, max_n_task(7)),
                alpha=invalid_reals(0.0, 1.0, lo_open=True), n_ood=invalid_integers(1), seed=invalid_integers(0),
                val_protocol=invalid_choices(["all", "query"]))),
    Target("ICLTaskSet.batch", lambda split, n_seqs, n_ctx, **kw: ICL.batch(np.random.default_rng(0), split,
                                                                             n_seqs, n_ctx, **kw),
           dict(split="id_train", n_seqs=2, n_ctx=3),
           dict(split=invalid_choices(SPLITS), n_seqs=invalid_integers(1), n_ctx=invalid_integers(1),
                k=invalid_integers(0, 2).filter(lambda v: v is not None), p_noise=invalid_reals(0.0, 1.0))),
    Target("copy_batch", lambda **kw: T.copy_batch(np.random.default_rng(0), **kw), dict(batch=2, length=4, vocab=5),
           dict(batch=invalid_integers(1), length=invalid_integers(2), vocab=invalid_integers(2))),
    # ---------------------------------------------------------------- transformer, optimisers
    Target("TransformerConfig", TransformerConfig, dict(vocab_size=8, d_model=8, n_heads=2),
           dict(vocab_size=invalid_integers(1), d_model=invalid_integers(1), n_layers=invalid_integers(1),
                attention=invalid_choices(["softmax", "linear"]), dtype=invalid_choices(["float32", "float64"]),
                dropout=invalid_reals(0.0, 1.0, hi_open=True))),
    Target("Transformer.logits", MODEL.logits, dict(tokens=np.zeros((1, 3), int)), dict(tokens=_tokens_bad())),
    Target("AdamW", lambda **kw: AdamW(dict(P3), **kw), dict(lr=1e-3),
           dict(lr=NONNEG, eps=NONNEG, weight_decay=NONNEG,
                betas=st.one_of(st.just((1.0, 0.9)), st.just((0.9, -0.1)), st.just((0.9,)), st.just((math.nan, 0.9)),
                                st.none(), st.text(max_size=3)))),
    Target("SGD", lambda **kw: SGD(dict(P3), **kw), dict(lr=1e-2),
           dict(lr=NONNEG, momentum=NONNEG, weight_decay=NONNEG)),
    Target("clip_grad_norm", lambda max_norm: clip_grad_norm({"w": np.ones(3)}, max_norm), dict(max_norm=1.0),
           dict(max_norm=POS)),
    Target("warmup_cosine", lambda step, **kw: warmup_cosine(step, **kw), dict(step=3, warmup=2, total=10),
           dict(step=invalid_integers(0), warmup=invalid_integers(0), total=invalid_integers(0), start=NONNEG,
                final=NONNEG)),
    # ---------------------------------------------------------------- bayes
    Target("uncertainty_decomposition", B.uncertainty_decomposition, dict(probs=np.full((3, 2, 4), 0.25)),
           dict(probs=_probs_bad())),
    Target("IVON", lambda **kw: B.IVON(dict(P3), **kw), dict(lr=0.1, ess=10.0),
           dict(lr=POS, ess=POS, weight_decay=POS, beta1=invalid_reals(0.0, 1.0, hi_open=True),
                beta2=invalid_reals(0.0, 1.0, hi_open=True), hess_init=POS,
                clip_radius=POS.filter(lambda v: v != math.inf))),
    Target("IVON.step", _ivon_step, dict(grads={"w": np.ones(3)}), dict(grads=_grads_bad())),
    Target("SWAG", B.SWAG, dict(rank=2), dict(rank=invalid_integers(2))),
    Target("SWAG.collect", _swag_collect, dict(params={"w": np.ones(3)}),
           dict(params=_grads_bad())),
    Target("last_layer_laplace", B.last_layer_laplace, dict(features=FEAT, W_map=WMAP, prior_precision=1.0),
           dict(features=st.one_of(invalid_arrays(2), st.just(np.ones((6, 5)))), W_map=invalid_arrays(2),
                prior_precision=st.one_of(POS, st.just("evid")).filter(lambda v: v != "evidence"),
                structure=invalid_choices(["full", "kfac"])),
           names=dict(features="features")),
    Target("fit_transformer_laplace", lambda mask: B.fit_transformer_laplace(MODEL, np.zeros((2, 3), int), mask, 1.0),
           dict(mask=np.ones((2, 3), bool)),
           dict(mask=st.one_of(st.just(np.zeros((2, 3), bool)), st.just(np.ones((2, 4), bool)), st.just(np.ones(3, bool))))),
    Target("ensemble_probs", lambda **kw: B.ensemble_probs([MODEL], **kw),
           dict(tokens=np.zeros((1, 3), int), pos=np.zeros(1, int)),
           dict(tokens=_tokens_bad(), pos=st.one_of(st.just(np.array([5])), st.just(np.array([-1])),
                                                    st.just(np.array([0.5])), st.just(np.zeros(2, int)), st.none()))),
    Target("mc_dropout_probs", lambda S: B.mc_dropout_probs(_model(dropout=0.1), np.zeros((1, 3), int),
                                                            np.zeros(1, int), np.random.default_rng(0), S),
           dict(S=2), dict(S=invalid_integers(1))),
    Target("threshold_time", lambda **kw: GT.threshold_time(**({"steps": [0, 1, 2]} | kw)),
           dict(acc=[0.1, 0.5, 0.9], chance=0.1),
           dict(acc=st.one_of(invalid_arrays(1), st.just([0.1, 0.5])), chance=invalid_reals(),
                fraction=invalid_reals(0.0, 1.0, lo_open=True))),
    Target("eu_peak", lambda **kw: GT.eu_peak(**({"steps": [0, 1, 2]} | kw)), dict(eu=[0.1, 0.5, 0.2]),
           dict(eu=st.one_of(invalid_arrays(1), st.just([0.1, 0.5])))),
    Target("EUMonitor", GT.EUMonitor, dict(),
           dict(drop=invalid_reals(1.0, lo_open=True), rise=invalid_reals(1.0), patience=invalid_integers(1))),
    Target("EUMonitor.update", lambda eu: GT.EUMonitor().update(0, eu), dict(eu=0.5), dict(eu=invalid_reals())),
]

BY_NAME = {t.name: t for t in TARGETS}
CASES = [(t.name, p) for t in TARGETS for p in t.params]


def test_every_target_is_valid_at_its_base():
    """The base arguments are valid, so each fuzzed failure is due to the fuzzed parameter."""
    for t in TARGETS:
        if t.name not in ("attention.check_copy_ansatz", "attention.solve_full", "copy_posterior_means",
                          "linear_reduced_hmc", "attention.critical_end_point", "sweep_lam"):
            t.call(**t.base)                # the expensive ones run in test_fuzz_valid


@pytest.mark.parametrize("target, param", CASES, ids=[f"{t}-{p}" for t, p in CASES])
def test_invalid_input_names_the_parameter(target, param, depth, fuzz_run):
    t = BY_NAME[target]

    def check(value):
        assert_names_parameter(lambda: t.call(**(t.base | {param: value})), t.names.get(param, param))

    fuzz_run(depth, t.params[param], check, t.name)


def test_grid_axes_reject_non_scalar_values(depth, fuzz_run):
    from grokphase.sweep import Grid

    bad = st.one_of(st.sampled_from([math.nan, math.inf, None]), st.lists(st.integers(), min_size=1, max_size=2),
                    st.just(np.ones(2)), st.dictionaries(st.text(max_size=1), st.integers(), max_size=1))
    fuzz_run(depth, bad, lambda v: assert_names_parameter(lambda: Grid.product(N=[16, v]), "'N'"), "sweep.Grid.product")


def test_damaged_result_files_name_the_file(depth, fuzz_run, tmp_path):
    """Random bytes and truncated netCDF files: a ValueError naming the file and the remedy."""
    import xarray as xr

    from grokphase.results import load_dataset, save_dataset

    good = save_dataset(xr.Dataset({"c": ("beta", np.linspace(0.0, 1.0, 50))}, attrs={"L": 8}), tmp_path / "good.nc")
    data = good.read_bytes()
    path = tmp_path / "bad.nc"

    def check(v):
        path.write_bytes(data[: v] if isinstance(v, int) else v)
        msg = assert_names_parameter(lambda: load_dataset(path), str(path))
        assert "delete it and recompute" in msg

    fuzz_run(depth, st.one_of(st.integers(0, len(data) - 1), st.binary(max_size=2000)), check,
             "results.load_dataset")
