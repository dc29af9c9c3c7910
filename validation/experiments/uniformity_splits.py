"""Split experiments of the uniformity paper: design (frozen config) + point function for one run.

Specification: ``docs/uniformity_med.md`` (§1-§3).
One run trains a model on [a, b + d, "="] -> a + b mod p with full-batch AdamW (lr 1e-3, wd 1,
betas (0.9, 0.98), 10-step linear warm-up, then constant) and logs, at each logged step:

* train/test loss and accuracy, test accuracy per category of ``validation.tasks.split_categories``
  (``acc_both_seen``, ``acc_other_role``, ``acc_never_seen``) and on the pairs with both ids seen
  (``acc_seen``), all from one forward pass over the p^2 pairs;
* the progress measures of ``validation.progress`` on the token embedding (on the first hidden
  layer's outputs for inputs [i, d + i, "="] with frozen one-hot embeddings), the weight norm, and
  Nanda's excluded/restricted losses at the embedding's key frequencies;
* uniformity on the ids seen in training (``seen_norm_spread``, ``seen_spacing_spread``) and the
  norms of the never-seen rows relative to their initial norms (``untrained_ratio_min/max``),
  which the derived law F(n) = prod_s (1 - lr_s wd) predicts exactly (their gradient is zero).

Models: ``transformer`` (1 layer, d 128, 4 heads, d_mlp 512, no LayerNorm; cross-entropy only,
the transformer's backward being fixed to it), ``mlp`` (concatenated embeddings -> 512 -> 512 ->
p; ``loss`` 'ce' or 'mse' on one-hot targets; ``one_hot``: frozen one-hot embeddings) and
``quadratic`` (Gromov's network, ``width`` units; ``init='analytic'``: the exact 3 x 3 phase-grid
solution at frequencies ``freqs`` and amplitude ``amp``, perturbed by ``init_noise`` amp N(0, 1);
its token embedding is the first-operand table U, offset 0).

:func:`run_split` trains one run through ``validation.training.train`` (resumable; the run's
settings are recorded in ``run_dir/config.json`` and a rerun with another configuration in the
same folder is an error naming the differing fields; more steps extend the run) and writes
``run_dir/summary.json``.  :func:`point` is the sweep-style point function
(:func:`point` for strip/rectangle grids over k, weight_decay, seed; :func:`point_random` for
random-split grids over weight_decay, init_noise, seed; the run's folder is
``design.run_root/<config key>``).  The named grids of the claims are in
``validation.experiments.uniformity_presets``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grokphase._io import atomic_write_json, dumps_strict
from grokphase.numerics.uniformity import quadratic_fourier_network, untrained_row_factor
from grokphase.validation.fourier_ablation import excluded_logits, final_logits, restricted_logits
from grokphase.validation.nn import Transformer, TransformerConfig
from grokphase.validation.nn.loss import cross_entropy, mse_one_hot
from grokphase.validation.nn.mlp import EmbedMLP, MLPConfig
from grokphase.validation.nn.quadratic import QuadraticConfig, QuadraticNet
from grokphase.validation.optim import AdamW, WarmupCosine
from grokphase.validation.progress import progress_measures, uniformity_on, weight_norm
from grokphase.validation.tasks import modular_dataset
from grokphase.validation.tasks.split_categories import (category_accuracy, collapsed_ceiling, never_seen_ids,
                                                         pair_categories)
from grokphase.validation.training import TrainConfig, config_hash, train

__all__ = ["SplitRun", "build", "run_split", "summarize", "point", "point_random", "config_key", "load_run"]


@dataclass(frozen=True)
class SplitRun:
    """One run's full configuration (defaults: the strip split k = 40, d = 60 with the 1-layer
    transformer, 30k full-batch steps).  ``run_root`` only places the run folder of :func:`point`."""

    p: int = 97
    op: str = "add"
    split: str = "strip"
    k: int | None = 40
    offset: int = 60
    frac: float = 0.3
    seed: int = 0
    model: str = "transformer"
    loss: str = "ce"
    one_hot: bool = False
    steps: int = 30000
    lr: float = 1e-3
    weight_decay: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.98
    warmup_steps: int = 10   # linear lr warm-up (not "warmup": the sweep layer calls design.warmup())
    d_model: int = 128
    n_layers: int = 1
    n_heads: int = 4
    d_mlp: int = 512
    mlp_hidden: tuple[int, ...] = (512, 512)
    width: int = 512
    init: str = "random"
    freqs: tuple[int, ...] = (1, 2, 3)
    amp: float = 1.0
    init_noise: float = 0.0
    dtype: str = "float32"
    log_every: int = 100
    checkpoint_every: int = 1000
    run_root: str = "runs/uniformity"

    def __post_init__(self):
        if self.model not in ("transformer", "mlp", "quadratic"):
            raise ValueError(f"model must be 'transformer', 'mlp' or 'quadratic', got {self.model!r}")
        if self.model == "quadratic" and (self.offset != 0 or self.one_hot):
            raise ValueError(f"model='quadratic' has separate operand tables: needs offset=0 and one_hot=False, "
                             f"got offset={self.offset}, one_hot={self.one_hot}")
        if self.init not in ("random", "analytic"):
            raise ValueError(f"init must be 'random' or 'analytic', got {self.init!r}")
        if self.init == "analytic" and not (self.model == "quadratic" and self.width == 9 * len(self.freqs)):
            raise ValueError("init='analytic' is the quadratic network's 3 x 3 phase-grid solution: needs "
                             f"model='quadratic' and width = 9 len(freqs) = {9 * len(self.freqs)}, got "
                             f"model={self.model!r}, width={self.width}")
        if self.loss not in ("ce", "mse"):
            raise ValueError(f"loss must be 'ce' or 'mse', got {self.loss!r}")
        if self.model == "transformer" and (self.loss != "ce" or self.one_hot):
            raise ValueError("loss='mse' and one_hot=True need model='mlp' (the transformer's backward is "
                             f"cross-entropy with a learned embedding), got loss={self.loss!r}, one_hot={self.one_hot}")
        if self.op != "add":
            raise ValueError(f"op must be 'add' (the ceilings and the quadratic-network theory are for addition), "
                             f"got {self.op!r}")
        for name in ("steps", "log_every", "checkpoint_every"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if (self.split == "random") != (self.k is None):
            raise ValueError(f"k must be None for the random split and an integer for strip/rectangle, got "
                             f"split={self.split!r}, k={self.k!r}")
        if self.init_noise and self.init != "analytic":
            raise ValueError(f"init_noise perturbs the analytic init only, got init={self.init!r}, "
                             f"init_noise={self.init_noise}")
        if not (isinstance(self.warmup_steps, int) and self.warmup_steps >= 0):
            raise ValueError(f"warmup_steps must be an integer >= 0, got {self.warmup_steps!r}")


def config_key(run: SplitRun) -> str:
    """Folder name of a run: its readable coordinates plus a hash of its configuration (without
    steps: a longer run extends the folder)."""
    h = config_hash(_identity(run))
    parts = [run.model, run.split, f"k{run.k}", f"d{run.offset}", f"wd{run.weight_decay:g}", run.loss,
             *(["onehot"] if run.one_hot else []), f"s{run.seed}"]
    return "_".join(map(str, parts)) + "_" + h


def build(run: SplitRun):
    """(dataset, model) of a run, the model freshly initialised from ``run.seed``."""
    ds = modular_dataset(run.p, run.op, run.frac, seed=run.seed, split=run.split, k=run.k, offset=run.offset)
    if run.model == "transformer":
        model = Transformer(TransformerConfig(vocab_size=ds.vocab_size, d_model=run.d_model, n_layers=run.n_layers,
                                              n_heads=run.n_heads, d_mlp=run.d_mlp, max_len=3, n_out=run.p,
                                              seed=run.seed, dtype=run.dtype))
    elif run.model == "mlp":
        model = EmbedMLP(MLPConfig(vocab_size=ds.vocab_size, n_out=run.p, n_inputs=3, d_embed=run.d_model,
                                   hidden=tuple(run.mlp_hidden), one_hot=run.one_hot, loss=run.loss,
                                   dtype=run.dtype, seed=run.seed))
    else:
        cfg = QuadraticConfig(p=run.p, width=run.width, loss=run.loss, dtype=run.dtype, seed=run.seed)
        params = None
        if run.init == "analytic":   # the exact solution, optionally perturbed (seeded)
            w = quadratic_fourier_network(run.p, np.array(run.freqs), run.amp, m=3)
            rng = np.random.default_rng(run.seed)
            params = {name: (w[key] + run.init_noise * run.amp * rng.standard_normal(w[key].shape)).astype(run.dtype)
                      for name, key in (("embed", "U"), ("embed_b", "V"), ("unembed", "W"))}
        model = QuadraticNet(cfg, params)
    return ds, model


def _untrained_ids(model, ds) -> np.ndarray:
    """Ids whose rows of :func:`_token_rows` get no gradient: never seen in training (any role);
    for the quadratic network, whose first-operand table U is separate, never seen as first operand."""
    if isinstance(model, QuadraticNet):
        return np.setdiff1d(np.arange(ds.p), ds.tokens[ds.train_idx, 0])
    return never_seen_ids(ds)


def _token_rows(model, ids: np.ndarray) -> np.ndarray:
    """The parameter rows that read the ids: embedding rows, or the one-hot slices of the first
    dense layer (all three input slots) for frozen one-hot embeddings; (len(ids), ...)."""
    if isinstance(model, EmbedMLP) and model.config.one_hot:
        V, W0 = model.config.vocab_size, model.params["dense.0.W"]
        return np.concatenate([W0[ids + j * V] for j in range(model.config.n_inputs)], axis=1)
    return model.params["embed"][ids]


def _representation(model, ds):
    """(rows, offset) on which the progress measures are computed."""
    if isinstance(model, EmbedMLP) and model.config.one_hot:
        i = np.arange(ds.p)
        tok = np.stack([i, i + ds.offset, np.full(ds.p, ds.eq_token)], axis=1)
        return model.first_hidden(tok).astype(np.float64), 0
    return model.params["embed"], ds.offset


def _loss_and_correct(kind: str, z: np.ndarray, y: np.ndarray):
    """(loss, correct) of logits z against labels y with the run's loss ('ce' or 'mse')."""
    if kind == "mse":
        loss, _, correct = mse_one_hot(z, y)
    else:
        loss, _, _, correct = cross_entropy(z, y)
    return loss, correct


