"""The copy task with the package's NumPy transformer: SGLD posterior samples or Adam (MAP).

One layer, one head, position-only attention scores (q, k from the learned positions; values from
the tokens), softmax or linear, no LayerNorm.  Data: P random sequences of L tokens from a
vocabulary of V, target = previous token (the loss skips position 0, see ``tasks.copy``).

Energy (negative log posterior, up to a constant) of the sampled parameters theta:

    U(theta) = lambda(P) loss(theta) + |theta|^2 / (2 s^2),

* ``loss='ce'``: loss = mean cross-entropy over the P (L-1) scored positions, lambda = P (L-1);
* ``loss='mse'`` (the Gaussian likelihood of ``docs/attention_onehot.md`` §1): loss = mean squared
  error over the P (L-1) V logits against the one-hot target, lambda = P (L-1) V / (2 sigma^2), i.e.
  the data term is sum_{mu, l >= 1} |f_l - y_l|^2 / (2 sigma^2).  With the width N = d_model the
  model's control parameter is beta = alpha / sigma^2 = P / (d_model sigma^2) (:func:`beta`).

SGLD (``optimizer='sgld'``, full batch, temperature 1): theta <- theta - eta grad U + sqrt(2 eta) xi
with eta = eta0 min(1, P0 / P_eff), P_eff = P (ce) or P / sigma^2 (mse), P0 = ``eta_P0`` (16 by
default): a fixed step up to P_eff = P0, then shrinking so that eta times the data curvature stays
bounded (the runs diverge otherwise).  ``optimizer='adam'``: Adam (``optim.AdamW`` without weight decay; the prior
is in U) on U, i.e. gradient descent to a MAP point.  ``train_mlp=False`` holds the MLP at zero
(its weights are neither sampled nor in the prior), leaving embedding + attention + unembedding
with the residual (direct) path E W_U, which the model of the docs lacks.

Starts: 'uniform' (every matrix N(0, init_std^2): the positional attention is near uniform) or
'copy' (that init plus a planted copier, :func:`plant_copy`: scores copy_logit (softmax) or 1
(linear) on the previous position and a value path E W_V W_O W_U = I with E W_U = 0).

Observables (:func:`order_parameters`), from the weights: with A the (L, L) positional attention and
W = E W_V W_O W_U (V, V) the attention path's token map (exact: the attention output at position l
is sum_m A_lm W[s_m] in logit space):

* c = mean_{l>=1} A_{l,l-1} (linear: its magnitude; the sign is the symmetry (W_Q, W_V) -> (-W_Q, -W_V));
* kappa = mean_{l>=1} [A_{l,l-1} - mean_{m<=l, m != l-1} A_lm] (copy contrast), a = mean_{l>=1} sum_m A_lm;
* g = tr((I - J/V) W)/(V-1) (copy gain), m = 1^T W 1 / V (mean gain) — the §4 decomposition of W;
* w_c = g kappa (copy channel) and w_m = a m (mean channel: the attention path's expected output
  summed over the vocabulary), as in §6; both invariant under the sign symmetry;
* m_direct = 1^T E W_U 1 / V: the mean the residual path emits.

The comparison with ``docs/attention_onehot.md`` is of phenomena, not of numbers: the transformer's
scores q k^T/sqrt(d) with q = pos W_Q (a product of three Gaussian matrices, likewise the value path
of four) are another parametrisation and prior than the model's S = Q K^T / N, W = O V^T / N; its
attention is causal (row l sees l + 1 positions, uniform copy weight mean_l 1/(l+1) = 0.245 at L = 8
against 1/L) and it scores L - 1 positions, not L cyclic ones.

Design :class:`CopyLangevin`, point :func:`point` (one attention kind, P, start and seed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import xarray as xr

from grokphase import _checks as chk
from grokphase._progress import progress_bar
from grokphase.numerics.copy_loss import SOFTMAX, attention_weights
from grokphase.validation.nn import Transformer, TransformerConfig
from grokphase.validation.optim.adamw import AdamW
from grokphase.validation.tasks import copy_batch

STARTS = ("uniform", "copy")
OBSERVABLES = ("c", "kappa", "a", "g", "m", "w_c", "w_m", "m_direct")


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
    return order_parameters(model)["c"]


def value_map(model: Transformer) -> np.ndarray:
    """W = E W_V W_O W_U (V, V): row s is the attention path's logit contribution of a fully
    attended token s (one head)."""
    p = model.params
    return p["embed"] @ p["blocks.0.attn.W_V"] @ p["blocks.0.attn.W_O"] @ model.output_weight


def order_parameters(model: Transformer) -> dict:
    """The observables of the module docstring as floats: c, kappa, a, g, m, w_c, w_m, m_direct."""
    A = positional_attention(model)
    L = A.shape[0]
    rows = range(1, L)
    copy = np.array([A[l, l - 1] for l in rows])
    off = np.array([(A[l, :l + 1].sum() - A[l, l - 1]) / l for l in rows])
    a = float(np.mean([A[l, :l + 1].sum() for l in rows]))
    W = value_map(model)
    V = W.shape[0]
    g = float((np.trace(W) - W.sum() / V) / (V - 1))
    m = float(W.sum() / V)
    kappa = float(np.mean(copy - off))
    direct = model.params["embed"] @ model.output_weight
    c = float(np.mean(copy))
    return {"c": abs(c) if model.config.attention == "linear" else c, "kappa": kappa, "a": a, "g": g, "m": m,
            "w_c": g * kappa, "w_m": a * m, "m_direct": float(direct.sum() / V)}


@dataclass(frozen=True)
class CopyLangevin:
    """Fixed parameters of the transformer copy task (module docstring).

    Parameters
    ----------
    V, L : int
        Vocabulary size and sequence length (>= 2).
    d_model : int
        Model width N (one head, d_mlp = d_model).
    prior_std : float
        Gaussian prior standard deviation s of every trained weight (> 0).
    eta : float
        SGLD step up to P_eff = eta_P0 (> 0); eta eta_P0/P_eff beyond.
    steps : int
        SGLD or Adam steps (>= 1).
    record_every : int
        Steps between recorded observables.
    n_test : int
        Held-out sequences for the copy accuracy.
    loss : {'ce', 'mse'}
        Cross-entropy or the Gaussian likelihood with variance ``sigma2``.
    sigma2 : float
        Likelihood variance sigma^2 of ``loss='mse'`` (> 0; unused with 'ce').
    optimizer : {'sgld', 'adam'}
        Posterior sampling or MAP descent.
    lr : float
        Adam learning rate (> 0; unused with SGLD).
    train_mlp : bool
        False: the MLP is held at zero (not sampled, not in the prior).
    init_std : float
        Standard deviation of the initial weights (> 0).
    copy_logit : float
        Planted score on the previous position of the softmax 'copy' start (> 0; linear: 1).
    eta_P0 : float
        P_eff beyond which the SGLD step shrinks like 1/P_eff (> 0).
    """

    V: int = 8
    L: int = 8
    d_model: int = 16
    prior_std: float = 0.5
    eta: float = 2e-4
    steps: int = 20000
    record_every: int = 200
    n_test: int = 512
    loss: str = "ce"
    sigma2: float = 1.0
    optimizer: str = "sgld"
    lr: float = 1e-3
    train_mlp: bool = True
    init_std: float = 0.1
    copy_logit: float = 6.0
    eta_P0: float = 16.0

    VERSION: ClassVar[int] = 2
    LABELS: ClassVar[dict] = {
        "kind": {"long_name": "attention type"}, "P": {"long_name": "training sequences P"},
        "start": {"long_name": "initial state (uniform | planted copy)"},
        "seed": {"long_name": "random seed"}, "step": {"long_name": "recorded step"},
        "c": {"long_name": "copy weight mean_l A_{l,l-1} (linear: its magnitude)"},
        "c_final": {"long_name": "mean copy weight over the last third"},
        "w_c": {"long_name": "copy channel g kappa"}, "w_m": {"long_name": "mean channel a m (attention path)"},
        "test_acc": {"long_name": "held-out copy accuracy"}, "train_loss": {"long_name": "final training loss"},
        "step_size": {"long_name": "SGLD step eta min(1, eta_P0/P_eff) (Adam: learning rate)"},
        "beta": {"long_name": "beta = P / (d_model sigma^2) (mse)"}}

    def __post_init__(self):
        chk.integer("V", self.V, 2)
        chk.integer("L", self.L, 2)
        chk.integer("d_model", self.d_model, 1)
        for name in ("prior_std", "eta", "sigma2", "lr", "init_std", "copy_logit", "eta_P0"):
            chk.positive(name, getattr(self, name))
        for name in ("steps", "record_every", "n_test"):
            chk.integer(name, getattr(self, name), 1)
        chk.choice("loss", self.loss, ("ce", "mse"))
        chk.choice("optimizer", self.optimizer, ("sgld", "adam"))
        chk.flag("train_mlp", self.train_mlp)


def beta(design: CopyLangevin, P: int) -> float:
    """The model's control parameter beta = alpha / sigma^2 = P / (d_model sigma^2) (``loss='mse'``)."""
    return P / (design.d_model * design.sigma2)


