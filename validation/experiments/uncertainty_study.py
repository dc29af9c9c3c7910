"""Epistemic uncertainty through grokking: posteriors fitted after the fact on parameter snapshots.

``docs/icl_grokking.md`` §3-§4 (Qchohi & Rossi, arXiv 2604.12434).  A run trained with
``snapshots=True`` (``modular_grokking`` or ``icl_training``; AdamW or IVON) leaves the weights of
every logged step.  For each snapshot and each evaluation set this module computes the accuracy at
the snapshot weights and, for each posterior, S predictive samples at the scored position and their
TU / AU / EU (nats, ``uncertainty_decomposition``), averaged over the set:

- ``ivon``: q = N(mu, 1/(ess (h + delta))) from the IVON state in the snapshot (IVON runs only);
- ``laplace``: last-layer Laplace at the snapshot weights (``bayes.laplace``), GGN over the training
  inputs scaled to ``ess`` points, prior precision maximising the Laplace evidence; KFAC for the
  mod-97 model (D K = 12,416), full for the in-context model;
- ``laplace_wd``: the same with the paper's prior precision = the run's weight decay (with training
  probabilities ~1 the GGN vanishes and this posterior is nearly the prior: EU ~ log K throughout);
- ``swag``: SWAG (diagonal + low rank) from the last ``swag_window`` snapshots up to this one: a
  moving-window SWAG along the logged trajectory (snapshots 50-250 steps apart, so its covariance
  includes the drift of the weights over that window; not the paper's constant-lr SWAG phase).

Estimators apply to the SAME network at each step (the paper's gap: its IVON and Laplace networks
differed).  Summaries (``summarise``): grokking time (half and 90 % of the final gain above chance on
the target split), EU-peak time, EU-collapse factor, and the label-free ``EUMonitor`` detection on
the unlabeled prompts with its lead (negative) or lag relative to the grokking time.

Evaluation sets.  Mod p: 'train' (up to 1,000 training pairs) and 'test' (up to 2,000 held-out pairs;
target split); the unlabeled prompts are the test inputs (their labels are never read by the
monitor).  In-context: the four splits, each 64 fresh seeded input sequences x all tasks of the
split (the balanced layout of ``tasks.icl``; 2,560 prompts on the ID splits and 576 on the OOD splits of
the p = 7, T = 40 presets; target 'ood_val') and 'unlabeled': as many fresh seeded OOD-val prompts
whose labels are never read.  The Laplace GGN reads the ID-train prompts of round(256 / T) >= 1 fresh
sequences x all T tasks (240 at T = 40).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from grokphase._checks import integer
from grokphase._io import atomic_write_json, read_npz
from grokphase.numerics.copy_loss import softmax
from grokphase.sweep import point_rng
from grokphase.validation.bayes import SWAG, uncertainty_decomposition
from grokphase.validation.bayes.grokking_times import detect, eu_peak, threshold_time
from grokphase.validation.bayes.ivon import ivon_sigma
from grokphase.validation.bayes.laplace import last_layer_laplace
from grokphase.validation.bayes.sampling import ensemble_probs
from grokphase.validation.nn import Transformer

ESTIMATORS = ("ivon", "laplace", "laplace_wd", "swag")
QUANTITIES = ("tu", "au", "eu", "acc")
"""Per estimator and set: TU, AU, EU (nats) and the posterior-predictive accuracy."""


@dataclass(frozen=True)
class EvalSet:
    """tokens (B, T); pos (B,) scored position per row; labels (B,) or None (unlabeled)."""

    tokens: np.ndarray
    pos: np.ndarray
    labels: np.ndarray | None


@dataclass(frozen=True)
class StudySetup:
    """What the posteriors need about a run: model config, evaluation sets, Laplace training
    inputs (tokens, mask) with the number of points they stand for (ess), the weight decay (prior
    precision), Laplace structure, target split, unlabeled set name, chance accuracy and the training
    split; ``ivon_ess`` the effective sample size IVON trained with (None: ``ess``)."""

    config: object
    sets: dict
    laplace_tokens: np.ndarray
    laplace_mask: np.ndarray
    ess: float
    weight_decay: float
    structure: str
    target: str
    unlabeled: str
    chance: float
    train_split: str
    ivon_ess: float | None = None


def modular_setup(run) -> StudySetup:
    """The study's view of a mod-p run: evaluation sets 'train' (up to 1,000 training pairs) and
    'test' (up to 2,000 held-out pairs; target and unlabeled set), KFAC Laplace over all training
    pairs (ess = their number; IVON's sigma uses the run's ess_scale x that), chance 1/p.

    Parameters
    ----------
    run : ModularRun
        The run's configuration (``modular_grokking``).

    Returns
    -------
    StudySetup
    """
    from grokphase.validation.experiments.modular_grokking import model_config
    from grokphase.validation.tasks import modular_dataset

    ds = modular_dataset(run.p, run.op, run.frac, seed=run.seed, split=run.split, k=run.k, offset=run.offset)
    rng = np.random.default_rng(20_000 + run.seed)
    sets = {}
    for name, n in (("train", 1000), ("test", 2000)):
        tok, lab = ds.split(name)
        idx = np.sort(rng.permutation(len(lab))[:n])
        sets[name] = EvalSet(tok[idx], np.full(len(idx), 2), lab[idx])
    tok, lab = ds.split("train")
    mask = np.zeros(tok.shape, bool)
    mask[:, -1] = True
    return StudySetup(model_config(run, ds.vocab_size), sets, tok, mask, float(len(lab)), run.weight_decay, "kfac", "test", "test", 1.0 / run.p,
                      "train", ivon_ess=run.ess_scale * len(lab))


def _icl_set(tasks, split: str, n_ctx: int, rng: np.random.Generator, n_seqs: int = 64, **kw) -> EvalSet:
    """n_seqs (>= 64) fresh input sequences x all tasks of ``split`` (``ICLTaskSet.eval_batches``),
    scored at the query; ``kw`` (p_noise, k) as in ``ICLTaskSet.batch``."""
    tok, tg, _, m_fin = tasks.eval_batches(rng, n_ctx, n_seqs, (split,), **kw)[split]
    pos = np.argmax(m_fin, axis=1)
    return EvalSet(tok, pos, tg[np.arange(len(tok)), pos])


def icl_setup(run) -> StudySetup:
    """The study's view of an in-context run: the four splits (256 seeded prompts each, 64 groups
    of 4 with their own pair order; target 'ood_val'), 'unlabeled' OOD prompts (labels dropped),
    full last-layer Laplace on 256 ID-train prompts scaled to ess = training pairs x training tasks,
    chance 1/p.

    Parameters
    ----------
    run : ICLRun
        The run's configuration (``icl_training``).

    Returns
    -------
    StudySetup
    """
    from grokphase.validation.experiments.icl_training import model_config
    from grokphase.validation.tasks.icl import SPLITS, make_icl_tasks

    tasks = make_icl_tasks(run.p, run.n_task, run.alpha, seed=run.seed, val_protocol=run.val_protocol)
    sets = {s: _icl_set(tasks, s, run.n_ctx, np.random.default_rng([10_000 + run.seed, i]), run.eval_seqs)
            for i, s in enumerate(SPLITS)}
    sets["unlabeled"] = dataclasses.replace(_icl_set(tasks, "ood_val", run.n_ctx,
                                                     np.random.default_rng([30_000 + run.seed]), run.eval_seqs),
                                            labels=None)
    T = len(tasks.train_tasks)
    ltok, _, m_all, _ = tasks.batch(np.random.default_rng(40_000 + run.seed), "id_train", max(1, round(256 / T)),
                                    run.n_ctx)
    ess = float(len(tasks.train_pairs) * len(tasks.train_tasks))
    return StudySetup(model_config(run), sets, ltok, m_all, ess, run.weight_decay, "full", "ood_val", "unlabeled",
                      1.0 / run.p, "id_train")


def _features(model, s: EvalSet) -> np.ndarray:
    return model.features_at(s.tokens, s.pos).astype(np.float64)


def _summ(probs: np.ndarray, labels) -> dict:
    """probs (S, n, K) -> mean TU/AU/EU and the posterior-predictive accuracy."""
    tu, au, eu = uncertainty_decomposition(probs)
    out = {"tu": float(tu.mean()), "au": float(au.mean()), "eu": float(eu.mean())}
    if labels is not None:
        out["acc"] = float((probs.mean(axis=0).argmax(-1) == labels).mean())
    return out


def _load(path: Path) -> tuple[int, dict, dict]:
    z = read_npz(path, what="snapshot", remedy="delete it (and the later ones), or retrain the run")
    if "step" not in z:
        raise ValueError(f"snapshot {path} has no 'step'; delete it, or retrain the run")
    params = {k[6:]: v for k, v in z.items() if k.startswith("param/")}
    opt = {k[4:]: v for k, v in z.items() if k.startswith("opt/")}
    return int(z["step"]), params, opt


def predictive(setup: StudySetup, params: dict, opt: dict, swag_hist: list[dict], sets: dict, *,
               rng: np.random.Generator, samples: int) -> dict:
    """Class probabilities at the scored positions of each evaluation set, per posterior.

    Parameters
    ----------
    setup : StudySetup
    params : dict of str -> ndarray
        The snapshot's parameters (the Transformer's names and shapes).
    opt : dict of str -> ndarray
        The snapshot's optimiser state; IVON's Hessian estimate ``h/<name>`` (shaped like the
        parameter) makes the IVON posterior apply.  Empty for AdamW runs.
    swag_hist : list of dict
        Parameters of consecutive snapshots, the last of which is ``params``; SWAG needs >= 2.
    sets : dict of str -> EvalSet
        tokens (B, T), pos (B,), labels (B,) or None.
    rng : numpy.random.Generator
        The posterior draws.
    samples : int
        Draws S per posterior.

    Returns
    -------
    dict
        ``{"mean": {set: (B, K)}, estimator: {set: (S, B, K)}}`` for the estimators that apply
        (K = the model's output classes).
    """
    model = Transformer(setup.config, params=params)
    feats = {n: _features(model, s) for n, s in sets.items()}
    W = model.output_weight.astype(np.float64)
    out = {"mean": {n: softmax(f @ W) for n, f in feats.items()}}
    lfeat = model.features(setup.laplace_tokens)[setup.laplace_mask].astype(np.float64)
    lfeat *= math.sqrt(setup.ess / len(lfeat))
    for name, prior in (("laplace", "evidence"), ("laplace_wd", setup.weight_decay)):
        post = last_layer_laplace(lfeat, W, prior, setup.structure)
        out[name] = {n: post.predictive_samples(f, rng, samples) for n, f in feats.items()}
    draws = {}
    if opt:
        ess = setup.ess if setup.ivon_ess is None else setup.ivon_ess
        sig = {k: ivon_sigma(opt["h/" + k].astype(np.float64), ess, setup.weight_decay) for k in params}
        draws["ivon"] = [{k: (v + rng.standard_normal(v.shape) * sig[k]).astype(v.dtype) for k, v in params.items()}
                         for _ in range(samples)]
    if len(swag_hist) >= 2:
        sw = SWAG(rank=max(2, len(swag_hist)))
        for ph in swag_hist:
            sw.collect(ph)
        draws["swag"] = [sw.sample(rng) for _ in range(samples)]
    for name, ws in draws.items():
        models = [Transformer(setup.config, params=w) for w in ws]
        out[name] = {n: ensemble_probs(models, s.tokens, s.pos) for n, s in sets.items()}
    return out


def _summ_all(pred: dict, sets: dict) -> dict:
    row = {}
    for n, s in sets.items():
        row[n] = {"acc": float((pred["mean"][n].argmax(-1) == s.labels).mean())} if s.labels is not None else {}
        for est in ESTIMATORS:
            if est in pred:
                row[n][est] = _summ(pred[est][n], s.labels)
    return row


def snapshot_files(run_dir) -> list[Path]:
    """The snapshot files ``run_dir/snapshots/step_XXXXXXXX.npz`` in step order.

    Parameters
    ----------
    run_dir : path-like

    Returns
    -------
    list of pathlib.Path

    Raises
    ------
    ValueError
        There are none (the run was trained without ``snapshots=True``).
    """
    files = sorted((Path(run_dir) / "snapshots").glob("step_*.npz"))
    if not files:
        raise ValueError(f"no snapshots in {run_dir}/snapshots (train with snapshots=True)")
    return files


def file_step(path: Path) -> int:
    """The step in a snapshot file's name (``step_00000250.npz`` -> 250).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    int
    """
    return int(Path(path).stem.split("_", 1)[1])


def evaluated(n: int, every: int) -> list[int]:
    """Indices of the snapshots evaluated with stride ``every``: every ``every``-th one and the last.

    Parameters
    ----------
    n : int
        Number of snapshots.
    every : int
        Stride (>= 1).

    Returns
    -------
    list of int
    """
    every = integer("every", every, 1, note="evaluate every k-th snapshot")
    return [i for i in range(n) if i % every == 0 or i == n - 1]


def snapshot_window(run_dir, step: int, swag_window: int) -> list[tuple[int, dict, dict]]:
    """The snapshots of the last ``swag_window`` logged steps up to ``step``: what
    :func:`snapshot_row` needs.

    Parameters
    ----------
    run_dir : path-like
        The run folder.
    step : int
        The evaluated snapshot's step.
    swag_window : int
        Snapshots kept (>= 1).

    Returns
    -------
    list of (int, dict, dict)
        (step, params, optimiser state) per snapshot, in step order; the last is at ``step``.

    Raises
    ------
    ValueError
        No snapshot at ``step`` (naming the run folder and the steps there), or a damaged file.
    """
    files = snapshot_files(run_dir)
    steps = [file_step(f) for f in files]
    if step not in steps:
        raise ValueError(f"{run_dir}: no snapshot at step {step} (snapshots at {steps[0]}..{steps[-1]}); "
                         f"was the run retrained?")
    i = steps.index(step)
    window = [_load(f) for f in files[max(0, i + 1 - swag_window):i + 1]]
    if window[-1][0] != step:
        raise ValueError(f"{files[i]} holds step {window[-1][0]}, its name says {step}; delete it, or retrain the run")
    return window


def snapshot_row(setup: StudySetup, window: list[tuple[int, dict, dict]], *, samples: int, seed: int) -> dict:
    """One trajectory row: accuracy and, per estimator, TU/AU/EU/accuracy on every set of ``setup``
    at the last snapshot of ``window``.

    Parameters
    ----------
    setup : StudySetup
    window : list of (step, params, opt)
        Consecutive snapshots, the evaluated one last (SWAG uses them all; IVON the last's state).
    samples : int
        Posterior samples per estimator (>= 2).
    seed : int
        With the step, the seed of the posterior draws (:func:`grokphase.sweep.point_rng`), so a
        row does not depend on which other snapshots are evaluated, or in which order.

    Returns
    -------
    dict
        ``{"step": int, set: {"acc": float (labelled sets), estimator: {"tu", "au", "eu"[, "acc"]}}}``.
    """
    step, params, opt = window[-1]
    pred = predictive(setup, params, opt, [p for _, p, _ in window], setup.sets, rng=point_rng(seed, step),
                      samples=samples)
    return {"step": step, **_summ_all(pred, setup.sets)}


def evaluate_snapshots(setup: StudySetup, run_dir, *, samples: int = 16, swag_window: int = 8, every: int = 1,
                       seed: int = 0) -> list[dict]:
    """:func:`snapshot_row` at every ``every``-th (and the last) snapshot of one run, in one loop.

    The rows are written (atomically) with the settings to ``run_dir/uncertainty.json``
    (``{"samples", "swag_window", "every", "seed", "rows"}``).  The study's driver
    (``uncertainty_runs.evaluate_study``) computes the same rows through ``grokphase.sweep``.

    Parameters
    ----------
    setup : StudySetup
        The run's model configuration and evaluation sets (:func:`modular_setup`, :func:`icl_setup`).
    run_dir : path-like
        The run folder (``snapshots/step_*.npz``).
    samples : int
        Posterior samples per estimator (>= 2).
    swag_window : int
        Snapshots up to each evaluated one that SWAG is fitted on (>= 1; SWAG needs >= 2).
    every : int
        Snapshot stride (>= 1); the last snapshot is always evaluated.
    seed : int
        Seed of the posterior draws (with each snapshot's step).

    Returns
    -------
    list of dict
        One :func:`snapshot_row` per evaluated snapshot, in step order.
    """
    if samples < 2:
        raise ValueError(f"samples must be >= 2, got {samples}")
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be an integer >= 1 (evaluate every k-th snapshot), got {every!r}")
    swag_window = integer("swag_window", swag_window, 1)
    files = snapshot_files(run_dir)
    keep = set(evaluated(len(files), every))
    window: list[tuple[int, dict, dict]] = []
    rows = []
    for i, f in enumerate(files):
        window = (window + [_load(f)])[-swag_window:]
        if i in keep:
            rows.append(snapshot_row(setup, window, samples=samples, seed=seed))
    atomic_write_json(Path(run_dir) / "uncertainty.json",
                      {"samples": samples, "swag_window": swag_window, "every": every, "seed": seed, "rows": rows})
    return rows


def evaluate_final(setup: StudySetup, run_dir, sets: dict, *, samples: int = 16, swag_window: int = 8,
                   seed: int = 0) -> dict:
    """Accuracy and TU/AU/EU per estimator on ``sets`` at the last snapshot (SWAG from the last
    ``swag_window`` snapshots): the context-length and context-noise sweeps, the diversity grid.

    Parameters
    ----------
    setup : StudySetup
        The run's model configuration (its ``sets`` are not used).
    run_dir : path-like
        The run folder.
    sets : dict of str -> EvalSet
        The evaluation sets (tokens (B, T), pos (B,), labels (B,) or None).
    samples : int
        Posterior samples per estimator (>= 2).
    swag_window : int
        Last snapshots SWAG is fitted on.
    seed : int
        Seed of the posterior draws (``numpy.random.default_rng(seed)``).

    Returns
    -------
    dict
        ``{"step": int, set: {"acc", estimator: {"tu", "au", "eu"[, "acc"]}}}``.
    """
    files = snapshot_files(run_dir)[-swag_window:]
    loaded = [_load(f) for f in files]
    step, params, opt = loaded[-1]
    pred = predictive(setup, params, opt, [p for _, p, _ in loaded], sets,
                      rng=np.random.default_rng(seed), samples=samples)
    return {"step": step, **_summ_all(pred, sets)}


def result_arrays(res: dict, names, dims: tuple[str, ...], coords: dict, suffix: str = "",
                  estimators: tuple[str, ...] = ESTIMATORS) -> dict:
    """An evaluation result ``{set: {"acc", estimator: {tu, au, eu, acc}}}`` (:func:`snapshot_row`,
    :func:`evaluate_final`) as labelled arrays over named dimensions.

    Parameters
    ----------
    res : dict
        The result; sets or estimators it lacks give NaN (entries other than ``names`` are ignored).
    names : array-like of str, shape (n_1, ..., n_d)
        The set names, arranged along ``dims`` (e.g. ``"id_train/k3"`` at (split, k)).
    dims : tuple of str, length d
        Dimension names of ``names``.
    coords : dict
        Coordinates of ``dims`` (``{dim: values}``).
    suffix : str
        Appended to the variable names (several families of sets in one Dataset).
    estimators : tuple of str
        The estimator coordinate (default ``ESTIMATORS``; the ensemble and checkpoint-SWAG designs
        pass their own).

    Returns
    -------
    dict of str -> xarray.DataArray
        ``acc`` (dims): accuracy at the snapshot weights (NaN for unlabeled sets); ``tu``, ``au``,
        ``eu`` (nats) and ``pred_acc`` (posterior-predictive accuracy), (dims + ``estimator``) with
        the estimator coordinate ``estimators``; NaN where an estimator does not apply.
    """
    names = np.asarray(names, dtype=object)
    flat = names.ravel().tolist()
    acc = np.array([res.get(s, {}).get("acc", np.nan) for s in flat], float).reshape(names.shape)
    out = {f"acc{suffix}": xr.DataArray(acc, dims=dims, coords=coords)}
    est_coords = {**coords, "estimator": list(estimators)}
    for k in QUANTITIES:
        v = np.array([[res.get(s, {}).get(e, {}).get(k, np.nan) for e in estimators] for s in flat], float)
        out[("pred_acc" if k == "acc" else k) + suffix] = xr.DataArray(
            v.reshape(names.shape + (len(estimators),)), dims=tuple(dims) + ("estimator",), coords=est_coords)
    return out


def result_entries(ds: xr.Dataset, names, dims: tuple[str, ...], suffix: str = "",
                   estimators: tuple[str, ...] = ESTIMATORS) -> dict:
    """The inverse of :func:`result_arrays` at one point, NaN entries left out (no ``acc`` for an
    unlabeled set, no estimator that does not apply).

    Parameters
    ----------
    ds : xarray.Dataset
        One point (e.g. ``sweep.isel(run=0)``) with the variables of :func:`result_arrays`.
    names : array-like of str, shape (n_1, ..., n_d)
        The set names along ``dims``.
    dims : tuple of str
        The dimensions of ``names`` (besides ``estimator``).
    suffix : str
        The variables' suffix.
    estimators : tuple of str
        The estimators to read (those of :func:`result_arrays`).

    Returns
    -------
    dict
        ``{set name: {"acc", estimator: {"tu", "au", "eu"[, "acc"]}}}``.
    """
    names = np.asarray(names, dtype=object)
    acc = ds[f"acc{suffix}"].transpose(*dims).values
    q = {k: ds[("pred_acc" if k == "acc" else k) + suffix].transpose(*dims, "estimator").sel(
        estimator=list(estimators)).values for k in QUANTITIES}
    out = {}
    for idx in np.ndindex(names.shape):
        entry = {} if math.isnan(acc[idx]) else {"acc": float(acc[idx])}
        for j, e in enumerate(estimators):
            v = {k: float(q[k][idx + (j,)]) for k in QUANTITIES}
            if not math.isnan(v["eu"]):
                entry[e] = {k: x for k, x in v.items() if not (k == "acc" and math.isnan(x))}
        out[names[idx]] = entry
    return out


def summarise(rows: list[dict], setup: StudySetup, estimators: tuple[str, ...] = ESTIMATORS) -> dict:
    """Event times and EU summaries of one run's trajectory.

    Grokking times on the target split (snapshot-weight accuracy crossing half and 90 % of the
    final gain above chance; memorisation time: the same on the training split; None when the
    final gain is within 3 binomial sd of the set, i.e. noise), and per estimator present: EU-peak
    step, EU-collapse factor (peak / final) and step (first after the peak with EU <= peak / 10) on
    the target split, and the label-free monitor's detection on the unlabeled set with its lag
    (detection - grokking time; negative = lead).

    Parameters
    ----------
    rows : list of dict
        The trajectory (:func:`snapshot_row` per evaluated snapshot, in step order).
    setup : StudySetup
        Target, training and unlabeled set names, chance accuracy and set sizes.
    estimators : tuple of str
        The estimators to summarise where present (default ``ESTIMATORS``).

    Returns
    -------
    dict
        ``{"grokking_time", "grokking_time_90", "final_acc", "chance", "memorisation_time",
        "final_train_acc", "estimators": {estimator: {"eu_peak_step", "eu_collapse_factor",
        "eu_collapse_step", "eu_peak", "eu_final", "au_final", "detected_step", "detection_lag"}}}``;
        steps are ints or None.
    """
    steps = np.array([r["step"] for r in rows])

    def event(split, fraction):
        """None unless the final gain above chance exceeds 3 binomial sd of the set's accuracy."""
        acc = np.array([r[split]["acc"] for r in rows])
        noise = 3 * math.sqrt(setup.chance * (1 - setup.chance) / len(setup.sets[split].pos))
        return threshold_time(steps, acc, setup.chance, fraction) if acc[-1] - setup.chance > noise else None

    out = {"grokking_time": event(setup.target, 0.5), "grokking_time_90": event(setup.target, 0.9),
           "final_acc": float(rows[-1][setup.target]["acc"]), "chance": setup.chance,
           "memorisation_time": event(setup.train_split, 0.5),
           "final_train_acc": float(rows[-1][setup.train_split]["acc"]), "estimators": {}}
    for est in estimators:
        if est not in rows[-1][setup.target]:
            continue
        have = [i for i, r in enumerate(rows) if est in r[setup.target]]
        st = steps[have]
        eu = np.array([rows[i][setup.target][est]["eu"] for i in have])
        peak_step, collapse = eu_peak(st, eu)
        eu_u = np.array([rows[i][setup.unlabeled][est]["eu"] for i in have])
        det = detect(st, eu_u)
        g = out["grokking_time"]
        after = np.flatnonzero((st > peak_step) & (eu <= eu.max() / 10))
        out["estimators"][est] = {"eu_peak_step": peak_step, "eu_collapse_factor": collapse,
                                  "eu_collapse_step": int(st[after[0]]) if after.size else None,
                                  "eu_peak": float(eu.max()), "eu_final": float(eu[-1]),
                                  "au_final": float(rows[-1][setup.target][est]["au"]),
                                  "detected_step": det,
                                  "detection_lag": None if det is None or g is None else det - g}
    return out


def icl_sweep_sets(run, *, splits=("id_train", "ood_val"), ks=(), noises=(), n_seqs: int = 64,
                   seed: int = 50_000) -> dict:
    """Evaluation sets for the in-context sweeps (``docs/icl_grokking.md`` §1, claims 3-4).

    For each split: ``'{split}/k{k}'`` -> k context examples before the query, and
    ``'{split}/noise{p:g}'`` -> n_ctx examples whose context labels are replaced by uniform tokens
    with probability p.  The run's tasks and pairs; fixed seeds.

    Parameters
    ----------
    run : ICLRun
    splits : sequence of str
        Prompt splits (``validation.tasks.icl.SPLITS``).
    ks : iterable of int
        Context examples, each in 0..n_ctx-1.
    noises : iterable of float
        Context-noise probabilities in [0, 1].
    n_seqs : int
        Fresh input sequences per set (>= 64); each set holds n_seqs x all tasks of its split.
    seed : int
        Base seed of the prompts.

    Returns
    -------
    dict of str -> EvalSet
        tokens (B, 3 (k + 1)) or (B, 3 n_ctx), pos (B,) the query's scored position, labels (B,).
    """
    from grokphase.validation.tasks.icl import make_icl_tasks

    tasks = make_icl_tasks(run.p, run.n_task, run.alpha, seed=run.seed, val_protocol=run.val_protocol)
    sets = {}
    for si, split in enumerate(splits):
        grid = [(f"k{k}", dict(k=k)) for k in ks] + [(f"noise{pn:g}", dict(p_noise=pn)) for pn in noises]
        for j, (name, kw) in enumerate(grid):
            sets[f"{split}/{name}"] = _icl_set(tasks, split, run.n_ctx, np.random.default_rng([seed, si, j]),
                                               n_seqs, **kw)
    return sets
