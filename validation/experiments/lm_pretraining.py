"""Single-pass causal-LM pre-training of the NumPy transformer on the grammar corpus.

Design (``docs/exposure_grokking.md`` §4-§5): the stream of a corpus folder (``exposure.corpus``) is read
once, in order: step s trains on the B rows starting at tokens (s B + r) T, r = 0..B-1 (inputs
T tokens, targets shifted by one; documents packed, the end id kept), so after s steps exactly
s B T tokens have been seen (``tokens_per_step`` = B T for ``ExposureIndex``).  Model: pre-LN,
tied embeddings, learned positions, ``n_layers`` x ``n_heads``, width ``d_model``, MLP 4 d_model,
context T; AdamW with linear warm-up and cosine decay to 0.1.  Snapshots of the parameters at
log-spaced then regular steps (``training.log_steps``: 1, 2, 3, 5, ... below ``log_every``, then
every ``log_every`` steps) are the checkpoints the evaluation reads; the run is resumable.

The training loop records the run's identity (this dataclass, the corpus's configuration and length,
model, optimiser, schedule) in ``config.json``; resuming with a different one is an error naming the
differing fields, and only the number of steps may grow (``max_steps`` runs part of the planned
length, to be resumed later).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from grokphase._io import atomic_write_json

__all__ = ["LMRun", "PRESETS", "model_config", "run_lm_pretraining", "tokens_per_step", "run_description",
           "read_run"]


@dataclass(frozen=True)
class LMRun:
    """One pre-training run; ``corpus`` is a folder written by ``exposure.corpus.write_corpus``;
    ``tokens``: train on the first ``tokens`` of the stream (None: all of it, one pass)."""

    corpus: str
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    context: int = 64
    batch: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup: int = 200
    seed: int = 0
    tokens: int | None = None
    log_every: int = 250
    checkpoint_every: int = 250
    clip: float | None = 1.0

    def __post_init__(self):
        for k in ("d_model", "n_layers", "n_heads", "context", "batch", "log_every", "checkpoint_every"):
            v = getattr(self, k)
            if not (isinstance(v, int) and v >= 1):
                raise ValueError(f"{k} must be an integer >= 1; got {v!r}")
        if self.tokens is not None and not (isinstance(self.tokens, int) and self.tokens > 0):
            raise ValueError(f"tokens must be None or a positive integer; got {self.tokens!r}")


PRESETS = {
    "main": {"d_model": 128, "n_layers": 4, "n_heads": 4},
    "small": {"d_model": 64, "n_layers": 2, "n_heads": 4},
}


def tokens_per_step(run: LMRun) -> int:
    return run.batch * run.context


def model_config(run: LMRun, vocab_size: int):
    from grokphase.validation.nn import TransformerConfig

    return TransformerConfig(vocab_size=vocab_size, d_model=run.d_model, n_layers=run.n_layers,
                             n_heads=run.n_heads, d_mlp=4 * run.d_model, max_len=run.context,
                             layernorm=True, tie_embeddings=True, pos_embed=True, mlp_bias=True,
                             init_std=0.02, scale_residual=True, seed=run.seed)


def run_description(run: LMRun, meta: dict) -> dict:
    """The run's description recorded by the training loop (``config.json`` ``config.run``): this
    dataclass and the corpus's identity (its configuration and length)."""
    return {**asdict(run), "corpus_config": meta["config"], "corpus_tokens": meta["n_tokens"]}


def read_run(run_dir) -> LMRun:
    """The LMRun recorded in a run folder's ``config.json`` (``checkpoint_every``, which does not
    change results, is not recorded: it comes back as the default)."""
    desc = json.loads((Path(run_dir) / "config.json").read_text())["config"]["run"]
    names = {f.name for f in fields(LMRun)}
    return LMRun(**{k: v for k, v in desc.items() if k in names})


def run_lm_pretraining(run: LMRun, run_dir, *, resume: bool = True, progress: bool | None = None,
                       max_steps: int | None = None) -> dict:
    """Train (or resume) one run; returns ``{"steps", "tokens_per_step", "wall_time", "final"}``.

    max_steps: stop after this many steps (the schedule still spans the whole run), e.g. to time a
    few steps; the run can be resumed later."""
    from grokphase.validation.exposure.corpus import load_corpus
    from grokphase.validation.nn import Transformer
    from grokphase.validation.optim import AdamW, WarmupCosine
    from grokphase.validation.training import TrainConfig, train

    tokens, tok, meta = load_corpus(run.corpus)
    run_dir = Path(run_dir)
    tps = tokens_per_step(run)
    n_use = len(tokens) - 1 if run.tokens is None else min(run.tokens, len(tokens) - 1)
    steps = n_use // tps
    if steps < 1:
        raise ValueError(f"the corpus has {len(tokens)} tokens, fewer than one step of {tps}")
    model = Transformer(model_config(run, len(tok)))
    opt = AdamW(model.params, lr=run.lr, betas=(0.9, 0.98), eps=1e-8, weight_decay=run.weight_decay)
    rows = np.arange(run.batch)[:, None] * run.context + np.arange(run.context + 1)[None, :]

    def batch_fn(step, rng):
        w = np.asarray(tokens[step * tps: step * tps + tps + 1]).astype(np.int64)
        chunk = w[np.minimum(rows, len(w) - 1)]
        return chunk[:, :-1], chunk[:, 1:], None

    cfg = TrainConfig(steps=steps if max_steps is None else min(steps, max_steps), log_every=run.log_every,
                      checkpoint_every=run.checkpoint_every, clip=run.clip, seed=run.seed, snapshots=True)
    res = train(model, opt, batch_fn, cfg, run_dir=run_dir, resume=resume, progress=progress,
                schedule=WarmupCosine(warmup=min(run.warmup, steps - 1), total=steps, start=0.0, final=0.1),
                config=run_description(run, meta))
    summary = {"steps": res["step"], "planned_steps": steps, "tokens_per_step": tps,
               "wall_time": res["wall_time"], "final": res["metrics"][-1]}
    atomic_write_json(run_dir / "summary.json", summary, indent=1)
    return summary
