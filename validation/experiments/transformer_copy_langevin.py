"""The copy task with the package's NumPy transformer under Langevin noise (``docs/attention_copy.md`` §8).

One layer, one head, position-only attention scores (q, k from the learned positions; values from
the tokens), softmax or linear, no LayerNorm.  Data: P random sequences of L tokens from a
vocabulary of V, target = previous token (the loss skips position 0, see ``tasks.copy``).  Posterior
p(theta | D) ∝ exp(-P (L-1) CE(theta) - |theta|^2 / (2 s^2)) sampled by overdamped Langevin (SGLD,
full batch): theta <- theta - eta grad U + sqrt(2 eta) xi with eta = eta0 min(1, 16/P) (a fixed
step up to P = 16, then shrinking so that eta P (L-1) times the loss curvature stays bounded; linear
attention diverges otherwise).  Observables:
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
    """mean_l A_{l,l-1}; for linear attention its magnitude (the sign is a symmetry: (W_Q, W_V) ->
    (-W_Q, -W_V) leaves the network unchanged)."""
    A = positional_attention(model)
    L = A.shape[0]
    c = float(np.mean([A[l, l - 1] for l in range(1, L)]))
    return abs(c) if model.config.attention == "linear" else c


def run(P_values, *, kind="softmax", V=8, L=8, d_model=16, prior_std=0.5, eta=2e-4, steps=20000, seed=0,
        record_every=200) -> dict:
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
        step_size = eta * min(1.0, 16.0 / P)  # keeps eta P (L-1) x curvature bounded at large P
        cs, ts = [], []
        for step in range(steps + 1):
            if step % record_every == 0:
                cs.append(copy_weight(model))
                ts.append(step * step_size)
            if step == steps:
                break
            loss, grads = model.loss_and_grad(tok, tg, mask)
            for k, p in model.params.items():
                g = P * (L - 1) * grads[k] + p / prior_std**2
                p -= step_size * g
                p += math.sqrt(2 * step_size) * rng.standard_normal(p.shape)
        logits = model.logits(test[0])
        acc = float((logits.argmax(-1) == test[1])[test[2]].mean())
        out.append({"P": int(P), "t": ts, "c": cs, "c_final": float(np.mean(cs[-len(cs) // 3:])),
                    "test_acc": acc, "train_loss": float(loss)})
    return {"kind": kind, "V": V, "L": L, "runs": out}


def sweep(P_values=(1, 2, 3, 4, 5, 6, 8, 12, 16, 32, 64), seeds=(0, 1, 2), **kw) -> dict:
    """run() for both attention kinds and several seeds: c_final and test_acc arrays (kind -> (seeds, P))."""
    out = {"P": list(P_values)}
    for kind in ("softmax", "linear"):
        rs = [run(P_values, kind=kind, seed=s, **kw)["runs"] for s in seeds]
        out[kind] = {"c_final": [[r["c_final"] for r in rr] for rr in rs],
                     "test_acc": [[r["test_acc"] for r in rr] for rr in rs]}
    return out
