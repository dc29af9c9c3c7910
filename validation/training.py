"""Training loop: deterministic given the seed, identified by its full configuration, metrics to JSON
lines, atomic checkpoints and a bit-for-bit resume.

Every step: batch = batch_fn(step, rng); (loss, grads) = model.loss_and_grad(..., rng=dropout rng);
optional global-norm clipping; optimiser step with lr = base lr x schedule(step).  The loss and the
gradients are checked at every step: the first non-finite one stops the run with
:class:`NonFiniteError` naming the step (the last checkpoint stays as it was).

Files in ``run_dir``
--------------------
``config.json``
    Written when the run starts: ``{"config_hash", "steps", "config"}``, where ``config`` is the
    run's identity, everything that changes its results except its length: ``run`` (the caller's
    description of the task and data, e.g. an experiment's resolved settings), ``model`` (the model's
    config dataclass), ``optimizer`` (``optimizer.config()``: its name and every hyper-parameter),
    ``schedule`` (a dataclass schedule such as ``WarmupCosine``; a plain callable is recorded as
    None, so describe it in ``run``) and ``train`` (:meth:`TrainConfig.identity`).  Keys ``steps``
    and ``checkpoint_every`` of the caller's description must equal the TrainConfig's and are left
    out (a run's length is recorded as ``steps``; the checkpoint interval does not change results).  ``config_hash``
    is :func:`config_hash` of ``config``.
``metrics.jsonl``
    At the logged steps (log-spaced up to ``log_every``, then every ``log_every`` steps, and the
    last one) a strict-JSON row {"step", "time", "lr", "batch_loss", **evaluate(model)}; the row of
    step 0 has batch_loss null.  Read it with :func:`read_metrics`.
``checkpoint.npz``
    Every ``checkpoint_every`` steps and at the end, atomically: parameters, optimiser state, step,
    generator state, and the configuration with its hash.
``snapshots/step_XXXXXXXX.npz``
    With ``snapshots=True``, at every logged step: the parameters, plus ``opt/...`` arrays from the
    optimiser's ``posterior_state()`` if it has one (e.g. IVON's Hessian estimate), for posteriors
    fitted after the fact.

Resume (``resume=True``)
------------------------
The stored configuration (``config.json`` and the checkpoint's) is compared with the requested one.
Equal: the run continues from the checkpoint exactly as if it had never stopped (logged rows and
snapshots after the checkpoint are dropped).  Only ``steps`` may differ, and only grow: resuming with
more steps extends the run, and the extended run equals a fresh run of the longer length as long as
nothing in the configuration depends on the length (a schedule constant after warm-up; a decaying
schedule records its ``total``, so a longer decaying run is a different configuration).  Any other
difference, a checkpoint past the requested ``steps``, or a damaged checkpoint is a ``ValueError``
naming the differing fields (or the file and what is wrong) and the remedy: start over
(``resume=False``; on the command line ``--fresh``) or use another run folder.  ``resume=False``
removes the folder's checkpoint, metrics and snapshots and starts over.

An optimiser with a ``perturb(params, rng)`` method (IVON) is asked to perturb the weights before
each gradient and restores its mean in ``step``.  Progress: a tqdm bar on stderr (``progress=None``:
only when stderr is a terminal); messages on the ``grokphase.validation.training`` logger.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from grokphase._checks import integer, positive
from grokphase._io import atomic_path, atomic_write_json, atomic_write_text, dumps_strict, read_npz, strict_json_value
from grokphase.sweep.design import config_diff, design_config, resolved_config
from grokphase.sweep.store import identity_key
from grokphase.validation.optim import clip_grad_norm
from grokphase.validation.run_metrics import read_rows

__all__ = ["TrainConfig", "NonFiniteError", "train", "log_steps", "read_metrics", "run_identity", "config_hash"]

logger = logging.getLogger(__name__)

REMEDY = "start over (resume=False; on the command line --fresh) or use another run folder (--run-dir)"


@dataclass(frozen=True)
class TrainConfig:
    """Loop settings.

    Parameters
    ----------
    steps : int >= 1
        Optimiser steps (the run's length; the only setting a resume may change, and only upwards).
    log_every : int >= 1
        Metrics row (and snapshot) every ``log_every`` steps, log-spaced before.
    checkpoint_every : int >= 1
        Checkpoint interval; it does not change results (resume is bit-for-bit), so it is not part of
        the run's identity.
    clip : float > 0 or None
        Maximum global gradient norm.
    seed : int >= 0
        Seed of the loop's generator (batches, dropout, IVON's perturbations).
    snapshots : bool
        Keep the parameters of every logged step in ``snapshots/``.
    """

    steps: int
    log_every: int = 100
    checkpoint_every: int = 1000
    clip: float | None = None
    seed: int = 0
    snapshots: bool = False

    def __post_init__(self):
        integer("steps", self.steps, 1)
        integer("log_every", self.log_every, 1)
        integer("checkpoint_every", self.checkpoint_every, 1)
        integer("seed", self.seed, 0)
        if self.clip is not None:
            positive("clip", self.clip)

    def identity(self) -> dict:
        """The settings that change a run's results, except ``steps``."""
        return {"log_every": self.log_every, "clip": self.clip, "seed": self.seed, "snapshots": self.snapshots}


