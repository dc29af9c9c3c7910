"""Classic grokking of a binary operation mod p with the NumPy transformer.

Setting (``docs/uniformity_med.md`` §2-§3; Nanda et al. 2023): [a, b, "="] -> op(a, b) mod p,
1-layer transformer without LayerNorm (d 128, 4 heads, d_mlp 512, learned positions, untied
unembedding, p output classes), full-batch AdamW (lr 1e-3, wd 1, betas (0.9, 0.98)), 10-step linear
warm-up, cross-entropy in float64.  Logged: train/test loss and accuracy, the progress measures of
``grokphase.validation.progress.snapshot_measures`` (total weight norm, MED, rms adjacent distance,
spacing spread, Fourier power and sparsity, ...), per-token embedding norms.

Milestones (``milestones``): memorisation = first logged step with train accuracy >= 0.99;
grokking = first logged step with test accuracy >= 0.95 (the logging grid bounds their resolution).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from grokphase.validation.bayes.ivon import IVON, IVONSettings
from grokphase.validation.nn import Transformer, TransformerConfig
from grokphase.validation.nn.loss import cross_entropy
from grokphase.validation.optim import AdamW, warmup_cosine
from grokphase.validation.progress import snapshot_measures, token_norms
from grokphase.validation.tasks import modular_dataset
from grokphase.validation.training import TrainConfig, train


@dataclass(frozen=True)
class ModularRun:
    """One run's settings (defaults: addition mod 97 at train fraction 0.3, ``docs/uniformity_med.md``)."""

    p: int = 97
    op: str = "add"
    frac: float = 0.3
    seed: int = 0
    steps: int = 10000
    d_model: int = 128
    n_layers: int = 1
    n_heads: int = 4
    d_mlp: int = 512
    lr: float = 1e-3
    weight_decay: float = 1.0
    betas: tuple = (0.9, 0.98)
    warmup: int = 10
    log_every: int = 50
    checkpoint_every: int = 500
    split: str = "random"
    k: int | None = None
    offset: int = 0
    optimizer: str = "adamw"
    ivon: IVONSettings = IVONSettings()
    snapshots: bool = False

    def __post_init__(self):
        if self.optimizer not in ("adamw", "ivon"):
            raise ValueError(f"optimizer must be 'adamw' or 'ivon', got {self.optimizer!r}")


PRESETS = {
    "nanda97": ModularRun(),
    "nanda97-frac04": ModularRun(frac=0.4),
    "smoke31": ModularRun(p=31, frac=0.5, d_model=64, d_mlp=256, steps=1200, log_every=25, lr=3e-3),
    # the uncertainty study: parameter snapshots at every logged step for post-hoc posteriors
    "grok97-adamw": ModularRun(frac=0.4, steps=3500, snapshots=True),
    # IVON settings from a short search at p = 31 (why these values: docs/icl_grokking.md §5)
    "grok97-ivon": ModularRun(frac=0.4, steps=3500, snapshots=True, optimizer="ivon", weight_decay=1e-3,
                              ivon=IVONSettings(lr=1.0, hess_init=1.0, beta2=0.9999, clip_radius=1e-2)),
}


def _evaluate(model, ds):
    def ev(m):
        out = {}
        for split in ("train", "test"):
            tok, lab = ds.split(split)
            logits = m.logits(tok)[:, -1]
            loss, _, _, correct = cross_entropy(logits, lab)
            out[f"{split}_loss"], out[f"{split}_acc"] = loss, float(correct.mean())
        out.update(snapshot_measures(m, ds))   # med, rms_adjacent, spacing_spread, fourier_power, ...
        out["token_norms"] = token_norms(m.params["embed"], ds.p + ds.offset).round(5).tolist()
        return out
    return ev


def milestones(metrics: list[dict]) -> dict:
    """First logged steps with train acc >= 0.99 and test acc >= 0.95 (None if never)."""
    mem = next((r["step"] for r in metrics if r.get("train_acc", 0) >= 0.99), None)
    grok = next((r["step"] for r in metrics if r.get("test_acc", 0) >= 0.95), None)
    return {"memorisation_step": mem, "grokking_step": grok}


def run_modular(run: ModularRun, run_dir, *, resume: bool = True, progress: bool = True) -> dict:
    """Train (resumable) and write run_dir/summary.json; returns the summary."""
    ds = modular_dataset(run.p, run.op, run.frac, seed=run.seed, split=run.split, k=run.k, offset=run.offset)
    cfg = TransformerConfig(vocab_size=ds.vocab_size, d_model=run.d_model, n_layers=run.n_layers,
                            n_heads=run.n_heads, d_mlp=run.d_mlp, max_len=3, n_out=run.p, seed=run.seed)
    model = Transformer(cfg)
    tok, lab = ds.split("train")
    if run.optimizer == "ivon":  # ess = number of training pairs; prior precision = weight decay
        opt = IVON(model.params, ess=len(lab), weight_decay=run.weight_decay, **asdict(run.ivon))
    else:
        opt = AdamW(model.params, lr=run.lr, betas=run.betas, weight_decay=run.weight_decay)
    targets = np.zeros_like(tok)
    targets[:, -1] = lab
    mask = np.zeros(tok.shape, bool)
    mask[:, -1] = True

    def batch_fn(step, rng):  # full batch
        return tok, targets, mask

    res = train(model, opt, batch_fn, TrainConfig(steps=run.steps, log_every=run.log_every,
                                                  checkpoint_every=run.checkpoint_every, seed=run.seed,
                                                  progress=progress, snapshots=run.snapshots),
                run_dir=run_dir, schedule=lambda s: warmup_cosine(s, warmup=run.warmup, total=run.steps),
                evaluate=_evaluate(model, ds), resume=resume)
    summary = {"run": asdict(run), **milestones(res["metrics"]), "wall_time": res["wall_time"],
               "steps": res["step"], "final": {k: v for k, v in res["metrics"][-1].items() if k != "token_norms"},
               "seconds_per_step": res["wall_time"] / max(1, res["step"])}
    path = Path(run_dir) / "summary.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=2))
    tmp.replace(path)
    return summary
