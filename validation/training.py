"""Training loop: deterministic given the seed, metrics to JSON lines, atomic checkpoints and a
bit-for-bit ``resume``.

Every step: batch = batch_fn(step, rng); (loss, grads) = model.loss_and_grad(..., rng=dropout rng);
optional global-norm clipping; optimiser step with lr = base lr x schedule(step).  At the logged
steps (log-spaced up to ``log_every``, then every ``log_every`` steps, and the last one) it appends
{"step", "time", "lr", "batch_loss", **evaluate(model)} to ``run_dir/metrics.jsonl``.  Every
``checkpoint_every`` steps (and at the end) it writes ``run_dir/checkpoint.npz`` atomically (temp
file, then rename) with the parameters, optimiser state, step and generator state.  With
``resume=True`` an existing checkpoint is loaded, logged lines after its step are dropped, and the
run continues exactly as if it had never stopped.

Posteriors fitted after the fact: with ``snapshots=True`` every logged step also writes
``run_dir/snapshots/step_XXXXXXXX.npz`` (the parameters, plus ``opt/...`` arrays from the optimiser's
``posterior_state()`` if it has one, e.g. IVON's Hessian estimate; atomically).  An optimiser
with a ``perturb(params, rng)`` method (IVON) is asked to perturb the weights before each gradient
and restores its mean in ``step``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from grokphase.validation.optim import clip_grad_norm


@dataclass(frozen=True)
class TrainConfig:
    """steps: optimiser steps; schedule(step) -> lr multiplier; clip: max global grad norm or None."""

    steps: int
    log_every: int = 100
    checkpoint_every: int = 1000
    clip: float | None = None
    seed: int = 0
    progress: bool = True
    snapshots: bool = False


def log_steps(steps: int, log_every: int) -> set[int]:
    """Log-spaced steps below log_every (1, 2, 3, 5, 8, ...), every log_every steps, and the last."""
    early = {int(round(v)) for v in np.geomspace(1, max(1, log_every), 12)}
    return {s for s in early if s < log_every} | set(range(0, steps + 1, log_every)) | {steps}


def _atomic_savez(path: Path, **arrays) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
    os.close(fd)
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _truncate_log(path: Path, step: int, logged: set[int]) -> None:
    """Keep the rows up to ``step`` that this run's schedule logs (an earlier, shorter run also
    logged its own last step)."""
    if not path.exists():
        return
    keep = [ln for ln in path.read_text().splitlines()
            if ln and json.loads(ln)["step"] <= step and json.loads(ln)["step"] in logged]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(ln + "\n" for ln in keep))
    os.replace(tmp, path)


def train(model, optimizer, batch_fn: Callable, cfg: TrainConfig, *, run_dir,
          schedule: Callable[[int], float] = lambda s: 1.0, evaluate: Callable | None = None,
          resume: bool = True) -> dict:
    """Run ``cfg.steps`` steps (module docstring).  Returns {"step", "metrics": list of dicts,
    "wall_time"}; the metrics are also in run_dir/metrics.jsonl."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt, log_path = run_dir / "checkpoint.npz", run_dir / "metrics.jsonl"
    rng = np.random.default_rng(cfg.seed)
    step, wall = 0, 0.0
    if resume and ckpt.exists():
        with np.load(ckpt) as z:
            for k in model.params:
                model.params[k][...] = z["param/" + k]
            optimizer.load_state({k[4:]: z[k] for k in z.files if k.startswith("opt/")})
            rng.bit_generator.state = json.loads(str(z["rng"]))
            step, wall = int(z["step"]), float(z["wall"])
        _truncate_log(log_path, step, log_steps(cfg.steps, cfg.log_every) | {0})
    elif log_path.exists():
        log_path.unlink()
    logged = log_steps(cfg.steps, cfg.log_every)
    base_lr = optimizer.lr
    perturb = getattr(optimizer, "perturb", None)
    posterior_state = getattr(optimizer, "posterior_state", dict)
    t0 = time.perf_counter() - wall

    def checkpoint():
        _atomic_savez(ckpt, step=np.asarray(step), wall=np.asarray(time.perf_counter() - t0),
                      rng=np.asarray(json.dumps(rng.bit_generator.state)),
                      **{"param/" + k: v for k, v in model.params.items()},
                      **{"opt/" + k: v for k, v in optimizer.state().items()})

    def snapshot():
        (run_dir / "snapshots").mkdir(exist_ok=True)
        _atomic_savez(run_dir / "snapshots" / f"step_{step:08d}.npz", step=np.asarray(step),
                      **{"param/" + k: v for k, v in model.params.items()},
                      **{"opt/" + k: v for k, v in posterior_state().items()})

    def log(batch_loss, lr):
        if cfg.snapshots:
            snapshot()
        row = {"step": step, "time": time.perf_counter() - t0, "lr": lr, "batch_loss": batch_loss}
        if evaluate is not None:
            row.update(evaluate(model))
        with open(log_path, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        if cfg.progress:
            msg = " ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float) and k != "time")
            print(f"[step {step}/{cfg.steps} {row['time']:.0f}s] {msg}", file=sys.stderr, flush=True)

    if step == 0 and 0 in logged:
        log(math.nan, base_lr * schedule(0))
    while step < cfg.steps:
        tokens, targets, mask = batch_fn(step, rng)
        if perturb is not None:
            perturb(model.params, rng)
        loss, grads = model.loss_and_grad(tokens, targets, mask, rng=rng if model.config.dropout else None)
        if cfg.clip is not None:
            clip_grad_norm(grads, cfg.clip)
        lr = base_lr * schedule(step)
        optimizer.step(model.params, grads, lr=lr)
        step += 1
        if step in logged:
            log(loss, lr)
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            checkpoint()
    metrics = [json.loads(ln) for ln in log_path.read_text().splitlines() if ln]
    return {"step": step, "metrics": metrics, "wall_time": time.perf_counter() - t0}