class NonFiniteError(ValueError):
    """Training produced a non-finite loss or gradient; ``step`` is the update that produced it."""

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


def log_steps(steps: int, log_every: int) -> set[int]:
    """Log-spaced steps below log_every (1, 2, 3, 5, 8, ...), every log_every steps, and the last."""
    early = {int(round(v)) for v in np.geomspace(1, max(1, log_every), 12)}
    return {s for s in early if s < log_every} | set(range(0, steps + 1, log_every)) | {steps}


def run_identity(model, optimizer, cfg: TrainConfig, schedule, config: Mapping | None = None) -> dict:
    """The identity recorded in ``config.json`` (module docstring), as strict-JSON-ready plain data."""
    if not callable(getattr(optimizer, "config", None)):
        raise TypeError(f"{type(optimizer).__name__} has no config() method: a run records its optimiser's "
                        "hyper-parameters")
    sched = ({"name": type(schedule).__name__, **design_config(schedule)} if dataclasses.is_dataclass(schedule)
             else None)
    model_cfg = getattr(model, "config", None)
    run = dict(config or {})
    for key in ("steps", "checkpoint_every"):      # the length and the bookkeeping: not identity
        if key in run and run.pop(key) != getattr(cfg, key):
            raise ValueError(f"config[{key!r}] = {config[key]!r} differs from the TrainConfig's {key} = "
                             f"{getattr(cfg, key)!r}")
    return strict_json_value({"run": run,
                              "model": resolved_config(model_cfg) if dataclasses.is_dataclass(model_cfg) else None,
                              "optimizer": optimizer.config(), "schedule": sched, "train": cfg.identity()})


def config_hash(identity: dict) -> str:
    """The 10-hex-digit hash of a run identity (names run folders; ``config_hash`` in config.json)."""
    return identity_key(identity, 10)


_SECTIONS = ("run", "train", "schedule", "optimizer", "model")


def _user_first(line: str):
    """Sort key: the caller's settings (``run.*``) first, then the derived sections."""
    head = line.split(".")[0]
    return (_SECTIONS.index(head) if head in _SECTIONS else len(_SECTIONS), line)


def _check_same(stored: dict, requested: dict, source: Path) -> None:
    """ValueError naming every field where the stored identity differs from the requested one."""
    diff = sorted(config_diff(stored, requested), key=_user_first)
    if not diff:
        return
    hint = ""
    if any(d.startswith("schedule.total") for d in diff):
        hint = (" The learning-rate schedule decays over the run's length, so a run with other steps is "
                "a different run, not an extension.")
    raise ValueError(f"{source} belongs to a run with a different configuration (stored != requested): "
                     f"{'; '.join(diff)}.{hint} Resume needs the same configuration (only steps may grow); "
                     f"{REMEDY}.")


def _read_config_json(path: Path) -> dict:
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
        if not (isinstance(rec, dict) and isinstance(rec.get("config"), dict)):
            raise ValueError("no 'config' object")
    except ValueError as e:
        raise ValueError(f"run configuration {path} is damaged ({e}); {REMEDY}") from e
    return rec


def _load_checkpoint(path: Path, model, optimizer) -> dict:
    """Checked contents of a checkpoint: {"step", "wall", "rng", "config", "params", "opt"}."""
    z = read_npz(path, what="checkpoint", remedy=REMEDY)
    missing = [k for k in ("step", "wall", "rng", "config") if k not in z]
    if missing:
        why = ("it stores no run configuration (written by an older grokphase), so it cannot be checked"
               if "config" in missing else f"it lacks {missing}")
        raise ValueError(f"checkpoint {path}: {why}; {REMEDY}")
    params = {}
    for k, v in model.params.items():
        arr = z.get("param/" + k)
        if arr is None or arr.shape != v.shape:
            raise ValueError(f"checkpoint {path}: parameter {k!r} is missing or has shape "
                             f"{None if arr is None else arr.shape}, the model needs {v.shape}; {REMEDY}")
        params[k] = arr
    try:
        config = json.loads(str(z["config"]))
        rng_state = json.loads(str(z["rng"]))
    except ValueError as e:
        raise ValueError(f"checkpoint {path}: its configuration or generator state is damaged ({e}); {REMEDY}") from e
    return {"step": int(z["step"]), "wall": float(z["wall"]), "rng": rng_state, "config": config,
            "params": params, "opt": {k[4:]: v for k, v in z.items() if k.startswith("opt/")}}


