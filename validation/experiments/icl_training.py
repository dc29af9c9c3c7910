"""Training on in-context modular arithmetic (``docs/icl_grokking.md`` §1-§2).

Model as in the paper, scaled down: pre-LayerNorm, RoPE over the full head dimension, no absolute
positions, tied embeddings, no biases, ReLU MLP of width 4 d, init N(0, 0.02^2) with the residual
projections scaled by 1/sqrt(2 n_layers); AdamW (betas 0.9/0.98, eps 1e-8), grad-norm clip 1,
warm-up from 1% then cosine to 10%.  Batches in the balanced layout of ``tasks.icl`` (§1): every
pretraining task once on each of r = batch / T shared input sequences per step, so ``batch`` must be
a multiple of T = 4 n_task.  Evaluation on fixed seeded sets of the four splits, ``eval_seqs`` (>= 64)
fresh sequences x all tasks of each split (``tasks.icl.icl_evaluation``): final-z accuracy/loss
(headline) and all-z accuracy in the metrics; each split's chance level, ratio-matching ceiling and
copyable fraction (fixed by the sets) in the summary.  With ``snapshots=True`` the weights of every
logged step are kept for posteriors fitted after the fact (``uncertainty_study``); ``optimizer =
'ivon'`` trains with IVON instead (ess = training pairs x tasks, prior precision = weight decay).

Presets: ``p7-T40`` (the feasibility setting: p = 7, T = 40 tasks, 2 layers, d = 64, 8 examples), the
uncertainty study's ``study-p7-adamw`` / ``study-p7-ivon`` (alpha 0.8, batch 120 = 3 sequences x 40
tasks, snapshots) and ``smoke``.  (Before the balanced layout the presets used batch 256 / 128 with one
input sequence per batch; the batch sizes moved to the nearest multiple of T: 240 and 120.)  What
they give at CPU scale (none groks in context within the study's budget): ``docs/icl_grokking.md`` §5.

Seeds as in ``modular_grokking``: ``seed`` is the data seed (tasks, pairs, the batch stream, the
evaluation sets) and the weights' seed unless ``init_seed`` is set; members differing only in
``init_seed`` draw identical batches (the loop's generator is seeded by ``seed``).  ``init_seed``
is left out of the identity while None (older runs keep their hashes).

Run identity: as in ``modular_grokking`` (:func:`config_id`).  The learning rate decays by a cosine
over the run's ``steps``, so the schedule (and the identity) records them: a run with other
``steps`` is a new run (a new default folder), never an extension of a shorter one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from grokphase._checks import choice, integer, nonnegative, positive
from grokphase._io import atomic_write_json
from grokphase.sweep.design import OMIT_DEFAULT, resolved_config
from grokphase.validation.bayes.ivon import IVON, IVONSettings
from grokphase.validation.experiments.modular_grokking import weight_seed
from grokphase.validation.nn import Transformer, TransformerConfig
from grokphase.validation.optim import AdamW, WarmupCosine
from grokphase.validation.tasks.icl import (MIN_EVAL_SEQS, VAL_PROTOCOLS, coverage_stats, icl_evaluation,
                                           make_icl_tasks)
from grokphase.validation.training import TrainConfig, config_hash, run_identity, train


@dataclass(frozen=True)
class ICLRun:
    """One run's settings.  ``lr`` is AdamW's (betas 0.9/0.98, eps 1e-8); ``ivon`` holds IVON's
    settings (optimizer 'ivon', learning rate ``ivon.lr``); ``weight_decay`` is AdamW's decay or
    IVON's prior precision; ``clip`` the gradient-norm clip (None: off).  Fields that do not apply
    are listed by :meth:`inapplicable`."""

    p: int = 7
    n_task: int = 10            # T = 4 n_task pretraining tasks
    alpha: float = 0.5
    n_ctx: int = 8
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    batch: int = 240            # B = r T: r = batch / T input sequences per step, each with every task
    steps: int = 20000
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup: int = 500
    clip: float | None = 1.0
    seed: int = 0
    log_every: int = 250
    checkpoint_every: int = 1000
    eval_seqs: int = 64         # fresh input sequences per evaluation split (x all tasks of the split)
    val_protocol: str = "all"   # held-out splits: 'all' pairs held out, or only the 'query' (tasks.icl)
    optimizer: str = "adamw"
    ivon: IVONSettings = IVONSettings()
    snapshots: bool = False
    init_seed: int | None = field(default=None, metadata={OMIT_DEFAULT: True})

    def __post_init__(self):
        if self.optimizer not in ("adamw", "ivon"):
            raise ValueError(f"optimizer must be 'adamw' or 'ivon', got {self.optimizer!r}")
        integer("p", self.p, 3)
        if self.init_seed is not None:
            integer("init_seed", self.init_seed, 0, note="seed of the initial weights (None: seed)")
        for name, low in (("n_task", 1), ("n_ctx", 1), ("d_model", 1), ("n_layers", 1), ("n_heads", 1),
                          ("batch", 1), ("steps", 1), ("warmup", 0), ("seed", 0), ("log_every", 1),
                          ("checkpoint_every", 1)):
            integer(name, getattr(self, name), low)
        integer("eval_seqs", self.eval_seqs, MIN_EVAL_SEQS, note="fresh input sequences per evaluation split")
        choice("val_protocol", self.val_protocol, VAL_PROTOCOLS)
        T = 4 * self.n_task
        if self.batch % T:
            lo = max(T, self.batch // T * T)
            raise ValueError(f"batch must be a multiple of T = 4 n_task = {T} (every pretraining task once on each "
                             f"of batch / T input sequences); got {self.batch}, e.g. use {lo} or {lo + T}")
        if not (0.0 < self.alpha < 1.0):
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        positive("lr", self.lr)
        nonnegative("weight_decay", self.weight_decay)
        if self.clip is not None:
            positive("clip", self.clip)
        if self.steps <= self.warmup:
            raise ValueError(f"steps must exceed warmup ({self.warmup}) for the cosine decay, got {self.steps}")
        if not isinstance(self.ivon, IVONSettings):
            raise ValueError(f"ivon must be IVONSettings, got {self.ivon!r}")

    def inapplicable(self) -> dict[str, str]:
        """{field: why it does not apply to this run}."""
        if self.optimizer == "ivon":
            return {"lr": "optimizer is 'ivon', whose learning rate is ivon.lr"}
        return {"ivon": "optimizer is 'adamw' (IVON settings need optimizer='ivon')"}


PRESETS = {
    # the feasibility setting: p = 7, T = 40 tasks, 2 layers, d = 64, 8 examples
    "p7-T40": ICLRun(),
    # the uncertainty study: alpha = 0.8 (alpha = 0.5 runs memorised the input pairs: ID-val and
    # OOD-val stayed at chance), batch 120 (3 sequences x 40 tasks; 128 before the balanced layout),
    # snapshots for posteriors
    "study-p7-adamw": ICLRun(alpha=0.8, batch=120, steps=15000, log_every=250, snapshots=True),
    # IVON with the mod-97 study's settings (lr 1, h0 1, delta 1e-3, beta2 0.9999, update clip 1e-2)
    # and no gradient-norm clip (it would bias the Hessian estimate)
    "study-p7-ivon": ICLRun(alpha=0.8, batch=120, steps=15000, log_every=250, snapshots=True,
                            optimizer="ivon", weight_decay=1e-3, clip=None,
                            ivon=IVONSettings(lr=1.0, hess_init=1.0, beta2=0.9999, clip_radius=1e-2)),
    # the positive control of the in-context study (p = 7, T = 40): the settings of a PyTorch run
    # that generalised to unseen task vectors (alpha 0.6, lr 3e-3, warm-up 200), balanced batches of
    # 4 sequences x 40 tasks, 45k steps
    "positive-control": ICLRun(alpha=0.6, batch=160, steps=45000, lr=3e-3, warmup=200, log_every=500,
                               checkpoint_every=2500),
    # the p = 11 step of the task-diversity study (docs/icl_grokking.md §5): T = 96 tasks, 16 context
    # examples, balanced batches of 2 sequences x 96 tasks, otherwise the positive control's settings;
    # measured 0.82 s/step on one core of the shared 2-core machine (30k steps: ~7 CPU-hours)
    "positive-control-p11": ICLRun(p=11, n_task=24, n_ctx=16, alpha=0.6, batch=192, steps=30000, lr=3e-3,
                                   warmup=200, log_every=500, checkpoint_every=2500),
    "smoke": ICLRun(p=5, n_task=4, n_ctx=4, d_model=32, n_layers=1, batch=64, steps=300, warmup=20,
                    log_every=50),
}


def model_config(run: ICLRun) -> TransformerConfig:
    return TransformerConfig(vocab_size=run.p, d_model=run.d_model, n_layers=run.n_layers, n_heads=run.n_heads,
                             d_mlp=4 * run.d_model, max_len=3 * run.n_ctx, rope=True, layernorm=True,
                             tie_embeddings=True, pos_embed=False, mlp_bias=False, init_std=0.02,
                             scale_residual=True, seed=weight_seed(run))


def _build(run: ICLRun):
    """(model, optimizer, batch_fn, train config, schedule, evaluate, tasks, evaluation sets) of a run."""
    tasks = make_icl_tasks(run.p, run.n_task, run.alpha, seed=run.seed, val_protocol=run.val_protocol)
    model = Transformer(model_config(run))
    if run.optimizer == "ivon":  # ess = training points (pairs x tasks); prior precision = weight decay
        opt = IVON(model.params, ess=len(tasks.train_pairs) * len(tasks.train_tasks), weight_decay=run.weight_decay,
                   **asdict(run.ivon))
    else:
        opt = AdamW(model.params, lr=run.lr, betas=(0.9, 0.98), eps=1e-8, weight_decay=run.weight_decay)
    eval_rng = np.random.default_rng(10_000 + run.seed)
    eval_sets = tasks.eval_batches(eval_rng, run.n_ctx, run.eval_seqs)
    n_seqs = run.batch // len(tasks.train_tasks)

    def evaluate(m):
        ev = icl_evaluation(m.logits, tasks, eval_sets)
        out = {}
        for s in ev.split.values.tolist():
            e = ev.sel(split=s)
            out[f"{s}_loss"], out[f"{s}_acc"], out[f"{s}_acc_all"] = (float(e.loss_last), float(e.acc_last),
                                                                        float(e.acc_all))
        return out

    def batch_fn(step, rng):
        tok, tg, m_all, _ = tasks.batch(rng, "id_train", n_seqs, run.n_ctx)
        return tok, tg, m_all

    tcfg = TrainConfig(steps=run.steps, log_every=run.log_every, checkpoint_every=run.checkpoint_every,
                       clip=run.clip, seed=run.seed, snapshots=run.snapshots)
    schedule = WarmupCosine(warmup=run.warmup, total=run.steps, start=0.01, final=0.1)
    return model, opt, batch_fn, tcfg, schedule, evaluate, tasks, eval_sets


def eval_set_stats(tasks, eval_sets: dict) -> dict:
    """{split: {"n_seqs", "n_tasks", "n_queries", "chance", "ratio_ceiling", "copyable"}} of the
    evaluation sets (``tasks.icl.coverage_stats``)."""
    ev = coverage_stats(tasks, eval_sets)
    return {s: {k: ev[k].sel(split=s).item() for k in ev.data_vars} for s in ev.split.values.tolist()}


def config_id(run: ICLRun) -> str:
    """The hash of the run's identity (``config_hash`` in its config.json; it depends on ``steps``
    through the decaying schedule)."""
    model, opt, _, tcfg, schedule, _, _, _ = _build(run)
    return config_hash(run_identity(model, opt, tcfg, schedule, resolved_config(run)))


def run_icl(run: ICLRun, run_dir, *, resume: bool = True, progress: bool | None = None) -> dict:
    """Train (resumable, checked against the stored configuration); metrics per split in
    run_dir/metrics.jsonl, summary ({"run", "config_hash", "n_train_tasks", "wall_time", "steps",
    "final", "eval_sets": {split: {"n_seqs", "n_tasks", "chance", "ratio_ceiling", "copyable"}}}) in
    summary.json."""
    model, opt, batch_fn, tcfg, schedule, evaluate, tasks, eval_sets = _build(run)
    res = train(model, opt, batch_fn, tcfg, run_dir=run_dir, evaluate=evaluate, resume=resume,
                schedule=schedule, config=resolved_config(run), progress=progress)
    summary = {"run": resolved_config(run), "config_hash": res["config_hash"], "n_train_tasks": int(len(tasks.train_tasks)),
               "wall_time": res["wall_time"], "steps": res["step"], "final": res["metrics"][-1],
               "eval_sets": eval_set_stats(tasks, eval_sets)}
    atomic_write_json(Path(run_dir) / "summary.json", summary, indent=2)
    return summary