def _evaluator(run: SplitRun, ds, model, init_rows: np.ndarray):
    cats = pair_categories(ds)
    never = _untrained_ids(model, ds)
    operand_ids = np.arange(ds.p + ds.offset)
    seen_ids = np.setdiff1d(operand_ids, never)
    n0 = np.linalg.norm(init_rows, axis=1)

    def ev(m):
        z = final_logits(m, ds.tokens).astype(np.float64)   # all p^2 pairs, one forward pass
        out = {}
        for split, idx in (("train", ds.train_idx), ("test", ds.test_idx)):
            loss, correct = _loss_and_correct(run.loss, z[idx], ds.labels[idx])
            out[f"{split}_loss"], out[f"{split}_acc"] = loss, float(correct.mean())
        out.update({k: v for k, v in category_accuracy(correct, cats).items() if k.startswith("acc_")})
        out["acc_seen"] = float(correct[cats < 2].mean()) if (cats < 2).any() else None
        rows, off = _representation(m, ds)
        pm = progress_measures(rows, ds.p, off)
        out.update({k: v for k, v in pm.as_dict().items() if k not in ("p", "offset")})
        out["weight_norm"] = weight_norm(m.params)
        for name, fn, idx in (("excluded_loss", excluded_logits, ds.train_idx),
                              ("restricted_loss", restricted_logits, slice(None))):
            out[name] = cross_entropy(fn(z, ds.p, pm.key_frequencies)[idx], ds.labels[idx])[0]
        token_rows = _token_rows(m, operand_ids)
        seen = uniformity_on(token_rows, seen_ids)
        out["seen_norm_spread"], out["seen_spacing_spread"] = seen["norm_spread"], seen["spacing_spread"]
        if never.size:
            ratio = np.linalg.norm(token_rows[never], axis=1) / n0
            out["untrained_ratio_min"], out["untrained_ratio_max"] = float(ratio.min()), float(ratio.max())
        out["token_norms"] = np.linalg.norm(token_rows, axis=1).round(6).tolist()
        return out

    return ev


