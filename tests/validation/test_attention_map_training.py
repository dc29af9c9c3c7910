"""Adam with weight decay = prior follows the MAP theory of spec §9, plain MSE always copies."""

import numpy as np
import pytest

from grokphase import attention
from grokphase.validation.experiments.attention_map_training import adam_train


def test_adam_map_threshold_and_learned_state():
    tr = attention.map_transition(L=8, s_qk=0.25, s_uv=9.0)
    betas = [20.0, 0.95 * tr.beta_local, 1.05 * tr.beta_local, 45.0]
    r = adam_train(betas, N=32, steps=2500, seed=1)
    c = np.array(r["c"])[:, -1]
    # below beta_local (even above the global MAP switch 17.04) Adam from small init stays uniform
    assert np.allclose(c[:2], 1 / 8, atol=1e-3)
    for b, ci in zip(betas[2:], c[2:]):
        assert ci == pytest.approx(attention.map_state(b, L=8, s_qk=0.25, s_uv=9.0).c, abs=0.01)


def test_plain_mse_always_copies_and_linear_map_stays_at_the_origin():
    mse = adam_train([5.0, 40.0], N=32, steps=2500, prior=False)
    assert np.all(np.array(mse["c"])[:, -1] > 0.95)
    lin = adam_train([0.5, 2.0], N=32, kind="linear", steps=1500)
    assert np.all(np.abs(np.array(lin["w"])[:, -1]) < 1e-3)
