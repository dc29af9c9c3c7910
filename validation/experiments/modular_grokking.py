"""Classic grokking of a binary operation mod p with the NumPy transformer.

Setting (``docs/uniformity_med.md`` §2-§3; Nanda et al. 2023): [a, b, "="] -> op(a, b) mod p,
1-layer transformer without LayerNorm (d 128, 4 heads, d_mlp 512, learned positions, untied
unembedding, p output classes), full-batch AdamW (lr 1e-3, wd 1, betas (0.9, 0.98)), 10-step linear
warm-up, cross-entropy in float64.  Logged: train/test loss and accuracy, the progress measures of
``grokphase.validation.progress.snapshot_measures`` (total weight norm, MED, rms adjacent distance,
spacing spread, Fourier power and sparsity, ...), per-token embedding norms.

Milestones (``milestones``): memorisation = first logged step with train accuracy >= 0.99;
grokking = first logged step with test accuracy >= 0.95 (the logging grid bounds their resolution).

A run is identified by its resolved configuration (:func:`grokphase.sweep.design.resolved_config` of the
``ModularRun``: the fields that apply to its optimiser) together with the model, optimiser, schedule
and loop settings derived from it (``validation.training``); :func:`config_id` is its hash, which
names default run folders.  The schedule is constant after warm-up, so a run resumed with more
``steps`` equals a fresh run of that length.

Seeds: ``seed`` is the data seed (the train/test split, the loop's generator: dropout masks, IVON's
draws) and, unless ``init_seed`` is set, also the seed of the initial weights; ``init_seed`` seeds
the initial weights alone, so runs that differ only in it see the same split and the same (full)
batches (deep-ensemble members).  ``dropout`` (rate on the attention and MLP outputs, training only)
makes MC-dropout posteriors apply (preset ``grok97-dropout``).  ``ess_scale`` multiplies IVON's
effective sample size (default: the number of training pairs; larger: less posterior noise; the
delay search of ``ivon_delay_search``).  These three fields are left out of the run's identity at
their defaults (``OMIT_DEFAULT``), so runs recorded before they existed keep their configuration
hashes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from grokphase._checks import integer, nonnegative, positive, real
from grokphase._io import atomic_write_json
from grokphase.sweep.design import OMIT_DEFAULT, resolved_config
from grokphase.validation.bayes.ivon import IVON, IVONSettings
from grokphase.validation.nn import Transformer, TransformerConfig
from grokphase.validation.nn.loss import cross_entropy
from grokphase.validation.optim import AdamW, WarmupCosine
from grokphase.validation.progress import snapshot_measures, token_norms
from grokphase.validation.tasks import modular_dataset
from grokphase.validation.training import TrainConfig, config_hash, run_identity, train


@dataclass(frozen=True)
class ModularRun:
    """One run's settings (defaults: Nanda et al.'s mod-97 configuration at train fraction 0.3).

    ``lr`` and ``betas`` are AdamW's (optimizer 'adamw'); ``ivon`` holds IVON's settings (optimizer
    'ivon', whose learning rate is ``ivon.lr``); ``weight_decay`` is AdamW's decoupled decay or
    IVON's prior precision; ``k`` applies to the 'strip' and 'rectangle' splits only.  Fields that
    do not apply are listed by :meth:`inapplicable` and cannot be set through
    :func:`grokphase.sweep.design_from_config` (the command line's options, ``--set``, ``--config``).
    """

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
    betas: tuple[float, ...] = (0.9, 0.98)
    warmup: int = 10
    log_every: int = 50
    checkpoint_every: int = 500
    split: str = "random"
    k: int | None = None
    offset: int = 0
    optimizer: str = "adamw"
    ivon: IVONSettings = IVONSettings()
    snapshots: bool = False
    init_seed: int | None = field(default=None, metadata={OMIT_DEFAULT: True})
    dropout: float = field(default=0.0, metadata={OMIT_DEFAULT: True})
    ess_scale: float = field(default=1.0, metadata={OMIT_DEFAULT: True})

    def __post_init__(self):
        if self.optimizer not in ("adamw", "ivon"):
            raise ValueError(f"optimizer must be 'adamw' or 'ivon', got {self.optimizer!r}")
        integer("p", self.p, 3)
        if self.init_seed is not None:
            integer("init_seed", self.init_seed, 0, note="seed of the initial weights (None: seed)")
        real("dropout", self.dropout, 0.0, 1.0, hi_open=True)
        positive("ess_scale", self.ess_scale)
        if not (0.0 < self.frac < 1.0):
            raise ValueError(f"frac must be in (0, 1), got {self.frac}")
        for name, low in (("seed", 0), ("steps", 1), ("d_model", 1), ("n_layers", 1), ("n_heads", 1),
                          ("d_mlp", 1), ("warmup", 0), ("log_every", 1), ("checkpoint_every", 1), ("offset", 0)):
            integer(name, getattr(self, name), low)
        if self.k is not None:
            integer("k", self.k, 0)
        positive("lr", self.lr)
        nonnegative("weight_decay", self.weight_decay)
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")
        if not isinstance(self.ivon, IVONSettings):
            raise ValueError(f"ivon must be IVONSettings, got {self.ivon!r}")

    def inapplicable(self) -> dict[str, str]:
        """{field: why it does not apply to this run}."""
        out = ({"lr": "optimizer is 'ivon', whose learning rate is ivon.lr",
                "betas": "optimizer is 'ivon', whose momenta are ivon.beta1 and ivon.beta2"}
               if self.optimizer == "ivon" else
               {"ivon": "optimizer is 'adamw' (IVON settings need optimizer='ivon')",
                "ess_scale": "optimizer is 'adamw' (the effective sample size is IVON's)"})
        if self.split == "random":
            out["k"] = "split is 'random' (k sizes the held-out block of the 'strip' and 'rectangle' splits)"
        return out


PRESETS = {
    "nanda97": ModularRun(),
    "nanda97-frac04": ModularRun(frac=0.4),
    "smoke31": ModularRun(p=31, frac=0.5, d_model=64, d_mlp=256, steps=1200, log_every=25, lr=3e-3),
    # the uncertainty study: parameter snapshots at every logged step for post-hoc posteriors
    "grok97-adamw": ModularRun(frac=0.4, steps=3500, snapshots=True),
    # IVON settings from a short search at p = 31 (why these values: docs/icl_grokking.md §5)
    "grok97-ivon": ModularRun(frac=0.4, steps=3500, snapshots=True, optimizer="ivon", weight_decay=1e-3,
                              ivon=IVONSettings(lr=1.0, hess_init=1.0, beta2=0.9999, clip_radius=1e-2)),
    # MC dropout: the AdamW study run with dropout 0.1 on the attention and MLP outputs
    "grok97-dropout": ModularRun(frac=0.4, steps=3500, snapshots=True, dropout=0.1),
}


def weight_seed(run) -> int:
    """The seed of a run's initial weights: ``init_seed``, or the data seed ``seed`` when None."""
    return run.seed if run.init_seed is None else run.init_seed


def model_config(run: ModularRun, vocab_size: int) -> TransformerConfig:
    """The run's transformer (1 layer, no LayerNorm, learned positions, untied unembedding)."""
    return TransformerConfig(vocab_size=vocab_size, d_model=run.d_model, n_layers=run.n_layers, n_heads=run.n_heads,
                             d_mlp=run.d_mlp, max_len=3, n_out=run.p, dropout=run.dropout, seed=weight_seed(run))


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


def _build(run: ModularRun):
    """(model, optimizer, batch_fn, train config, schedule, evaluate) of a run."""
    ds = modular_dataset(run.p, run.op, run.frac, seed=run.seed, split=run.split, k=run.k, offset=run.offset)
    model = Transformer(model_config(run, ds.vocab_size))
    tok, lab = ds.split("train")
    if run.optimizer == "ivon":  # ess = ess_scale x number of training pairs; prior precision = weight decay
        opt = IVON(model.params, ess=run.ess_scale * len(lab), weight_decay=run.weight_decay, **asdict(run.ivon))
    else:
        opt = AdamW(model.params, lr=run.lr, betas=run.betas, weight_decay=run.weight_decay)
    targets = np.zeros_like(tok)
    targets[:, -1] = lab
    mask = np.zeros(tok.shape, bool)
    mask[:, -1] = True

    def batch_fn(step, rng):  # full batch
        return tok, targets, mask

    tcfg = TrainConfig(steps=run.steps, log_every=run.log_every, checkpoint_every=run.checkpoint_every,
                       seed=run.seed, snapshots=run.snapshots)
    return model, opt, batch_fn, tcfg, WarmupCosine(warmup=run.warmup), _evaluate(model, ds)


def config_id(run: ModularRun) -> str:
    """The hash of the run's identity (``config_hash`` in its config.json; independent of ``steps``)."""
    model, opt, _, tcfg, schedule, _ = _build(run)
    return config_hash(run_identity(model, opt, tcfg, schedule, resolved_config(run)))


def run_modular(run: ModularRun, run_dir, *, resume: bool = True, progress: bool | None = None) -> dict:
    """Train (resumable, checked against the stored configuration) and write run_dir/summary.json.

    Returns the summary: {"run": resolved settings, "config_hash", "memorisation_step",
    "grokking_step", "wall_time", "steps", "final": last metrics row, "seconds_per_step"}.
    """
    model, opt, batch_fn, tcfg, schedule, evaluate = _build(run)
    res = train(model, opt, batch_fn, tcfg, run_dir=run_dir, schedule=schedule, evaluate=evaluate,
                resume=resume, config=resolved_config(run), progress=progress)
    summary = {"run": resolved_config(run), "config_hash": res["config_hash"], **milestones(res["metrics"]),
               "wall_time": res["wall_time"], "steps": res["step"],
               "final": {k: v for k, v in res["metrics"][-1].items() if k != "token_norms"},
               "seconds_per_step": res["wall_time"] / max(1, res["step"])}
    atomic_write_json(Path(run_dir) / "summary.json", summary, indent=2)
    return summary
