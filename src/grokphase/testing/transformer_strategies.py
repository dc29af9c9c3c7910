"""Hypothesis strategies for the NumPy transformer and its tasks (``grokphase.validation``), small and fast.

Defaults keep every model tiny (d_model <= 8, at most 2 layers, vocabularies <= 13, sequences <= 8)
so that a forward and backward pass takes milliseconds; every field can be overridden by a
strategy or a fixed value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from grokphase.testing._fields import field, log_uniform

__all__ = ["TransformerProblem", "transformer_configs", "copy_batches", "modular_datasets", "icl_task_sets",
           "transformer_problems"]

SMALL_PRIMES = (3, 5, 7, 11, 13)


@dataclass(frozen=True)
class TransformerProblem:
    """A model configuration and one batch of its task: tokens, targets (B, T) int, mask (B, T) bool,
    ready for ``Transformer(config).loss_and_grad(tokens, targets, mask)``."""

    task: str
    config: object
    tokens: np.ndarray
    targets: np.ndarray
    mask: np.ndarray


_CONFIG_FIELDS = ("vocab_size", "d_model", "n_layers", "n_heads", "d_mlp", "max_len", "attention", "rope",
                  "layernorm", "tie_embeddings", "dropout", "dtype", "seed", "n_out", "pos_embed",
                  "position_only", "mlp_bias", "init_std", "scale_residual")


@st.composite
def transformer_configs(draw, **fields):
    """``TransformerConfig`` instances; keyword arguments override fields (strategy or value).

    Defaults: vocab_size in [2, 13]; n_heads in {1, 2} and head dimension in [1, 4] (even, 2 or 4,
    with rope), d_model = n_heads x head dimension (when d_model is given, n_heads is drawn from
    its valid divisors); n_layers in {1, 2}; d_mlp in [1, 16]; max_len in [2, 8]; attention
    'softmax' or 'linear'; rope, layernorm, tie_embeddings, mlp_bias, scale_residual, pos_embed
    booleans; position_only boolean (then pos_embed is True); dropout 0 or in [0, 0.5]; dtype
    float32 or float64; seed in [0, 2^16); n_out None (tied) or None / [2, 9]; init_std None or
    log-uniform in [0.05, 1].  None means "the default", so fix n_out or init_std at None with
    ``st.none()``.  Invalid combinations given explicitly raise TransformerConfig's ValueError.
    """
    from grokphase.validation.nn.transformer import TransformerConfig

    unknown = set(fields) - set(_CONFIG_FIELDS)
    if unknown:
        raise ValueError(f"unknown TransformerConfig fields: {sorted(unknown)} (valid: {_CONFIG_FIELDS})")
    v = {}
    v["rope"] = draw(field(fields.get("rope"), st.booleans()))
    if fields.get("d_model") is not None:
        v["d_model"] = draw(field(fields["d_model"], st.nothing()))
        ok = [h for h in range(1, v["d_model"] + 1)
              if v["d_model"] % h == 0 and not (v["rope"] and (v["d_model"] // h) % 2)]
        v["n_heads"] = draw(field(fields.get("n_heads"), st.sampled_from(ok or [1])))
    else:
        v["n_heads"] = draw(field(fields.get("n_heads"), st.integers(1, 2)))
        head = draw(st.sampled_from((2, 4)) if v["rope"] else st.integers(1, 4))
        v["d_model"] = v["n_heads"] * head
    v["position_only"] = draw(field(fields.get("position_only"), st.booleans()))
    v["pos_embed"] = draw(field(fields.get("pos_embed"), st.just(True) if v["position_only"] else st.booleans()))
    v["tie_embeddings"] = draw(field(fields.get("tie_embeddings"), st.booleans()))
    v["n_out"] = draw(field(fields.get("n_out"),
                            st.none() if v["tie_embeddings"] else st.one_of(st.none(), st.integers(2, 9))))
    defaults = dict(vocab_size=st.integers(2, 13), n_layers=st.integers(1, 2), d_mlp=st.integers(1, 16),
                    max_len=st.integers(2, 8), attention=st.sampled_from(("softmax", "linear")),
                    layernorm=st.booleans(), dropout=st.one_of(st.just(0.0), st.floats(0.0, 0.5)),
                    dtype=st.sampled_from(("float32", "float64")), seed=st.integers(0, 2**16 - 1),
                    mlp_bias=st.booleans(), init_std=st.one_of(st.none(), log_uniform(0.05, 1.0)),
                    scale_residual=st.booleans())
    for name, default in defaults.items():
        v[name] = draw(field(fields.get(name), default))
    return TransformerConfig(**v)


@st.composite
def copy_batches(draw, batch=None, length=None, vocab=None, seed=None):
    """(tokens, targets, mask) of the copy task (target = previous token; ``validation.tasks.copy_batch``).

    Defaults: batch in [1, 4], length in [2, 8], vocab in [2, 13], seed in [0, 2^16)."""
    from grokphase.validation.tasks.copy import copy_batch

    rng = np.random.default_rng(draw(field(seed, st.integers(0, 2**16 - 1))))
    return copy_batch(rng, draw(field(batch, st.integers(1, 4))), draw(field(length, st.integers(2, 8))),
                      draw(field(vocab, st.integers(2, 13))))


@st.composite
def modular_datasets(draw, p=None, op=None, frac=None, split=None, k=None, offset=None, seed=None):
    """``ModularDataset`` (binary operation mod a prime, ``validation.tasks.modular_dataset``).

    Defaults: p in {3, 5, 7, 11, 13}; op any of add/sub/mul/quad; frac such that between 1 and
    p^2 - 1 pairs train; split random/strip/rectangle with k in [0, p - 2]; offset 0 or in [0, p);
    seed in [0, 2^16)."""
    from grokphase.validation.tasks.modular import OPS, modular_dataset

    p_ = draw(field(p, st.sampled_from(SMALL_PRIMES)))
    n_train = draw(st.integers(1, p_ * p_ - 1))
    split_ = draw(field(split, st.sampled_from(("random", "strip", "rectangle"))))
    k_default = st.none() if split_ == "random" else st.integers(0, p_ - 2)
    return modular_dataset(p_, draw(field(op, st.sampled_from(tuple(OPS)))),
                           draw(field(frac, st.just((n_train + 0.5) / (p_ * p_)))),
                           seed=draw(field(seed, st.integers(0, 2**16 - 1))), split=split_,
                           k=draw(field(k, k_default)),
                           offset=draw(field(offset, st.one_of(st.just(0), st.integers(0, p_ - 1)))))


@st.composite
def icl_task_sets(draw, p=None, n_task=None, alpha=None, seed=None, n_ood=None):
    """``ICLTaskSet`` (in-context modular arithmetic, ``validation.tasks.make_icl_tasks``).

    Defaults: p in {5, 7, 11, 13}; n_task in [1, max(1, p^2 // 16)] (4 n_task parallelogram tasks);
    alpha in [0.2, 0.8]; n_ood in [1, 16]; seed in [0, 2^16)."""
    from grokphase.validation.tasks.icl import make_icl_tasks

    p_ = draw(field(p, st.sampled_from(SMALL_PRIMES[1:])))
    return make_icl_tasks(p_, draw(field(n_task, st.integers(1, max(1, p_ * p_ // 16)))),
                          draw(field(alpha, st.floats(0.2, 0.8))), seed=draw(field(seed, st.integers(0, 2**16 - 1))),
                          n_ood=draw(field(n_ood, st.integers(1, 16))))


@st.composite
def transformer_problems(draw, task=None, **config_fields):
    """``TransformerProblem``: a small config matching one batch of the copy, modular or in-context task.

    task: 'copy', 'modular' or 'icl' (default any).  The task fixes vocab_size, max_len and n_out;
    the other config fields are drawn as in ``transformer_configs`` (keyword overrides apply).
    Modular: the label is read at the '=' position (the last); in-context: at every y position.
    """
    name = draw(field(task, st.sampled_from(("copy", "modular", "icl"))))
    taken = set(config_fields) & {"vocab_size", "max_len", "n_out", "tie_embeddings"}
    if taken:
        raise ValueError(f"the task fixes {sorted(taken)}; do not override them")
    if name == "copy":
        vocab, n_out = draw(st.integers(2, 13)), None
        tokens, targets, mask = draw(copy_batches(vocab=vocab))
    elif name == "modular":
        ds = draw(modular_datasets())
        tokens, labels = ds.split("train")
        targets = np.zeros_like(tokens)
        targets[:, -1] = labels
        mask = np.zeros(tokens.shape, bool)
        mask[:, -1] = True
        vocab, n_out = ds.vocab_size, ds.p
    elif name == "icl":
        ts = draw(icl_task_sets())
        rng = np.random.default_rng(draw(st.integers(0, 2**16 - 1)))
        # 1-2 input sequences x all T = 4 n_task tasks (the balanced layout)
        tokens, targets, mask, _ = ts.batch(rng, "id_train", draw(st.integers(1, 2)), draw(st.integers(1, 2)))
        vocab, n_out = ts.p, None
    else:
        raise ValueError(f"task must be 'copy', 'modular' or 'icl', got {name!r}")
    fixed = dict(vocab_size=vocab, max_len=tokens.shape[1], n_out=st.none() if n_out is None else n_out)
    if n_out is not None:
        fixed["tie_embeddings"] = False
    cfg = draw(transformer_configs(**config_fields, **fixed))
    return TransformerProblem(task=name, config=cfg, tokens=tokens, targets=targets, mask=mask)