def data_weight(design: CopyLangevin, P: int) -> float:
    """lambda(P), the factor of the mean training loss in U: P (L-1) (ce), P (L-1) V / (2 sigma^2) (mse)."""
    n = P * (design.L - 1)
    return float(n) if design.loss == "ce" else n * design.V / (2.0 * design.sigma2)


def trained(design: CopyLangevin, model: Transformer) -> list[str]:
    """Names of the sampled/trained parameters (all, or all but the MLP's)."""
    return [k for k in model.params if design.train_mlp or ".mlp." not in k]


def energy(design: CopyLangevin, model: Transformer, tokens, targets, mask) -> tuple[float, dict]:
    """U(theta) of the module docstring and its gradient over the trained parameters."""
    loss, grads = model.loss_and_grad(tokens, targets, mask)
    lam, s2 = data_weight(design, tokens.shape[0]), design.prior_std ** 2
    keys = trained(design, model)
    U = lam * loss + sum(float(np.vdot(model.params[k], model.params[k])) for k in keys) / (2 * s2)
    return U, {k: lam * grads[k] + model.params[k] / s2 for k in keys}


def _orthonormal(rng, n: int, D: int) -> np.ndarray:
    """n orthonormal rows in R^D (n <= D)."""
    q, _ = np.linalg.qr(rng.standard_normal((D, n)))
    return q.T


