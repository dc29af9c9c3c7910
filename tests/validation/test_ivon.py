"""IVON: the fixed point on a quadratic loss is the exact Gaussian posterior (spec §3), samples
have the stated spread, and a training run with IVON resumes bit for bit."""

import numpy as np
import pytest

from grokphase.validation.bayes.ivon import IVON


def _quadratic_run(a, c, *, ess, delta, steps, lr, seed=0):
    params = {"w": np.zeros_like(a)}
    opt = IVON(params, lr=lr, ess=ess, weight_decay=delta, beta2=0.999, hess_init=0.3)
    rng = np.random.default_rng(seed)
    for t in range(steps):
        opt.perturb(params, rng)
        opt.step(params, {"w": a * (params["w"] - c)}, lr=lr if t < steps - 3000 else lr / 10)
    return params["w"], opt


def test_quadratic_fixed_point_is_the_exact_posterior():
    """Loss (1/2) sum a_i (w_i - c_i)^2, ess 100, delta 0.5: h -> a, mu -> a c / (a + delta).
    Noise model (module docstring): hhat has mean a and sd a sqrt(2 + (mu - c)^2 / sigma^2) <= 2 a
    here, so after the beta2 = 0.999 average h/a has sd <= 2 sqrt(5e-4) = 0.045 per coordinate and
    the mean over 400 independent coordinates sd <= 0.0023; the mean's sd at lr 0.01 is about
    0.1 sigma a / (a + delta).  Tolerances: 5 sd."""
    rng = np.random.default_rng(1)
    n, ess, delta = 400, 100.0, 0.5
    a = rng.uniform(0.5, 2.0, n)
    c = rng.uniform(-0.3, 0.3, n)
    mu, opt = _quadratic_run(a, c, ess=ess, delta=delta, steps=12000, lr=0.1)
    ratio = opt.h["w"] / a
    assert abs(ratio.mean() - 1.0) < 5 * 0.0023
    assert ratio.std() < 5 * 0.045
    sigma = opt.sigma("w")
    np.testing.assert_allclose(sigma, 1 / np.sqrt(ess * (opt.h["w"] + delta)))
    z = (mu - a * c / (a + delta)) / sigma
    assert abs(z.mean()) < 5 * 0.1 / np.sqrt(n)
    assert np.sqrt((z**2).mean()) < 0.5


def test_wrong_hessian_would_fail():
    """The same run with the curvature doubled gives h/a near 2: the check above can fail."""
    rng = np.random.default_rng(1)
    a = rng.uniform(0.5, 2.0, 400)
    c = rng.uniform(-0.3, 0.3, 400)
    _, opt = _quadratic_run(2 * a, c, ess=100.0, delta=0.5, steps=6000, lr=0.1)
    assert abs((opt.h["w"] / a).mean() - 2.0) < 0.05


def test_sample_spread_and_dtype():
    params = {"w": np.zeros(20000, np.float32)}
    opt = IVON(params, lr=0.1, ess=50.0, weight_decay=1.0, hess_init=3.0)
    s = opt.sample(params, np.random.default_rng(0))["w"]
    assert s.dtype == np.float32
    assert abs(s.std() / (1 / np.sqrt(50 * 4.0)) - 1) < 5 / np.sqrt(2 * 20000)
    with pytest.raises(ValueError, match="perturb"):
        opt.step(params, {"w": np.zeros_like(params["w"])})
    for bad in (dict(lr=0), dict(ess=-1), dict(weight_decay=0), dict(beta2=1.0), dict(clip_radius=0)):
        kw = dict(lr=0.1, ess=1.0, weight_decay=1.0) | bad
        with pytest.raises(ValueError, match=next(iter(bad)).split("_")[0]):
            IVON(params, **kw)
