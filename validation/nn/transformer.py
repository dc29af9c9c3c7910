"""A decoder-only transformer in NumPy with hand-written backward passes.

Architecture (each block, pre-LayerNorm when ``layernorm``; Nanda et al.'s grokking model has none):

    x = E[tokens] (+ P[:T] if pos_embed)
    x = x + dropout(Attn(LN1(x)))          causal, softmax or linear, optional RoPE / position-only scores
    x = x + dropout(MLP(LN2(x)))           ReLU, width d_mlp
    logits = LN_f(x) W_U                   (W_U = E^T when tie_embeddings)

Parameters live in a flat dict name -> array (names below); ``loss_and_grad`` returns the same
keys.  Initialisation: every matrix N(0, init_std^2) with init_std = 1/sqrt(d_model) by default
(Nanda's randn/sqrt(d_model)); the residual output projections (W_O, W_out) are further scaled by
1/sqrt(2 n_layers) when ``scale_residual``; LayerNorm weights 1, biases 0.  All arithmetic stays in
``dtype`` (float32 default; float64 for gradient checks); the loss is computed in float64.

Parameter names: embed (V, D); pos_embed (max_len, D); blocks.{i}.attn.W_Q/W_K/W_V (D, H*dh),
blocks.{i}.attn.W_O (H*dh, D); blocks.{i}.ln1.w/b, ln2.w/b (D,); blocks.{i}.mlp.W_in (D, F),
b_in (F,), W_out (F, D), b_out (D,); ln_final.w/b (D,); unembed (D, n_out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._profile import lap
from .attention import attention_backward, attention_forward
from .layers import (dropout_backward, dropout_forward, embedding_backward, embedding_forward,
                     layernorm_backward, layernorm_forward, mlp_backward, mlp_forward, rope_tables)
from .loss import cross_entropy


@dataclass(frozen=True)
class TransformerConfig:
    """Architecture and initialisation.  ``n_out`` defaults to vocab_size (the output classes);
    ``position_only`` makes the attention scores depend on positions only (q, k from the learned
    positional embedding; needs pos_embed).  ``mlp_bias``: biases in the MLP (Nanda: yes)."""

    vocab_size: int
    d_model: int = 128
    n_layers: int = 1
    n_heads: int = 4
    d_mlp: int = 512
    max_len: int = 3
    attention: str = "softmax"
    rope: bool = False
    layernorm: bool = False
    tie_embeddings: bool = False
    dropout: float = 0.0
    dtype: str = "float32"
    seed: int = 0
    n_out: int | None = None
    pos_embed: bool = True
    position_only: bool = False
    mlp_bias: bool = True
    init_std: float | None = None
    scale_residual: bool = False

    def __post_init__(self):
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "d_mlp", "max_len"):
            v = getattr(self, name)
            if not (isinstance(v, (int, np.integer)) and v >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.rope and (self.d_model // self.n_heads) % 2:
            raise ValueError("rope needs an even head dimension d_model / n_heads")
        if self.attention not in ("softmax", "linear"):
            raise ValueError(f"attention must be 'softmax' or 'linear', got {self.attention!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if not (0.0 <= self.dropout < 1.0):
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.tie_embeddings and self.n_out not in (None, self.vocab_size):
            raise ValueError("n_out must equal vocab_size with tie_embeddings")
        if self.position_only and not self.pos_embed:
            raise ValueError("position_only needs pos_embed=True")

    @property
    def outputs(self) -> int:
        return self.vocab_size if self.n_out is None else self.n_out


class Transformer:
    """``Transformer(config)``: parameters in ``self.params`` (flat dict), ``logits(tokens)``,
    ``loss_and_grad(tokens, targets, mask)``.  Deterministic given ``config.seed``."""

    def __init__(self, config: TransformerConfig, params: dict | None = None):
        self.config = config
        self.dtype = np.dtype(config.dtype)
        self.params = self.init_params(config) if params is None else params
        c = config
        self._rope = rope_tables(c.max_len, c.d_model // c.n_heads, self.dtype) if c.rope else None

    @staticmethod
    def init_params(c: TransformerConfig) -> dict:
        rng = np.random.default_rng(c.seed)
        dt = np.dtype(c.dtype)
        std = 1.0 / math.sqrt(c.d_model) if c.init_std is None else c.init_std
        res = std / math.sqrt(2 * c.n_layers) if c.scale_residual else std

        def normal(shape, s):
            return (rng.standard_normal(shape) * s).astype(dt)

        D, F = c.d_model, c.d_mlp
        p = {"embed": normal((c.vocab_size, D), std)}
        if c.pos_embed:
            p["pos_embed"] = normal((c.max_len, D), std)
        for i in range(c.n_layers):
            b = f"blocks.{i}."
            for name in ("W_Q", "W_K", "W_V"):
                p[b + "attn." + name] = normal((D, D), std)
            p[b + "attn.W_O"] = normal((D, D), res)
            p[b + "mlp.W_in"] = normal((D, F), std)
            p[b + "mlp.W_out"] = normal((F, D), res)
            if c.mlp_bias:
                p[b + "mlp.b_in"] = np.zeros(F, dt)
                p[b + "mlp.b_out"] = np.zeros(D, dt)
            if c.layernorm:
                for ln in ("ln1", "ln2"):
                    p[b + ln + ".w"] = np.ones(D, dt)
                    p[b + ln + ".b"] = np.zeros(D, dt)
        if c.layernorm:
            p["ln_final.w"] = np.ones(D, dt)
            p["ln_final.b"] = np.zeros(D, dt)
        if not c.tie_embeddings:
            p["unembed"] = normal((D, c.outputs), std)
        return p

    # ------------------------------------------------------------------ forward / backward
    def _unembed(self) -> np.ndarray:
        return self.params["embed"].T if self.config.tie_embeddings else self.params["unembed"]

    def _trunk(self, tokens: np.ndarray, rng: np.random.Generator | None, rows=None):
        """Residual stream after the final LayerNorm, (B, R, D), and the caches.  rows: positions
        whose output is needed (all when None); the last block computes only those (its attention
        queries, residual, MLP and the final LayerNorm), which saves ~(1 - R/T) of its cost."""
        c, p = self.config, self.params
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.shape[1] > c.max_len:
            raise ValueError(f"tokens must have shape (B, T) with T <= max_len = {c.max_len}, got {tokens.shape}")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= c.vocab_size):
            raise ValueError(f"tokens must be ids in [0, vocab_size = {c.vocab_size}), got range "
                             f"[{tokens.min()}, {tokens.max()}]")
        B, T = tokens.shape
        x, emb_cache = embedding_forward(p["embed"], tokens)
        if c.pos_embed and not c.position_only:
            x = x + p["pos_embed"][:T]
        lap("embed")
        qk = p["pos_embed"] if c.position_only else None
        caches = []
        for i in range(c.n_layers):
            b = f"blocks.{i}."
            last_rows = rows if i == c.n_layers - 1 else None
            lc = {"rows": last_rows}
            h = x
            if c.layernorm:
                h, lc["ln1"] = layernorm_forward(x, p[b + "ln1.w"], p[b + "ln1.b"])
            a, lc["attn"] = attention_forward(h, p[b + "attn.W_Q"], p[b + "attn.W_K"], p[b + "attn.W_V"],
                                              p[b + "attn.W_O"], c.n_heads, c.attention, self._rope, qk,
                                              last_rows)
            a, lc["drop1"] = dropout_forward(a, c.dropout, rng)
            x = (x if last_rows is None else x[:, last_rows]) + a
            lap("residual")
            h = x
            if c.layernorm:
                h, lc["ln2"] = layernorm_forward(x, p[b + "ln2.w"], p[b + "ln2.b"])
            m, lc["mlp"] = mlp_forward(h, p[b + "mlp.W_in"], p.get(b + "mlp.b_in"), p[b + "mlp.W_out"],
                                       p.get(b + "mlp.b_out"))
            m, lc["drop2"] = dropout_forward(m, c.dropout, rng)
            x = x + m
            lap("residual")
            caches.append(lc)
        fin = None
        if c.layernorm:
            x, fin = layernorm_forward(x, p["ln_final.w"], p["ln_final.b"])
        return x, (emb_cache, caches, fin, T)

    def features(self, tokens: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        """Residual stream after the final LayerNorm, (B, T, D): logits = features @ output_weight."""
        return self._trunk(tokens, rng)[0]

    @property
    def output_weight(self) -> np.ndarray:
        """The output projection (D, n_out) as used by the logits (E^T when embeddings are tied)."""
        return self._unembed()

    def logits(self, tokens: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        """Logits at every position, (B, T, n_out).  rng: dropout generator (None: evaluation)."""
        return self.features(tokens, rng=rng) @ self._unembed()

    def loss_and_grad(self, tokens, targets, mask=None, *, rng: np.random.Generator | None = None):
        """Mean cross-entropy over the positions where ``mask`` (B, T) is True, and its gradient.

        tokens (B, T) int; targets (B, T) int (ignored where mask is False); mask None: all
        positions.  Returns (loss, grads) with grads a dict keyed like ``params``.  ``rng`` enables
        dropout (training); None evaluates without it."""
        c, p = self.config, self.params
        tokens = np.asarray(tokens)
        mask = np.ones(tokens.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        targets = np.asarray(targets)
        if mask.shape != tokens.shape or targets.shape != tokens.shape:
            raise ValueError(f"targets and mask must have the shape of tokens {tokens.shape}, got "
                             f"{targets.shape} and {mask.shape}")
        if not mask.any():
            raise ValueError("mask must select at least one position (the loss would be empty)")
        if targets[mask].min() < 0 or targets[mask].max() >= c.outputs:
            raise ValueError(f"targets must be classes in [0, n_out = {c.outputs})")
        rows = np.flatnonzero(mask.any(axis=0))
        rows = None if rows.size == tokens.shape[1] else rows
        x, (emb_cache, caches, fin, T) = self._trunk(tokens, rng, rows)
        mask_r = mask if rows is None else mask[:, rows]
        sel = x[mask_r]                                 # (M, D)
        W_U = self._unembed()
        logits = sel @ W_U
        lap("unembed", 2.0 * sel.shape[0] * W_U.shape[0] * W_U.shape[1])
        loss, dlogits, _, _ = cross_entropy(logits, targets[mask])
        lap("loss")
        grads = {}
        dW_U = sel.T @ dlogits
        dx = np.zeros_like(x)
        dx[mask_r] = dlogits @ W_U.T
        lap("unembed.bwd", 4.0 * sel.shape[0] * W_U.shape[0] * W_U.shape[1])
        if c.layernorm:
            dx, grads["ln_final.w"], grads["ln_final.b"] = layernorm_backward(dx, fin)
        d_pos = np.zeros_like(p["pos_embed"]) if c.pos_embed else None
        for i in reversed(range(c.n_layers)):
            b, lc = f"blocks.{i}.", caches[i]
            dm = dropout_backward(dx, lc["drop2"])
            dh, grads[b + "mlp.W_in"], db_in, grads[b + "mlp.W_out"], db_out = mlp_backward(dm, lc["mlp"])
            if c.mlp_bias:
                grads[b + "mlp.b_in"], grads[b + "mlp.b_out"] = db_in, db_out
            if c.layernorm:
                dh, grads[b + "ln2.w"], grads[b + "ln2.b"] = layernorm_backward(dh, lc["ln2"])
            dx = dx + dh
            lap("residual.bwd")
            da = dropout_backward(dx, lc["drop1"])
            dh, ag, d_qk = attention_backward(da, lc["attn"])
            for k, v in ag.items():
                grads[b + "attn." + k] = v
            if d_qk is not None:
                d_pos[:T] += d_qk
            if c.layernorm:
                dh, grads[b + "ln1.w"], grads[b + "ln1.b"] = layernorm_backward(dh, lc["ln1"])
            if lc["rows"] is None:
                dx = dx + dh
            else:  # the residual of the restricted last block feeds only its rows
                dh[:, lc["rows"]] += dx
                dx = dh
            lap("residual.bwd")
        if c.pos_embed and not c.position_only:
            d_pos[:T] += dx.sum(axis=0)
        if c.pos_embed:
            grads["pos_embed"] = d_pos
        d_embed = embedding_backward(dx, emb_cache)
        if c.tie_embeddings:
            d_embed += dW_U.T
        else:
            grads["unembed"] = dW_U
        grads["embed"] = d_embed
        lap("embed.bwd")
        return loss, grads