def plant_copy(design: CopyLangevin, model: Transformer, rng: np.random.Generator) -> None:
    """Add a copier to the parameters in place, balanced over the factors (each factor's nonzero
    singular values equal).  With orthonormal rows U_p (L, D), U_E, U_3 (V, D), U_E ⟂ U_3, and U_2
    (V, D), and M_{m,m+1} = 1 (L, L): pos_embed += r U_p, W_Q += r U_p^T U_p, W_K += r U_p^T M U_p
    with r^4 / sqrt(d) = kappa0, so that the scores gain kappa0 on (l, l-1) only (kappa0 =
    copy_logit for softmax, 1 for linear); embed += U_E, W_V += U_E^T U_2, W_O += U_2^T U_3,
    unembed += U_3^T: value map I, direct path E W_U = 0.  Needs d_model >= max(L, 2 V)."""
    c, p, D, L, V = model.config, model.params, design.d_model, design.L, design.V
    if D < max(L, 2 * V):
        raise ValueError(f"d_model must be >= max(L, 2 V) = {max(L, 2 * V)} for the 'copy' start, got {D}")
    Up = _orthonormal(rng, L, D)
    E3 = _orthonormal(rng, 2 * V, D)
    UE, U3, U2 = E3[:V], E3[V:], _orthonormal(rng, V, D)
    kappa0 = design.copy_logit if c.attention == "softmax" else 1.0
    r = (kappa0 * math.sqrt(D)) ** 0.25
    p["pos_embed"] += r * Up
    p["blocks.0.attn.W_Q"] += r * Up.T @ Up
    p["blocks.0.attn.W_K"] += r * Up.T @ np.eye(L, k=1) @ Up
    p["embed"] += UE
    p["blocks.0.attn.W_V"] += UE.T @ U2
    p["blocks.0.attn.W_O"] += U2.T @ U3
    p["unembed"] += U3.T


