"""Grokking beyond transformers: the 4-slot polygon-sum task, design + point function for one run.

Specification: ``docs/uniformity_med.md`` (§5).  The paper trains an
ImageNet-pretrained ResNet-18 on 224 x 224 renders for 20k epochs; that is out of reach on a CPU,
so two stand-ins are trained from scratch with AdamW (decoupled weight decay):

* ``symbolic``: the 4 symbol ids -> shared embedding (``d_embed``) -> ReLU MLP ``hidden`` -> 49
  classes (``validation.nn.mlp.EmbedMLP``), full batch;
* ``rendered``: 2 x 2 grids of ``tile`` px outlines (``validation.tasks.polygons.render``) ->
  ``validation.nn.cnn.SmallCNN`` (conv by im2col, hand-written backward), minibatches of
  ``batch_size`` (0: full batch) drawn by the training loop's seeded generator.

Logged per step: train/test loss and accuracy, the weight norm, and uniformity measures of the
slot embeddings of the polygons 3..12 in order of their side counts (a chain, not Z_p):
``chain_spacing_mean`` (MED of the chain), ``chain_spacing_spread``, ``chain_norm_spread`` —
for ``symbolic`` the embedding rows 1..10, for ``rendered`` the CNN's hidden features of images
with that polygon in the first slot and the others empty.  Milestones as in the modular runs
(train accuracy >= 0.99, test accuracy >= 0.95).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grokphase._io import atomic_write_json, dumps_strict
from grokphase.validation.nn.cnn import CNNConfig, SmallCNN
from grokphase.validation.nn.loss import cross_entropy
from grokphase.validation.nn.mlp import EmbedMLP, MLPConfig
from grokphase.validation.optim import AdamW, WarmupCosine
from grokphase.validation.progress import uniformity_on, weight_norm
from grokphase.validation.tasks.polygons import N_SLOTS, N_SYMBOLS, polygon_dataset, render
from grokphase.validation.training import TrainConfig, config_hash, train

__all__ = ["PolygonRun", "build", "run_polygon", "point", "config_key", "load_run"]


@dataclass(frozen=True)
class PolygonRun:
    """One run's full configuration; ``run_root`` only places the folder of :func:`point`."""

    version: str = "symbolic"
    frac: float = 0.25
    seed: int = 0
    steps: int = 20000
    lr: float = 1e-3
    weight_decay: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.98
    warmup_steps: int = 10   # linear lr warm-up (not "warmup": the sweep layer calls design.warmup())
    batch_size: int = 0
    d_embed: int = 32
    hidden: tuple[int, ...] = (256, 256)
    tile: int = 16
    channels: tuple[int, ...] = (8, 16)
    cnn_hidden: int = 128
    dtype: str = "float32"
    log_every: int = 100
    checkpoint_every: int = 1000
    run_root: str = "runs/polygon"

    def __post_init__(self):
        if self.version not in ("symbolic", "rendered"):
            raise ValueError(f"version must be 'symbolic' or 'rendered', got {self.version!r}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 0):
            raise ValueError(f"batch_size must be an integer >= 0 (0: full batch), got {self.batch_size!r}")
        for name in ("steps", "log_every", "checkpoint_every"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")


def _identity(run) -> dict:
    """The configuration without the run's length and checkpoint interval: a longer run of the same
    configuration extends the same folder (the training loop allows steps to grow on resume)."""
    return {k: v for k, v in _run_config(run).items() if k not in ("steps", "checkpoint_every")}


def _run_config(run: PolygonRun) -> dict:
    return json.loads(dumps_strict({k: v for k, v in dataclasses.asdict(run).items() if k != "run_root"}))


def config_key(run: PolygonRun) -> str:
    """Folder name: readable coordinates plus a hash of the configuration (without steps)."""
    return f"{run.version}_wd{run.weight_decay:g}_s{run.seed}_{config_hash(_identity(run))}"


def build(run: PolygonRun):
    """(dataset, model, inputs) with inputs = {"train", "test", "probe"}: model inputs of the
    training and test combinations and of the probe (polygon s alone in the first slot)."""
    ds = polygon_dataset(run.frac, seed=run.seed)
    probe = np.zeros((N_SYMBOLS, N_SLOTS), np.int64)
    probe[:, 0] = np.arange(N_SYMBOLS)
    if run.version == "symbolic":
        model = EmbedMLP(MLPConfig(vocab_size=N_SYMBOLS, n_out=ds.n_classes, n_inputs=N_SLOTS,
                                   d_embed=run.d_embed, hidden=tuple(run.hidden), dtype=run.dtype, seed=run.seed))
        to_input = lambda c: c  # noqa: E731
    else:
        model = SmallCNN(CNNConfig(n_out=ds.n_classes, image_size=2 * run.tile, channels=tuple(run.channels),
                                   hidden=run.cnn_hidden, dtype=run.dtype, seed=run.seed))
        to_input = lambda c: render(c, run.tile, dtype=np.dtype(run.dtype))  # noqa: E731
    inputs = {"train": to_input(ds.combos[ds.train_idx]), "test": to_input(ds.combos[ds.test_idx]),
              "probe": to_input(probe)}
    return ds, model, inputs


def _slot_rows(model, inputs) -> np.ndarray:
    """Representations of the 11 symbols, (11, width)."""
    if isinstance(model, EmbedMLP):
        return model.params["embed"].astype(np.float64)
    return model.features(inputs["probe"]).astype(np.float64)


def _evaluator(ds, inputs, chunk: int = 2048):
    labels = {"train": ds.labels[ds.train_idx], "test": ds.labels[ds.test_idx]}

    def ev(m):
        out = {}
        for split in ("train", "test"):
            x = inputs[split]
            z = np.concatenate([m.logits(x[i:i + chunk]) for i in range(0, len(x), chunk)])
            loss, _, _, correct = cross_entropy(z, labels[split])
            out[f"{split}_loss"], out[f"{split}_acc"] = loss, float(correct.mean())
        u = uniformity_on(_slot_rows(m, inputs), np.arange(1, N_SYMBOLS))   # polygons 3..12
        out["chain_spacing_mean"], out["chain_spacing_spread"] = u["spacing_mean"], u["spacing_spread"]
        out["chain_norm_spread"] = u["norm_spread"]
        out["weight_norm"] = weight_norm(m.params)
        return out

    return ev


def run_polygon(run: PolygonRun, run_dir, *, resume: bool = True, progress: bool | None = False) -> dict:
    """Train one run (resumable through ``validation.training.train``, configuration checked on
    rerun); writes and returns run_dir/summary.json."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ds, model, inputs = build(run)
    x, y = inputs["train"], ds.labels[ds.train_idx]
    opt = AdamW(model.params, lr=run.lr, betas=(run.beta1, run.beta2), weight_decay=run.weight_decay)

    def batch_fn(step, rng):
        if run.batch_size == 0 or run.batch_size >= len(y):
            return x, y, None
        idx = rng.choice(len(y), size=run.batch_size, replace=False)
        return x[idx], y[idx], None

    res = train(model, opt, batch_fn,
                TrainConfig(steps=run.steps, log_every=run.log_every, checkpoint_every=run.checkpoint_every,
                            seed=run.seed),
                run_dir=run_dir, schedule=WarmupCosine(warmup=run.warmup_steps), config=_run_config(run),
                progress=progress,
                evaluate=_evaluator(ds, inputs), resume=resume)
    rows = res["metrics"]
    first = lambda key, thr: next((r["step"] for r in rows if (r.get(key) or 0) >= thr), None)  # noqa: E731
    summary = {"config": _run_config(run), "key": config_key(run), "config_hash": res["config_hash"],
               "memorisation_step": first("train_acc", 0.99), "grokking_step": first("test_acc", 0.95),
               "final": rows[-1], "steps": res["step"], "wall_time": res["wall_time"],
               "seconds_per_step": res["wall_time"] / max(1, res["step"])}
    atomic_write_json(run_dir / "summary.json", summary, indent=1)
    return summary


def point(design: PolygonRun, weight_decay: float, seed: int) -> dict:
    """Point function (``grokphase.sweep``): ``design`` with weight_decay and seed replaced,
    trained (resumably) in ``design.run_root/config_key(run)``; returns the summary's scalars
    (None -> NaN): milestones, seconds per step and ``final_<metric>``."""
    run = dataclasses.replace(design, weight_decay=weight_decay, seed=seed)
    s = run_polygon(run, Path(run.run_root) / config_key(run))
    out = {k: s[k] for k in ("memorisation_step", "grokking_step", "seconds_per_step")}
    out.update({f"final_{k}": v for k, v in s["final"].items() if k != "step"})
    return {k: np.nan if v is None else float(v) for k, v in out.items()}


def load_run(run: PolygonRun) -> dict | None:
    """The finished run of ``run`` under ``run.run_root``: {"summary", "rows"} (logged rows), or
    None when its summary is missing (not run yet, or still running)."""
    d = Path(run.run_root) / config_key(run)
    if not (d / "summary.json").exists():
        return None
    rows = [json.loads(ln) for ln in (d / "metrics.jsonl").read_text().splitlines() if ln.strip()]
    return {"summary": json.loads((d / "summary.json").read_text()), "rows": rows}