def read_metrics(path) -> list[dict]:
    """The rows of a run's metrics.jsonl (``path``: the file or its run folder).

    An incomplete last line (a run killed while writing) is dropped with a warning; any other invalid
    line is a ValueError naming the file and line (``run_metrics.read_rows``; ``run_metrics.load_metrics``
    gives the same rows as a Dataset).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    return [row for _, row in read_rows(path)[0]]


def _truncate_log(path: Path, step: int, logged: set[int]) -> None:
    """Keep the rows up to ``step`` that this run's schedule logs (an earlier, shorter run also
    logged its own last step)."""
    if not path.exists():
        return
    keep = [r for r in read_metrics(path) if r["step"] <= step and r["step"] in logged]
    atomic_write_text(path, "".join(dumps_strict(r) + "\n" for r in keep))


def _prune_snapshots(folder: Path, step: int, logged: set[int]) -> None:
    for f in sorted(folder.glob("step_*.npz")) if folder.is_dir() else ():
        s = int(f.stem[5:]) if f.stem[5:].isdigit() else -1
        if s > step or s not in logged:
            f.unlink()


def _start_over(run_dir: Path) -> None:
    for name in ("checkpoint.npz", "metrics.jsonl"):
        (run_dir / name).unlink(missing_ok=True)
    if (run_dir / "snapshots").is_dir():
        shutil.rmtree(run_dir / "snapshots")


def _constant(step: int) -> float:
    return 1.0


def train(model, optimizer, batch_fn: Callable, cfg: TrainConfig, *, run_dir,
          schedule: Callable[[int], float] = _constant, evaluate: Callable | None = None,
          resume: bool = True, config: Mapping | None = None, progress: bool | None = None) -> dict:
    """Run ``cfg.steps`` steps in ``run_dir`` (module docstring).

    Parameters
    ----------
    model
        ``params`` (dict of arrays), ``loss_and_grad(tokens, targets, mask, rng=None)``, ``config``
        (a dataclass, recorded).
    optimizer
        ``lr``, ``step(params, grads, lr=)``, ``state()``, ``load_state(state)``, ``config()``.
    batch_fn : callable
        ``batch_fn(step, rng) -> (tokens, targets, mask)``.
    cfg : TrainConfig
    run_dir : path-like
        The run folder (created).
    schedule : callable
        ``schedule(step) -> lr multiplier``; a dataclass schedule (``WarmupCosine``) is recorded.
    evaluate : callable, optional
        ``evaluate(model) -> dict`` of metrics for each logged row.
    resume : bool
        Continue the run in ``run_dir`` (checked against its stored configuration) or start over.
    config : mapping, optional
        JSON-ready description of what the loop cannot see (task, data, split), recorded as ``run``.
    progress : bool or None
        tqdm bar on stderr; None: only when stderr is a terminal.

    Returns
    -------
    dict
        {"step", "metrics": list of row dicts, "wall_time", "config_hash"}.

    Raises
    ------
    ValueError
        Stored configuration differs, checkpoint past ``cfg.steps`` or damaged (see module docstring).
    NonFiniteError
        A non-finite loss or gradient (a ValueError naming the step).
    """
    from grokphase._progress import progress_bar

    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"cannot create the run folder {run_dir}: {e.strerror or e} (is its parent writable?)") from e
    ckpt, log_path, cfg_path = run_dir / "checkpoint.npz", run_dir / "metrics.jsonl", run_dir / "config.json"
    identity = run_identity(model, optimizer, cfg, schedule, config)
    chash = config_hash(identity)
    logged = log_steps(cfg.steps, cfg.log_every)
    rng = np.random.default_rng(cfg.seed)
    step, wall = 0, 0.0
    if resume and cfg_path.exists():
        _check_same(_read_config_json(cfg_path)["config"], identity, cfg_path)
    if resume and ckpt.exists():
        state = _load_checkpoint(ckpt, model, optimizer)
        _check_same(state["config"], identity, ckpt)
        if state["step"] > cfg.steps:
            raise ValueError(f"checkpoint {ckpt} is at step {state['step']}, past the requested steps = "
                             f"{cfg.steps}; ask for steps >= {state['step']}, or {REMEDY}")
        for k, v in state["params"].items():
            model.params[k][...] = v
        try:
            optimizer.load_state(state["opt"])
        except (KeyError, ValueError) as e:
            raise ValueError(f"checkpoint {ckpt}: the optimiser state does not fit ({e!r}); {REMEDY}") from e
        rng.bit_generator.state = state["rng"]
        step, wall = state["step"], state["wall"]
        _truncate_log(log_path, step, logged | {0})
        _prune_snapshots(run_dir / "snapshots", step, logged | {0})
        logger.info("%s: resuming at step %d of %d", run_dir, step, cfg.steps)
    else:
        _start_over(run_dir)
        logger.info("%s: starting a run of %d steps (config %s)", run_dir, cfg.steps, chash)
    atomic_write_json(cfg_path, {"config_hash": chash, "steps": cfg.steps, "config": identity}, indent=1)
    base_lr = optimizer.lr
    perturb = getattr(optimizer, "perturb", None)
    posterior_state = getattr(optimizer, "posterior_state", dict)
    t0 = time.perf_counter() - wall
    stored_config = np.asarray(json.dumps(identity, sort_keys=True))

    def savez(path: Path, **arrays) -> None:
        with atomic_path(path) as tmp:
            np.savez(tmp, **arrays)

    def checkpoint():
        savez(ckpt, step=np.asarray(step), wall=np.asarray(time.perf_counter() - t0),
              rng=np.asarray(json.dumps(rng.bit_generator.state)), config=stored_config,
              config_hash=np.asarray(chash),
              **{"param/" + k: v for k, v in model.params.items()},
              **{"opt/" + k: v for k, v in optimizer.state().items()})

    def snapshot():
        savez(run_dir / "snapshots" / f"step_{step:08d}.npz", step=np.asarray(step),
              **{"param/" + k: v for k, v in model.params.items()},
              **{"opt/" + k: v for k, v in posterior_state().items()})

    bar = progress_bar(cfg.steps, progress=progress, initial=step, desc=run_dir.name, unit="step", leave=False)

    def log(batch_loss, lr):
        if cfg.snapshots:
            snapshot()
        row = {"step": step, "time": time.perf_counter() - t0, "lr": lr, "batch_loss": batch_loss}
        if evaluate is not None:
            with np.errstate(over="ignore", invalid="ignore"):  # diverging weights: the next loss stops the run
                row.update(evaluate(model))
        with open(log_path, "a", encoding="utf-8") as fh:
            fh.write(dumps_strict(row) + "\n")
        shown = {k: f"{v:.4g}" for k, v in row.items() if isinstance(v, float) and k not in ("time", "lr")
                 and math.isfinite(v)}
        bar.set_postfix(shown, refresh=False)
        logger.debug("%s: step %d %s", run_dir, step, shown)

    def fail(what: str, value) -> None:
        kept = (f"the checkpoint (step {last_checkpoint}) is intact" if last_checkpoint is not None
                else "no checkpoint was written")
        raise NonFiniteError(f"training in {run_dir} stopped at step {step + 1} of {cfg.steps}: {what} is {value} "
                             f"(lr = {base_lr * schedule(step):.4g}); {kept}. "
                             "Lower the learning rate, clip the gradients, or check the inputs.", step + 1)

    last_checkpoint = step if ckpt.exists() else None

    try:
        if step == 0 and 0 in logged:
            log(math.nan, base_lr * schedule(0))
        while step < cfg.steps:
            tokens, targets, mask = batch_fn(step, rng)
            if perturb is not None:
                perturb(model.params, rng)
            with np.errstate(over="ignore", invalid="ignore"):     # checked just below, with the step
                loss, grads = model.loss_and_grad(tokens, targets, mask, rng=rng if model.config.dropout else None)
            if not math.isfinite(loss):
                fail("the loss", loss)
            bad = next((k for k, g in grads.items() if not np.isfinite(g).all()), None)
            if bad is not None:
                fail(f"the gradient of {bad!r}", "non-finite")
            if cfg.clip is not None:
                clip_grad_norm(grads, cfg.clip)
            lr = base_lr * schedule(step)
            optimizer.step(model.params, grads, lr=lr)
            step += 1
            bar.update()
            if step in logged:
                log(float(loss), lr)
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                checkpoint()
                last_checkpoint = step
    finally:
        bar.close()
    logger.info("%s: finished at step %d", run_dir, step)
    return {"step": step, "metrics": read_metrics(log_path), "wall_time": time.perf_counter() - t0,
            "config_hash": chash}