def build(design: CopyLangevin, kind: str, start: str, seed: int) -> Transformer:
    """The initial model: N(0, init_std^2) weights (MLP zero unless trained), plus the planted
    copier for start='copy'."""
    chk.choice("kind", kind, ("softmax", "linear"))
    chk.choice("start", start, STARTS)
    d = design
    cfg = TransformerConfig(vocab_size=d.V, d_model=d.d_model, n_layers=1, n_heads=1, d_mlp=d.d_model, max_len=d.L,
                            attention=kind, position_only=True, dtype="float64", seed=seed, init_std=d.init_std,
                            loss=d.loss)
    model = Transformer(cfg)
    if not d.train_mlp:
        for k, v in model.params.items():
            if ".mlp." in k:
                v[...] = 0.0
    if start == "copy":
        plant_copy(d, model, np.random.default_rng([seed, 17]))
    return model


def point(design: CopyLangevin, kind: str, P: int, seed: int, start: str = "uniform") -> xr.Dataset:
    """One SGLD (or Adam) run with P training sequences from ``start``: the observables over the
    recorded steps, their means over the last third (``<name>_final``), the held-out accuracy, the
    final train loss, the step size and (mse) beta."""
    d = design
    P = chk.integer("P", P, 1)
    seed = chk.seed("seed", seed)
    rng = np.random.default_rng(seed + P)
    model = build(d, kind, start, seed + P)
    tok, tg, mask = copy_batch(rng, P, d.L, d.V)
    test = copy_batch(np.random.default_rng(10**6 + seed), d.n_test, d.L, d.V)
    P_eff = P if d.loss == "ce" else P / d.sigma2
    step_size = d.eta * min(1.0, d.eta_P0 / P_eff) if d.optimizer == "sgld" else d.lr
    keys = trained(d, model)
    adam = AdamW({k: model.params[k] for k in keys}, lr=d.lr, weight_decay=0.0) if d.optimizer == "adam" else None
    rec, steps = {k: [] for k in OBSERVABLES}, []
    with progress_bar(d.steps, desc=f"{d.optimizer} {kind} {start} P={P}", unit="step", leave=False) as bar:
        for step in range(d.steps + 1):
            if step % d.record_every == 0:
                for k, v in order_parameters(model).items():
                    rec[k].append(v)
                steps.append(step)
            if step == d.steps:
                break
            _, grads = energy(d, model, tok, tg, mask)
            if adam is not None:
                adam.step({k: model.params[k] for k in keys}, grads)
            else:
                for k in keys:
                    p = model.params[k]
                    p -= step_size * grads[k]
                    p += math.sqrt(2 * step_size) * rng.standard_normal(p.shape)
            bar.update()
    loss, _ = model.loss_and_grad(tok, tg, mask)
    logits = model.logits(test[0])
    acc = float((logits.argmax(-1) == test[1])[test[2]].mean())
    third = -max(1, len(steps) // 3)
    out = {k: ("step", np.array(v)) for k, v in rec.items()}
    out |= {f"{k}_final": float(np.mean(v[third:])) for k, v in rec.items()}
    out |= {"test_acc": acc, "train_loss": float(loss), "step_size": step_size}
    if d.loss == "mse":
        out["beta"] = beta(d, P)
    return xr.Dataset(out, coords={"step": np.array(steps)})


def summarize(ds: xr.Dataset) -> xr.Dataset:
    """Final observables, held-out accuracy and train loss per grid point."""
    return ds[[f"{k}_final" for k in OBSERVABLES] + ["test_acc", "train_loss"]]
