"""An embedding + ReLU MLP over a few input tokens, with a hand-written backward (NumPy only).

Model: ``docs/uniformity_med.md`` §3 (the uniformity paper's MLP variant and its ablations; the
4-slot polygon task uses it as the symbolic model).  For tokens (B, n_inputs):

    x = concat_j E[tokens[:, j]]            (B, n_inputs d_embed); E = identity when one_hot
    h_1 = relu(x W_0 + b_0), ..., h_L = relu(h_{L-1} W_{L-1} + b_{L-1})     widths ``hidden``
    logits = h_L W_L + b_L                  (B, n_out)

``one_hot``: frozen one-hot embeddings (E = I, d_embed = vocab_size, not a parameter: the
optimiser never sees it); ``first_hidden`` gives h_1, the representation on which the paper
measures MED in that ablation.  ``loss``: 'ce' (cross-entropy, float64) or 'mse' (one-hot
targets, mean over all entries).  Initialisation: E ~ N(0, embed_std^2) (PyTorch's nn.Embedding
for embed_std 1); W_i, b_i ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's nn.Linear).
Parameter names: ``embed`` (V, d_embed); ``dense.{i}.W`` (fan_in, fan_out), ``dense.{i}.b``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .layers import embedding_backward, wgrad
from .loss import cross_entropy, mse_one_hot


@dataclass(frozen=True)
class MLPConfig:
    """Architecture (module docstring); defaults: the paper's 3 tokens -> 128 each -> 512 -> 512."""

    vocab_size: int
    n_out: int
    n_inputs: int = 3
    d_embed: int = 128
    hidden: tuple = (512, 512)
    one_hot: bool = False
    loss: str = "ce"
    embed_std: float = 1.0
    dtype: str = "float32"
    seed: int = 0
    dropout: float = 0.0   # the training loop asks for it; this model has none

    def __post_init__(self):
        for name in ("vocab_size", "n_out", "n_inputs", "d_embed"):
            v = getattr(self, name)
            if not (isinstance(v, (int, np.integer)) and v >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if not (len(self.hidden) >= 1 and all(isinstance(h, (int, np.integer)) and h >= 1 for h in self.hidden)):
            raise ValueError(f"hidden must be a non-empty tuple of integers >= 1, got {self.hidden!r}")
        if self.loss not in ("ce", "mse"):
            raise ValueError(f"loss must be 'ce' or 'mse', got {self.loss!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.dropout != 0.0:
            raise ValueError(f"dropout must be 0 (this MLP has none), got {self.dropout}")

    @property
    def width_in(self) -> int:
        return self.n_inputs * (self.vocab_size if self.one_hot else self.d_embed)


class EmbedMLP:
    """``EmbedMLP(config, params=None)``: ``logits(tokens)`` (B, n_out), ``first_hidden(tokens)``,
    ``features(tokens)`` (last hidden layer), ``loss_and_grad(tokens, targets)``."""

    def __init__(self, config: MLPConfig, params: dict | None = None):
        self.config = config
        self.dtype = np.dtype(config.dtype)
        self.params = self.init_params(config) if params is None else params
        self._eye = np.eye(config.vocab_size, dtype=self.dtype) if config.one_hot else None

    @staticmethod
    def init_params(c: MLPConfig) -> dict:
        rng = np.random.default_rng(c.seed)
        dt = np.dtype(c.dtype)
        p = {}
        if not c.one_hot:
            p["embed"] = (rng.standard_normal((c.vocab_size, c.d_embed)) * c.embed_std).astype(dt)
        widths = (c.width_in, *c.hidden, c.n_out)
        for i, (fi, fo) in enumerate(zip(widths[:-1], widths[1:])):
            bound = 1.0 / math.sqrt(fi)
            p[f"dense.{i}.W"] = rng.uniform(-bound, bound, (fi, fo)).astype(dt)
            p[f"dense.{i}.b"] = rng.uniform(-bound, bound, fo).astype(dt)
        return p

    @property
    def n_layers(self) -> int:
        return len(self.config.hidden) + 1

    def table(self) -> np.ndarray:
        """The token embedding in use (V, d): the parameter, or the frozen identity."""
        return self._eye if self.config.one_hot else self.params["embed"]

    def _input(self, tokens):
        c = self.config
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.shape[1] != c.n_inputs:
            raise ValueError(f"tokens must have shape (B, n_inputs = {c.n_inputs}), got {tokens.shape}")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= c.vocab_size):
            raise ValueError(f"tokens must be ids in [0, vocab_size = {c.vocab_size})")
        return tokens, self.table()[tokens].reshape(tokens.shape[0], -1)

    def _forward(self, tokens, upto: int | None = None):
        tokens, x = self._input(tokens)
        P = self.params
        acts = [x]
        L = self.n_layers if upto is None else upto
        for i in range(L):
            z = acts[-1] @ P[f"dense.{i}.W"] + P[f"dense.{i}.b"]
            acts.append(np.maximum(z, 0) if i < self.n_layers - 1 else z)
        return tokens, acts

    def logits(self, tokens: np.ndarray) -> np.ndarray:
        return self._forward(tokens)[1][-1]

    def first_hidden(self, tokens: np.ndarray) -> np.ndarray:
        """h_1 = relu(x W_0 + b_0), (B, hidden[0])."""
        return self._forward(tokens, upto=1)[1][-1]

    def features(self, tokens: np.ndarray) -> np.ndarray:
        """The last hidden layer h_L, (B, hidden[-1])."""
        return self._forward(tokens, upto=self.n_layers - 1)[1][-1]

    def loss_and_grad(self, tokens, targets, mask=None, *, rng=None):
        """Mean loss and its gradient; targets (B,) classes (``mask`` unused)."""
        tokens, acts = self._forward(tokens)
        targets = np.asarray(targets)
        if targets.shape != (tokens.shape[0],) or targets.min() < 0 or targets.max() >= self.config.n_out:
            raise ValueError(f"targets must be (B,) classes in [0, n_out = {self.config.n_out})")
        if self.config.loss == "ce":
            loss, d, _, _ = cross_entropy(acts[-1], targets)
        else:
            loss, d, _ = mse_one_hot(acts[-1], targets)
        P, grads = self.params, {}
        for i in reversed(range(self.n_layers)):
            if i < self.n_layers - 1:
                d = d * (acts[i + 1] > 0)
            grads[f"dense.{i}.W"] = wgrad(acts[i], d)
            grads[f"dense.{i}.b"] = d.sum(axis=0)
            if i > 0 or not self.config.one_hot:
                d = d @ P[f"dense.{i}.W"].T
        if not self.config.one_hot:
            B = tokens.shape[0]
            grads["embed"] = embedding_backward(d.reshape(B, self.config.n_inputs, -1),
                                                (tokens, self.config.vocab_size))
        return loss, grads