def _identity(run) -> dict:
    """The configuration without the run's length and checkpoint interval: a longer run of the same
    configuration extends the same folder (the training loop allows steps to grow on resume)."""
    return {k: v for k, v in _run_config(run).items() if k not in ("steps", "checkpoint_every")}


def _run_config(run: SplitRun) -> dict:
    return json.loads(dumps_strict({k: v for k, v in dataclasses.asdict(run).items() if k != "run_root"}))


def run_split(run: SplitRun, run_dir, *, resume: bool = True, progress: bool | None = False) -> dict:
    """Train one run (module docstring); returns :func:`summarize` of it, also in run_dir/summary.json."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ds, model = build(run)
    never = _untrained_ids(model, ds)
    init_rows = _token_rows(model, never).astype(np.float64).copy() if never.size else np.zeros((0, 1))
    opt = AdamW(model.params, lr=run.lr, betas=(run.beta1, run.beta2), weight_decay=run.weight_decay)
    tok, lab = ds.split("train")
    if run.model == "transformer":
        targets = np.zeros_like(tok)
        targets[:, -1] = lab
        mask = np.zeros(tok.shape, bool)
        mask[:, -1] = True
        batch = (tok, targets, mask)
    else:
        batch = (tok, lab, None)
    res = train(model, opt, lambda step, rng: batch,
                TrainConfig(steps=run.steps, log_every=run.log_every, checkpoint_every=run.checkpoint_every,
                            seed=run.seed),
                run_dir=run_dir, schedule=WarmupCosine(warmup=run.warmup_steps), config=_run_config(run),
                progress=progress,
                evaluate=_evaluator(run, ds, model, init_rows), resume=resume)
    summary = summarize(run, res["metrics"], ds)
    summary["config_hash"] = res["config_hash"]
    summary["wall_time"] = res["wall_time"]
    summary["seconds_per_step"] = res["wall_time"] / max(1, res["step"])
    atomic_write_json(run_dir / "summary.json", summary, indent=1)
    return summary


def summarize(run: SplitRun, metrics: list[dict], ds=None) -> dict:
    """Milestones, final accuracies per category against the ceilings, and the decay-law check.

    memorisation_step: first logged step with train accuracy >= 0.99; grokking_step: first with
    test accuracy >= 0.95; grokking_step_seen: first with accuracy >= 0.95 on the test pairs whose
    ids were both seen (``acc_seen``); decay_law: the derived factor F at the logged steps;
    decay_law_max_rel_err: max over logged steps of |untrained ratio / F(step) - 1| (None without
    untrained ids)."""
    ds_model = build(run)
    ds = ds_model[0] if ds is None else ds
    first = lambda key, thr: next((r["step"] for r in metrics if (r.get(key) or 0) >= thr), None)  # noqa: E731
    final = metrics[-1]
    never = _untrained_ids(ds_model[1], ds)
    err = None
    steps = np.array([r["step"] for r in metrics])
    F = untrained_row_factor(steps, run.lr, run.weight_decay, run.warmup_steps)
    if never.size and "untrained_ratio_min" in final:
        lo = np.array([r["untrained_ratio_min"] for r in metrics])
        hi = np.array([r["untrained_ratio_max"] for r in metrics])
        err = float(max(np.abs(lo / F - 1).max(), np.abs(hi / F - 1).max()))
    cats = pair_categories(ds)
    return {
        "config": _run_config(run), "key": config_key(run),
        "memorisation_step": first("train_acc", 0.99), "grokking_step": first("test_acc", 0.95),
        "grokking_step_seen": first("acc_seen", 0.95),
        "ceiling": ds.ceiling(), "collapsed_ceiling": collapsed_ceiling(ds),
        "category_counts": {k: v for k, v in category_accuracy(np.zeros(cats.size, bool), cats).items()
                            if k.startswith("n_")},
        "never_seen_ids": never_seen_ids(ds).tolist(), "untrained_ids": never.tolist(),
        "final": {k: v for k, v in final.items() if not isinstance(v, list)},
        "decay_law_max_rel_err": err, "decay_law": {"step": steps.tolist(), "factor": F.tolist()},
        "steps": final["step"],
    }


def _point(design: SplitRun, **axes) -> dict:
    run = dataclasses.replace(design, **axes)
    s = run_split(run, Path(run.run_root) / config_key(run))
    out = {k: s[k] for k in ("memorisation_step", "grokking_step", "grokking_step_seen", "ceiling",
                             "collapsed_ceiling", "decay_law_max_rel_err", "seconds_per_step")}
    out.update({f"final_{k}": v for k, v in s["final"].items() if k != "step"})
    return {k: np.nan if v is None else float(v) for k, v in out.items()}


def point(design: SplitRun, k: int, weight_decay: float, seed: int) -> dict:
    """Point function of the strip / rectangle grids (``grokphase.sweep``): the run ``design`` with
    k, weight_decay and seed replaced, trained (resumably) in ``design.run_root/config_key(run)``;
    returns the summary's scalars (None -> NaN): milestones, ceilings, the decay-law error,
    seconds per step and ``final_<metric>``."""
    if design.split == "random":
        raise ValueError("point sweeps k of a strip/rectangle design; use point_random for split='random'")
    return _point(design, k=k, weight_decay=weight_decay, seed=seed)


def point_random(design: SplitRun, weight_decay: float, init_noise: float, seed: int) -> dict:
    """Point function of the random-split grids (weight decay, ablations, quadratic network);
    as :func:`point` with weight_decay, init_noise (quadratic analytic init only) and seed."""
    if design.split != "random":
        raise ValueError(f"point_random needs a split='random' design, got split={design.split!r}")
    return _point(design, weight_decay=weight_decay, init_noise=init_noise, seed=seed)


def load_run(run: SplitRun) -> dict | None:
    """The finished run of ``run`` under ``run.run_root``: {"summary", "rows"} (logged rows), or
    None when its summary is missing (not run yet, or still running)."""
    d = Path(run.run_root) / config_key(run)
    if not (d / "summary.json").exists():
        return None
    rows = [json.loads(ln) for ln in (d / "metrics.jsonl").read_text().splitlines() if ln.strip()]
    return {"summary": json.loads((d / "summary.json").read_text()), "rows": rows}
