"""The copy task with the package's NumPy transformer under Langevin noise (issue 4, item 7).

One layer, one head, position-only attention scores (q, k from the learned positions; values from
the tokens), softmax or linear, no LayerNorm.  Data: P random sequences of L tokens from a
vocabulary of V, target = previous token (the loss skips position 0, see ``tasks.copy``).  Posterior
p(theta | D) ∝ exp(-P (L-1) CE(theta) - |theta|^2 / (2 s^2)) sampled by overdamped Langevin (SGLD,
full batch): theta <- theta - eta grad U + sqrt(2 eta) xi with eta = eta0 / (P (L-1) + 1/s^2).  Observables:
the copy weight c = mean_l A_{l,l-1} of the (token-independent) positional attention, and the
held-out copy accuracy.  The amount of data P plays the role of alpha in the bespoke model.
"""

from __future__ import annotations

import math

import numpy as np

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
    S = np.where(mask, S, -np.inf)
    A = np.exp(S - S.max(axis=1, keepdims=True))
    return A / A.sum(axis=1, keepdims=True)


def copy_weight(model: Transformer) -> float:
    A = positional_attention(model)
    L = A.shape[0]
    return float(np.mean([A[l, l - 1] for l in range(1, L)]))


def run(P_values, *, kind="softmax", V=8, L=8, d_model=16, prior_std=0.5, eta0=0.01, steps=3000, seed=0,
        record_every=100) -> dict:
    """SGLD for each amount of data P (one run each).  Returns per P the trajectory of c and the
    final held-out accuracy, mean c over the last third, and the train loss."""
    out = []
    for P in P_values:
        rng = np.random.default_rng(seed + P)
        cfg = TransformerConfig(vocab_size=V, d_model=d_model, n_layers=1, n_heads=1, d_mlp=d_model, max_len=L,
                                attention=kind, position_only=True, dtype="float64", seed=seed + P,
                                init_std=0.1)
        model = Transformer(cfg)
        tok, tg, mask = copy_batch(rng, P, L, V)
        test = copy_batch(np.random.default_rng(10**6 + seed), 512, L, V)
        eta = eta0 / (P * (L - 1) + 1.0 / prior_std**2)
        cs, ts = [], []
        for step in range(steps + 1):
            if step % record_every == 0:
                cs.append(copy_weight(model))
                ts.append(step * eta * P * (L - 1))
            if step == steps:
                break
            loss, grads = model.loss_and_grad(tok, tg, mask)
            for k, p in model.params.items():
                g = P * (L - 1) * grads[k] + p / prior_std**2
                p -= eta * g
                p += math.sqrt(2 * eta) * rng.standard_normal(p.shape)
        logits = model.logits(test[0])
        acc = float((logits.argmax(-1) == test[1])[test[2]].mean())
        out.append({"P": int(P), "t": ts, "c": cs, "c_final": float(np.mean(cs[-len(cs) // 3:])),
                    "test_acc": acc, "train_loss": float(loss)})
    return {"kind": kind, "V": V, "L": L, "runs": out}
