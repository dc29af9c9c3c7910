"""The copy task with the package's NumPy transformer under Langevin noise.

One layer, one head, position-only attention scores (q, k from the learned positions; values from
the tokens), softmax or linear, no LayerNorm.  Data: P random sequences of L tokens from a
vocabulary of V, target = previous token (the loss skips position 0, see ``tasks.copy``).  Posterior
p(theta | D) ∝ exp(-P (L-1) CE(theta) - |theta|^2 / (2 s^2)) sampled by overdamped Langevin (SGLD,
full batch): theta <- theta - eta grad U + sqrt(2 eta) xi with eta = eta0 min(1, 16/P) (a fixed
step up to P = 16, then shrinking so that eta P (L-1) times the loss curvature stays bounded; linear
attention diverges otherwise).  Observables:
the copy weight c = mean_l A_{l,l-1} of the (token-independent) positional attention, and the
held-out copy accuracy.  The amount of data P plays the role of alpha in the bespoke model.

Design :class:`CopyLangevin`, point :func:`point` (one attention kind, P and seed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import xarray as xr

from grokphase._progress import progress_bar
from grokphase.numerics.copy_loss import SOFTMAX, attention_weights
from grokphase.validation.nn import Transformer, TransformerConfig
from grokphase.validation.tasks import copy_batch


def positional_attention(model: Transformer) -> np.ndarray:
    """A (L, L) of the position-only attention (first layer, first head)."""
    c, p = model.config, model.params
    P = p["pos_embed"]
    dh = c.d_model // c.n_heads
    q = P @ p["blocks.0.attn.W_Q"][:, :dh]
    k = P @ p["blocks.0.attn.W_K"][:, :dh]
    S = q @ k.T / math.sqrt(dh)
    mask = np.tril(np.ones(S.shape, bool))
    if c.attention == "linear":
        return S * mask
    return attention_weights(SOFTMAX, np.where(mask, S, -np.inf)[None])[0]


def copy_weight(model: Transformer) -> float:
    """mean_l A_{l,l-1}; for linear attention its magnitude (the sign is a symmetry: (W_Q, W_V) ->
    (-W_Q, -W_V) leaves the network unchanged)."""
    A = positional_attention(model)
    L = A.shape[0]
    c = float(np.mean([A[l, l - 1] for l in range(1, L)]))
    return abs(c) if model.config.attention == "linear" else c


@dataclass(frozen=True)
class CopyLangevin:
    """Fixed parameters of the transformer copy task under SGLD (module docstring).

    Parameters
    ----------
    V, L : int
        Vocabulary size and sequence length (>= 2).
    d_model : int
        Model width (one head, d_mlp = d_model).
    prior_std : float
        Gaussian prior standard deviation of every weight (> 0).
    eta : float
        SGLD step up to P = 16 (> 0); eta 16/P beyond.
    steps : int
        SGLD steps (>= 1).
    record_every : int
        Steps between recorded copy weights.
    n_test : int
        Held-out sequences for the copy accuracy.
    """

    V: int = 8
    L: int = 8
    d_model: int = 16
    prior_std: float = 0.5
    eta: float = 2e-4
    steps: int = 20000
    record_every: int = 200
    n_test: int = 512

    VERSION: ClassVar[int] = 1
    LABELS: ClassVar[dict] = {
        "kind": {"long_name": "attention type"}, "P": {"long_name": "training sequences P"},
        "seed": {"long_name": "random seed"}, "step": {"long_name": "SGLD step"},
        "c": {"long_name": "copy weight mean_l A_{l,l-1} (linear: its magnitude)"},
        "c_final": {"long_name": "mean copy weight over the last third"},
        "test_acc": {"long_name": "held-out copy accuracy"}, "train_loss": {"long_name": "final training loss"},
        "step_size": {"long_name": "SGLD step eta min(1, 16/P)"}}

    def __post_init__(self):
        if self.V < 2 or self.L < 2 or self.d_model < 1:
            raise ValueError(f"need V >= 2, L >= 2, d_model >= 1; got {self.V}, {self.L}, {self.d_model}")
        if not (self.prior_std > 0 and self.eta > 0) or self.steps < 1 or self.record_every < 1 or self.n_test < 1:
            raise ValueError("need prior_std > 0, eta > 0, steps >= 1, record_every >= 1, n_test >= 1")


def point(design: CopyLangevin, kind: str, P: int, seed: int) -> xr.Dataset:
    """One SGLD run with P training sequences: c over the recorded steps, its mean over the last
    third (c_final), the held-out accuracy, the final train loss and the step size."""
    d = design
    rng = np.random.default_rng(seed + P)
    cfg = TransformerConfig(vocab_size=d.V, d_model=d.d_model, n_layers=1, n_heads=1, d_mlp=d.d_model, max_len=d.L,
                            attention=kind, position_only=True, dtype="float64", seed=seed + P, init_std=0.1)
    model = Transformer(cfg)
    tok, tg, mask = copy_batch(rng, P, d.L, d.V)
    test = copy_batch(np.random.default_rng(10**6 + seed), d.n_test, d.L, d.V)
    step_size = d.eta * min(1.0, 16.0 / P)  # keeps eta P (L-1) x curvature bounded at large P
    cs, steps = [], []
    with progress_bar(d.steps, desc=f"SGLD {kind} P={P}", unit="step", leave=False) as bar:
        for step in range(d.steps + 1):
            if step % d.record_every == 0:
                cs.append(copy_weight(model))
                steps.append(step)
            if step == d.steps:
                break
            loss, grads = model.loss_and_grad(tok, tg, mask)
            for k, p in model.params.items():
                g = P * (d.L - 1) * grads[k] + p / d.prior_std**2
                p -= step_size * g
                p += math.sqrt(2 * step_size) * rng.standard_normal(p.shape)
            bar.update()
    logits = model.logits(test[0])
    acc = float((logits.argmax(-1) == test[1])[test[2]].mean())
    return xr.Dataset({"c": ("step", np.array(cs)), "c_final": float(np.mean(cs[-len(cs) // 3:])), "test_acc": acc,
                       "train_loss": float(loss), "step_size": step_size}, coords={"step": np.array(steps)})


def summarize(ds: xr.Dataset) -> xr.Dataset:
    """Final copy weight, held-out accuracy and train loss per (kind, P, seed)."""
    return ds[["c_final", "test_acc", "train_loss"]]
