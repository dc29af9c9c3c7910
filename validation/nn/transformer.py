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

As a causal LM (``docs/exposure_grokking.md``): ``run_with_hooks`` records the residual stream per
layer at chosen positions and the attention patterns; ``head_mask`` (n_layers, n_heads) scales each
head's output (0 ablates it) in every method, gradients included; ``sequence_logprobs`` scores a
list of token sequences of different lengths (batched, padded internally).

Speed: each residual add is fused into the LayerNorm that follows it; the training step keeps its
activations in a ``Workspace`` owned by the model (allocated once per batch shape, so a model is not
safe to train from two threads at once); evaluation methods use a fresh one per call and hand
their results over without copies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from grokphase import _checks as chk
from grokphase.sweep.design import OMIT_DEFAULT

from . import _kernels as K
from . import _parallel
from ._profile import lap
from ._workspace import Workspace
from .attention import attention_backward, attention_forward
from .layers import (dropout_backward, dropout_forward, embedding_backward, embedding_forward,
                     layernorm_backward, layernorm_forward, mlp_backward, mlp_forward, rope_tables)
from .output_head import unembed_loss_backward


@dataclass(frozen=True)
class TransformerConfig:
    """Architecture and initialisation.  ``n_out`` defaults to vocab_size (the output classes);
    ``position_only`` makes the attention scores depend on positions only (q, k from the learned
    positional embedding; needs pos_embed).  ``mlp_bias``: biases in the MLP (Nanda: yes).
    ``loss``: 'ce' (cross-entropy, float64) or 'mse' (squared error against the one-hot target,
    averaged over the M selected positions and the n_out outputs, as ``nn.loss.mse_one_hot``)."""

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
    loss: str = field(default="ce", metadata={OMIT_DEFAULT: True})   # run identities predating it keep their hash

    def __post_init__(self):
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "d_mlp", "max_len"):
            v = getattr(self, name)
            if isinstance(v, bool) or not (isinstance(v, (int, np.integer)) and v >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.rope and (self.d_model // self.n_heads) % 2:
            raise ValueError("rope needs an even head dimension d_model / n_heads")
        chk.choice("attention", self.attention, ("softmax", "linear"))
        chk.choice("dtype", self.dtype, ("float32", "float64"))
        chk.choice("loss", self.loss, ("ce", "mse"))
        chk.real("dropout", self.dropout, 0.0, 1.0, hi_open=True)
        if self.init_std is not None:
            chk.positive("init_std", self.init_std, note="or None: 1/sqrt(d_model)")
        if self.tie_embeddings and self.n_out not in (None, self.vocab_size):
            raise ValueError("n_out must equal vocab_size with tie_embeddings")
        if self.position_only and not self.pos_embed:
            raise ValueError("position_only needs pos_embed=True")

    @property
    def outputs(self) -> int:
        return self.vocab_size if self.n_out is None else self.n_out


@dataclass(frozen=True)
class HookedRun:
    """What ``Transformer.run_with_hooks`` recorded.

    logits (B, T, n_out); resid (n_layers + 1, B, P, D) or None: entry l is the residual stream
    entering block l (entry 0: the embeddings), entry n_layers the output of the last block (before
    the final LayerNorm), at the requested positions; attention (n_layers, B, H, T, T) or None:
    softmax rows on and below the diagonal (zero above; linear attention: the masked scores)."""

    logits: np.ndarray
    resid: np.ndarray | None
    attention: np.ndarray | None


class _Capture:
    """Copies of the residual stream at ``positions`` and of the attention patterns, taken as the
    forward pass produces them (the buffers are reused by later layers)."""

    def __init__(self, positions, resid: bool, attention: bool, B: int, T: int):
        self.want_resid, self.want_attention = resid, attention
        self.resid, self.attention = [], []
        if positions is None:
            self.index = (slice(None), slice(None))
            return
        pos = np.asarray(positions)
        if not np.issubdtype(pos.dtype, np.integer) or pos.ndim not in (1, 2) or (pos.ndim == 2 and pos.shape[0] != B):
            raise ValueError(f"positions must be integers of shape (P,) or (B = {B}, P), got dtype {pos.dtype} "
                             f"and shape {pos.shape}")
        if pos.size and (pos.min() < 0 or pos.max() >= T):
            raise ValueError(f"positions must lie in [0, T = {T}), got range [{pos.min()}, {pos.max()}]")
        self.index = (slice(None), pos) if pos.ndim == 1 else (np.arange(B)[:, None], pos)

    def on_resid(self, x):
        if self.want_resid:
            self.resid.append(np.array(x[self.index]))

    def on_attention(self, A):
        if self.want_attention:
            self.attention.append(A.copy())


class Transformer:
    """``Transformer(config)``: parameters in ``self.params`` (flat dict), ``logits(tokens)``,
    ``loss_and_grad(tokens, targets, mask)``.  Deterministic given ``config.seed``."""

    def __init__(self, config: TransformerConfig, params: dict | None = None):
        self.config = config
        self.dtype = np.dtype(config.dtype)
        self.params = self.init_params(config) if params is None else params
        c = config
        self._rope = rope_tables(c.max_len, c.d_model // c.n_heads, self.dtype) if c.rope else None
        self._ws = Workspace()          # the training step's buffers, reused across steps

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

    # ------------------------------------------------------------------ input checks
    def _tokens(self, tokens) -> np.ndarray:
        c = self.config
        tokens = chk.int_array("tokens", tokens, nonempty=False)
        if tokens.ndim != 2 or tokens.shape[1] > c.max_len:
            raise ValueError(f"tokens must have shape (B, T) with T <= max_len = {c.max_len}, got {tokens.shape}")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= c.vocab_size):
            raise ValueError(f"tokens must be ids in [0, vocab_size = {c.vocab_size}), got range "
                             f"[{tokens.min()}, {tokens.max()}]")
        return np.ascontiguousarray(tokens, dtype=np.int64)

    def _head_mask(self, head_mask) -> np.ndarray | None:
        if head_mask is None:
            return None
        c = self.config
        hm = np.asarray(head_mask)
        if hm.shape != (c.n_layers, c.n_heads) or not np.all(np.isfinite(hm)):
            raise ValueError(f"head_mask must be a finite array of shape (n_layers, n_heads) = "
                             f"({c.n_layers}, {c.n_heads}), got shape {hm.shape}")
        return np.ascontiguousarray(hm, dtype=self.dtype)

    # ------------------------------------------------------------------ forward / backward
    def _unembed(self) -> np.ndarray:
        return self.params["embed"].T if self.config.tie_embeddings else self.params["unembed"]

    def _residual_norm(self, x, branch, name: str, ws):
        """(s, norm(s), cache) for s = x + branch (branch None: s = x): the LayerNorm ``name`` with
        the residual add fused in, or the identity without LayerNorm."""
        p = self.params
        if self.config.layernorm:
            if branch is None:
                out, cache = layernorm_forward(x, p[name + ".w"], p[name + ".b"], ws=ws)
            else:
                out, cache = layernorm_forward(branch, p[name + ".w"], p[name + ".b"], residual=x, ws=ws)
            return cache[0], out, cache
        if branch is None:
            return x, x, None
        s = ws("sum", x.shape, x.dtype)
        np.add(x, branch, out=s)
        lap("residual")
        return s, s, None

    def _norm_backward(self, d_out, cache, name: str, grads: dict, dx, ws):
        """Gradient w.r.t. the sum s of ``_residual_norm``: dx (what reaches s along the residual
        stream; None: nothing, dx is then a new buffer) plus the norm's backward of d_out; adds into dx."""
        if self.config.layernorm:
            ds, grads[name + ".w"], grads[name + ".b"] = layernorm_backward(d_out, cache, dx=dx, ws=ws)
            return ds
        if dx is None:
            return d_out
        dx += d_out
        lap("residual.bwd")
        return dx

    def _forward(self, tokens, rng, rows, ws, layer_scope, head_mask=None, capture=None):
        """Final-normed residual stream (B, R, D) and the caches.  rows: positions whose output is
        needed (all when None); the last block computes only those (its attention queries,
        residual, MLP and the final LayerNorm), which saves ~(1 - R/T) of its cost.
        layer_scope(i): the workspace scope of block i."""
        c, p = self.config, self.params
        B, T = tokens.shape
        pos = p["pos_embed"] if c.pos_embed and not c.position_only else None
        x, emb_cache = embedding_forward(p["embed"], tokens, pos, ws=ws)
        lap("embed")
        qk = p["pos_embed"] if c.position_only else None
        caches, branch = [], None
        for i in range(c.n_layers):
            b, sc = f"blocks.{i}.", layer_scope(i)
            last_rows = rows if i == c.n_layers - 1 else None
            lc = {"rows": last_rows}
            x, h, lc["ln1"] = self._residual_norm(x, branch, b + "ln1", sc.scope("ln1."))
            if capture is not None:
                capture.on_resid(x)
            a, lc["attn"] = attention_forward(h, p[b + "attn.W_Q"], p[b + "attn.W_K"], p[b + "attn.W_V"],
                                              p[b + "attn.W_O"], c.n_heads, c.attention, self._rope, qk,
                                              last_rows, None if head_mask is None else head_mask[i], ws=sc)
            if capture is not None:
                capture.on_attention(lc["attn"][0])
            a, lc["drop1"] = dropout_forward(a, c.dropout, rng)
            x, h, lc["ln2"] = self._residual_norm(x if last_rows is None else x[:, last_rows], a, b + "ln2",
                                                  sc.scope("ln2."))
            m, lc["mlp"] = mlp_forward(h, p[b + "mlp.W_in"], p.get(b + "mlp.b_in"), p[b + "mlp.W_out"],
                                       p.get(b + "mlp.b_out"), ws=sc)
            branch, lc["drop2"] = dropout_forward(m, c.dropout, rng)
            caches.append(lc)
        x, out, fin = self._residual_norm(x, branch, "ln_final", ws.scope("lnf."))
        if capture is not None:
            capture.on_resid(x)
        return out, (emb_cache, caches, fin, T)

    def _backward(self, d_out, state, grads: dict, ws) -> np.ndarray:
        """Gradients of every block and norm into ``grads``; returns the gradient of the embeddings (B, T, D)."""
        c = self.config
        emb_cache, caches, fin, T = state
        dx = self._norm_backward(d_out, fin, "ln_final", grads, None, ws.scope("lnf."))
        sc = ws.scope("bwd.")               # one set of backward buffers, consumed block by block
        for i in reversed(range(c.n_layers)):
            b, lc = f"blocks.{i}.", caches[i]
            dm = dropout_backward(dx, lc["drop2"])
            dh, grads[b + "mlp.W_in"], db_in, grads[b + "mlp.W_out"], db_out = mlp_backward(dm, lc["mlp"], ws=sc)
            if c.mlp_bias:
                grads[b + "mlp.b_in"], grads[b + "mlp.b_out"] = db_in, db_out
            dx = self._norm_backward(dh, lc["ln2"], b + "ln2", grads, dx, sc.scope("ln2."))
            da = dropout_backward(dx, lc["drop1"])
            dh, ag, d_qk = attention_backward(da, lc["attn"], ws=sc)
            for k, v in ag.items():
                grads[b + "attn." + k] = v
            if d_qk is not None:
                grads["pos_embed"][:T] += d_qk
            if lc["rows"] is not None:  # the residual of the restricted last block feeds only its rows
                full = ws("d_resid", dh.shape, dh.dtype)
                full[...] = 0.0
                full[:, lc["rows"]] = dx
                dx = full
            dx = self._norm_backward(dh, lc["ln1"], b + "ln1", grads, dx, sc.scope("ln1."))
        return dx

    def _evaluate(self, tokens, rng=None, head_mask=None, capture=None) -> np.ndarray:
        """Final-normed residual stream (B, T, D) of an evaluation pass (a fresh workspace whose
        blocks alternate between two scopes; the result is the caller's)."""
        ws = Workspace()
        return self._forward(self._tokens(tokens), rng, None, ws, lambda i: ws.scope(f"{i % 2}."),
                             self._head_mask(head_mask), capture)[0]

    @_parallel.blas_single
    def features(self, tokens: np.ndarray, *, rng: np.random.Generator | None = None,
                 head_mask=None) -> np.ndarray:
        """Residual stream after the final LayerNorm, (B, T, D): logits = features @ output_weight."""
        return self._evaluate(tokens, rng, head_mask)

    def _project(self, x: np.ndarray) -> np.ndarray:
        """x (..., D) @ output weight -> (..., n_out), rows split over the threads."""
        return _parallel.matmul(x.reshape(-1, x.shape[-1]), self._unembed()).reshape(*x.shape[:-1], -1)

    @property
    def output_weight(self) -> np.ndarray:
        """The output projection (D, n_out) as used by the logits (E^T when embeddings are tied)."""
        return self._unembed()

    @_parallel.blas_single
    def logits(self, tokens: np.ndarray, *, rng: np.random.Generator | None = None, head_mask=None) -> np.ndarray:
        """Logits at every position, (B, T, n_out).  rng: dropout generator (None: evaluation);
        head_mask (n_layers, n_heads): per-head output scale (None: all ones)."""
        return self._project(self._evaluate(tokens, rng, head_mask))

    @_parallel.blas_single
    def features_at(self, tokens: np.ndarray, pos, *, head_mask=None) -> np.ndarray:
        """Final-normed residual stream at one position per sequence, (B, D): ``features(tokens)
        [arange(B), pos]`` with the last block computed only at the distinct positions in pos
        (evaluation: no dropout)."""
        tokens = self._tokens(tokens)
        pos = np.asarray(pos)
        B, T = tokens.shape
        if pos.shape != (B,) or not np.issubdtype(pos.dtype, np.integer) or (B and (pos.min() < 0 or pos.max() >= T)):
            raise ValueError(f"pos must be {B} integer positions in [0, T = {T}), got dtype {pos.dtype} and "
                             f"shape {pos.shape}")
        rows = np.unique(pos)
        ws = Workspace()
        x = self._forward(tokens, None, None if rows.size == T else rows, ws, lambda i: ws.scope(f"{i % 2}."),
                          self._head_mask(head_mask))[0]
        return x[np.arange(B), pos if rows.size == T else np.searchsorted(rows, pos)]

    @_parallel.blas_single
    def logits_at(self, tokens: np.ndarray, pos, *, rng: np.random.Generator | None = None,
                  head_mask=None) -> np.ndarray:
        """Logits at one position per sequence, (B, n_out): ``logits(tokens)[arange(B), pos]``.
        Without dropout (rng None) only the distinct positions in pos go through the last block;
        with it the full pass runs, so the draws are those of ``logits``."""
        if rng is not None:
            return self.logits(tokens, rng=rng, head_mask=head_mask)[np.arange(len(pos)), np.asarray(pos)]
        return self._project(self.features_at(tokens, pos, head_mask=head_mask))

    @_parallel.blas_single
    def run_with_hooks(self, tokens: np.ndarray, *, resid: bool = False, positions=None, attention: bool = False,
                       head_mask=None) -> HookedRun:
        """Logits with the residual stream (``resid``) at ``positions`` — None: all T; (P,) ints:
        the same positions in every sequence; (B, P): per sequence — and the attention patterns
        (``attention``) recorded on the way (``HookedRun``).  Without either request this is
        ``logits``: nothing is copied."""
        tokens = self._tokens(tokens)
        cap = _Capture(positions, resid, attention, *tokens.shape) if (resid or attention) else None
        logits = self._project(self._evaluate(tokens, None, head_mask, cap))
        return HookedRun(logits=logits, resid=np.stack(cap.resid) if resid else None,
                         attention=np.stack(cap.attention) if attention else None)

    @_parallel.blas_single
    def sequence_logprobs(self, sequences, *, batch_size: int = 64, head_mask=None) -> list[np.ndarray]:
        """For each token sequence s (1-d ints, 1 <= len(s) <= max_len + 1), the float64 array
        (len(s) - 1,) of log p(s[t] | s[:t]) for t = 1 .. len(s) - 1 — the ``logprob_fn`` a
        minimal-pair scorer takes.  Sequences are sorted by length and scored in batches of
        ``batch_size``, padded on the right (causal attention: padding never reaches the scored
        positions); the log-softmax is taken in float64.  Needs n_out == vocab_size."""
        c = self.config
        if c.outputs != c.vocab_size:
            raise ValueError(f"sequence_logprobs needs a causal LM (n_out == vocab_size), got n_out = {c.outputs}")
        if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        seqs = []
        for n, s in enumerate(sequences):
            s = np.asarray(s)
            if s.ndim != 1 or not (1 <= s.size <= c.max_len + 1) or not np.issubdtype(s.dtype, np.integer):
                raise ValueError(f"sequence {n} must be 1-d integers of length 1 .. max_len + 1 = {c.max_len + 1}, "
                                 f"got dtype {s.dtype} and shape {s.shape}")
            if s.min() < 0 or s.max() >= c.vocab_size:
                raise ValueError(f"sequence {n} has ids outside [0, vocab_size = {c.vocab_size})")
            seqs.append(s)
        out: list = [np.zeros(0)] * len(seqs)
        order = np.argsort([s.size for s in seqs], kind="stable")
        for start in range(0, len(order), batch_size):
            idx = [i for i in order[start:start + batch_size] if seqs[i].size > 1]
            if not idx:
                continue
            L = max(seqs[i].size for i in idx) - 1
            tok = np.zeros((len(idx), L), np.int64)
            tgt = np.zeros((len(idx), L), np.int64)
            for r, i in enumerate(idx):
                n = seqs[i].size - 1
                tok[r, :n], tgt[r, :n] = seqs[i][:-1], seqs[i][1:]
            logits = self._project(self._evaluate(tok, None, head_mask)).reshape(len(idx) * L, -1)
            lp = np.empty(len(idx) * L)
            K.target_logprobs(logits, tgt.reshape(-1), lp)
            lp = lp.reshape(len(idx), L)
            for r, i in enumerate(idx):
                out[i] = lp[r, :seqs[i].size - 1].copy()
        return out

    @_parallel.blas_single
    def loss_and_grad(self, tokens, targets, mask=None, *, rng: np.random.Generator | None = None, head_mask=None):
        """Mean loss (``config.loss``: cross-entropy, or squared error over the M selected positions
        times n_out outputs) over the positions where ``mask`` (B, T) is True, and its gradient.

        tokens (B, T) int; targets (B, T) int (ignored where mask is False); mask None: all
        positions.  Returns (loss, grads) with grads a dict keyed like ``params`` (new arrays).
        ``rng`` enables dropout (training); None evaluates without it.  head_mask (n_layers,
        n_heads): per-head output scale (the gradients are those of the masked model)."""
        c, p = self.config, self.params
        tokens = self._tokens(tokens)
        mask = np.ones(tokens.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        targets = np.asarray(targets)
        if mask.shape != tokens.shape or targets.shape != tokens.shape:
            raise ValueError(f"targets and mask must have the shape of tokens {tokens.shape}, got "
                             f"{targets.shape} and {mask.shape}")
        if not mask.any():
            raise ValueError("mask must select at least one position (the loss would be empty)")
        if targets[mask].min() < 0 or targets[mask].max() >= c.outputs:
            raise ValueError(f"targets must be classes in [0, n_out = {c.outputs})")
        ws = self._ws
        rows = np.flatnonzero(mask.any(axis=0))
        rows = None if rows.size == tokens.shape[1] else rows
        x, state = self._forward(tokens, rng, rows, ws, lambda i: ws.scope(f"{i}."), self._head_mask(head_mask))
        mask_r = mask if rows is None else mask[:, rows]
        B, R, D = x.shape
        every = bool(mask_r.all())
        sel = x.reshape(B * R, D) if every else x[mask_r]              # (M, D)
        tg = np.ascontiguousarray(targets[mask], dtype=np.int64)
        W_U = self._unembed()
        dsel = ws("d_final", (B, R, D), self.dtype).reshape(B * R, D) if every else None
        loss, dsel, dW_U = unembed_loss_backward(sel, W_U, tg, c.loss, dsel)
        lap("unembed+loss", 6.0 * sel.shape[0] * W_U.shape[0] * W_U.shape[1])
        grads = {}
        if c.pos_embed:
            grads["pos_embed"] = np.zeros_like(p["pos_embed"])
        if every:
            dx = dsel.reshape(B, R, D)
        else:
            dx = ws("d_final", (B, R, D), self.dtype)
            dx[...] = 0.0
            dx[mask_r] = dsel
        dx = self._backward(dx, state, grads, ws)
        if c.pos_embed and not c.position_only:
            grads["pos_embed"][:tokens.shape[1]] += dx.sum(axis=0)
        d_embed = embedding_backward(dx, state[0])
        if c.tie_embeddings:
            d_embed += dW_U.T
        else:
            grads["unembed"] = dW_U
        grads["embed"] = d_embed
        lap("embed.bwd")
        return loss, grads
