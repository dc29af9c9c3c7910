"""The exposure study: pre-training runs over (preset, seed), their evaluation, and the verdicts
R1-R3 (``docs/exposure_grokking.md`` §5-§6).

The runs go through the sweep layer: the design :class:`LMStudy` fixes the corpus, the BLiMP
folder and the analysis settings; the point function :func:`study_point` trains (or resumes)
``ROOT/lm_<preset>_seed<seed>``, evaluates every snapshot, summarises the run and returns one
row of numbers per phenomenon; :func:`run_study` evaluates it over ``Grid.zip(preset, seed)``
(dimension ``run``) with a point store under ``ROOT/study_store`` keyed by the design, so a rerun
reuses finished runs and a changed design is refused.

Criteria (fixed before any run was looked at; thresholds from the specification of the study):

* **delay** of a phenomenon in a run (theta = 0.8, fixed proxy split): proxy-train reaches theta
  at t_train while proxy-val is below 0.6 there, proxy-val reaches theta at t_val >= 2 t_train, and
  the bootstrap 95% interval of Delta = t_val - t_train excludes 0;
* **exposure**: at the t_train checkpoint (the last one if proxy-train never reaches theta) pair
  correctness rises with the exposure count: Spearman rho > 0 with one-sided permutation p < 0.05;
* **control**: the held-out irregular forms' accuracy at the last checkpoint has a Wilson 95%
  interval containing 0.5;
* **R1** holds for a preset with several seeds when >= 3 of the 5 phenomena show a delay on >= 2
  of 3 seeds (for a single-seed preset: >= 3 of 5 on that seed), the control is at chance on every
  run, and the exposure rise holds in every delayed phenomenon;
* **R2** (concept vectors, last layer, critical token): before = the last checkpoint with
  tokens < t_val, after = the checkpoint at t_val.  For measure m and paired fitting subsets r,
  D_r = [m_obs(after) - m_obs(before)] - [m_shuf(after) - m_shuf(before)]; a phenomenon passes
  when the 95% bootstrap interval of mean D lies above 0 for held-out AUC, bias-corrected
  participation ratio and effective rank; an interval below 0 for either dimension measure is a
  *fall in dimension* (a non-replication).  R2 holds with the same counting as R1 over the
  phenomena with a finite t_val > first checkpoint;
* **R3** (heads): at the after checkpoint the top-2 heads carry >= 50% of the critical -> context
  attention mass, their share is larger than at the first checkpoint (step 0), and (last checkpoint)
  ablating them lowers proxy-val accuracy more than every one of 10 random 2-head ablations.
  R3 holds with the same counting as R1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["LMStudy", "STUDY_RUNS", "study_point", "run_study", "phenomenon_verdicts", "study_verdicts",
           "concept_change"]

STUDY_RUNS = (("main", 0), ("small", 0), ("small", 1), ("small", 2))
"""(preset, seed) of the study: the main run and three seeds of the small one."""

PHENOMENA = ("grammar_det_noun", "grammar_subj_verb", "grammar_attractor", "grammar_anaphor", "grammar_irregular")
THETA = 0.8
VAL_BELOW = 0.6
R2_MEASURES = ("auc", "pr_unbiased", "effective_rank")


@dataclass(frozen=True)
class LMStudy:
    """corpus: a folder of ``grokphase exposure corpus``; root: where the run folders go; blimp:
    BLiMP folder (None: generated pairs only); n_concept: pairs per concept-vector fit; n_boot:
    bootstrap resamples of the delay; n_random: random head sets of the ablation; weight_decay:
    AdamW weight decay of every run (None: the preset's, 0.1; a knob of the sweep)."""

    corpus: str
    root: str = "runs"
    blimp: str | None = None
    n_concept: int = 40
    n_boot: int = 500
    n_random: int = 10
    weight_decay: float | None = None
    VERSION = 1
    LABELS = {"delayed": {"long_name": "proxy-val reaches 0.8 at least twice as late as proxy-train", "units": "1"},
              "t_train": {"long_name": "tokens until proxy-train accuracy >= 0.8", "units": "token"},
              "t_val": {"long_name": "tokens until proxy-val accuracy >= 0.8", "units": "token"}}


def run_folder(design: LMStudy, preset: str, seed: int) -> Path:
    tag = "" if design.weight_decay is None else f"_wd{design.weight_decay:g}"
    return Path(design.root) / f"lm_{preset}{tag}_seed{seed}"


def concept_change(rec_before: dict, rec_after: dict, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """R2's paired comparison of two ``concept_geometry`` results (same pairs, same seed).

    Returns ``{measure: {"D", "lo", "hi"}}`` for each of R2_MEASURES (the mean over paired fitting
    subsets of D_r, see the module docstring, and its 95% bootstrap interval over subsets).

    >>> a = {"observed_draws": {m: [0.5, 0.6, 0.55] for m in R2_MEASURES}, "shuffled_draws": {m: [0.5] * 3 for m in R2_MEASURES}}
    >>> b = {"observed_draws": {m: [0.9, 0.95, 0.9] for m in R2_MEASURES}, "shuffled_draws": {m: [0.5] * 3 for m in R2_MEASURES}}
    >>> concept_change(a, b)["auc"]["lo"] > 0
    True
    """
    rng = np.random.default_rng(seed)
    out = {}
    for m in R2_MEASURES:
        d = (np.subtract(rec_after["observed_draws"][m], rec_before["observed_draws"][m])
             - np.subtract(rec_after["shuffled_draws"][m], rec_before["shuffled_draws"][m]))
        boot = d[rng.integers(0, d.size, (n_boot, d.size))].mean(axis=1)
        lo, hi = np.quantile(boot, [0.025, 0.975])
        out[m] = {"D": float(d.mean()), "lo": float(lo), "hi": float(hi)}
    return out


def phenomenon_verdicts(summary: dict, records: list[dict], uid: str) -> dict:
    """The per-run criteria of the module docstring for one phenomenon: a flat dict of numbers
    and booleans (NaN where a quantity is undefined, e.g. R2 without a generalisation time)."""
    ph = summary["phenomena"][uid]
    d = ph["delays"][str(THETA)]
    t_tr, t_va = _time(d["t_train"]), _time(d["t_val"])        # strict JSON writes +inf as null
    delayed = bool(np.isfinite(t_tr) and np.isfinite(t_va) and d["acc_val_at_t_train"] < VAL_BELOW
                   and t_va >= 2 * t_tr and d["delta_ci"][0] > 0)
    tr = ph["exposure_trend"]
    out = {"t_train": t_tr, "t_val": t_va, "delta_lo": float(d["delta_ci"][0]), "delta_hi": float(d["delta_ci"][1]),
           "acc_val_at_t_train": float(d["acc_val_at_t_train"]), "delayed": delayed,
           "exposure_rho": float(tr["rho"]), "exposure_p": float(tr["p_value"]),
           "exposure_rises": bool(np.isfinite(tr["rho"]) and tr["rho"] > 0 and tr["p_value"] < 0.05),
           "acc_train_last": _num(ph["splits"]["fixed"]["train"]["acc"][-1]),
           "acc_val_last": _num(ph["splits"]["fixed"]["val"]["acc"][-1])}
    tokens = np.array(summary["tokens"], dtype=float)
    after = int(np.searchsorted(tokens, t_va)) if np.isfinite(t_va) else -1     # the checkpoint at t_val
    hc = [r["heads_concepts"][uid] for r in records]
    nan = float("nan")
    r2 = {f"{m}_{k}": nan for m in R2_MEASURES for k in ("D", "lo", "hi")}
    out.update(r2, r2_testable=False, r2_pass=False, dimension_falls=False)
    if after >= 1 and hc[after]["concepts"][-1] is not None and hc[after - 1]["concepts"][-1] is not None:
        ch = concept_change(hc[after - 1]["concepts"][-1], hc[after]["concepts"][-1])
        out.update({f"{m}_{k}": ch[m][k] for m in R2_MEASURES for k in ("D", "lo", "hi")})
        out.update(r2_testable=True, r2_pass=all(ch[m]["lo"] > 0 for m in R2_MEASURES),
                   dimension_falls=any(ch[m]["hi"] < 0 for m in ("pr_unbiased", "effective_rank")))
    shares = [c["top_k_share"] for c in ph["head_concentration"]]
    ab = ph["ablation"]
    at = after if after >= 1 else len(shares) - 1
    out.update(top2_share_after=float(shares[at]), top2_share_first=float(shares[0]),
               uniform_share=float(ph["head_concentration"][0]["uniform_top_k_share"]),
               ablation_drop_top=_num(ab["drop_top"]) if ab else nan,
               ablation_drop_random_max=float(max(ab["acc_full"] - a for a in ab["acc_random"])) if ab else nan)
    out["r3_pass"] = bool(out["top2_share_after"] >= 0.5 and out["top2_share_after"] > out["top2_share_first"]
                          and ab is not None and out["ablation_drop_top"] > out["ablation_drop_random_max"])
    return out


def _time(x) -> float:
    return float("inf") if x is None else float(x)


def _num(x):
    return float("nan") if x is None else float(x)


def _control_at_chance(summary: dict) -> tuple[float, bool]:
    from grokphase.validation.exposure.analysis import wilson_interval

    ph = summary["phenomena"].get("grammar_irregular", {})
    acc, n = ph.get("control_acc"), ph.get("control_n")
    if not acc or not n:
        return float("nan"), False
    lo, hi = wilson_interval(round(acc[-1] * n), n)
    return float(acc[-1]), bool(lo <= 0.5 <= hi)


def study_point(design: LMStudy, preset: str, seed: int) -> dict:
    """Train, evaluate and summarise one run; the per-phenomenon criteria as arrays over ``phenomenon``."""
    import xarray as xr

    from grokphase.validation.experiments.lm_evaluation import (LMEvaluation, evaluate_run, load_records,
                                                                summarize_run)
    from grokphase.validation.experiments.lm_pretraining import PRESETS, LMRun, run_lm_pretraining

    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}; got {preset!r}")
    run_dir = run_folder(design, preset, seed)
    wd = {} if design.weight_decay is None else {"weight_decay": float(design.weight_decay)}
    run = LMRun(corpus=design.corpus, seed=int(seed), **{**PRESETS[preset], **wd})
    run_lm_pretraining(run, run_dir, progress=False)
    evaluate_run(LMEvaluation(run_dir=str(run_dir), blimp=design.blimp, n_concept=design.n_concept))
    summary = summarize_run(run_dir, n_boot=design.n_boot, n_random=design.n_random)
    records = load_records(run_dir)
    rows = [phenomenon_verdicts(summary, records, u) for u in PHENOMENA]
    ctl_acc, ctl_ok = _control_at_chance(summary)
    out = {k: xr.DataArray(np.array([r[k] for r in rows]), dims=["phenomenon"], coords={"phenomenon": list(PHENOMENA)})
           for k in rows[0]}
    out.update(control_acc=ctl_acc, control_at_chance=ctl_ok, tokens_total=float(summary["tokens"][-1]))
    return out


def run_study(design: LMStudy, runs=STUDY_RUNS, *, executor=None, progress: bool | None = None):
    """The study's Dataset over (run, phenomenon) (:func:`study_point` at each (preset, seed) of
    ``runs``, through :func:`grokphase.sweep.run_sweep`, store ``ROOT/study_store``)."""
    from grokphase.sweep import Grid, run_sweep

    presets, seeds = zip(*runs)
    grid = Grid.zip(preset=list(presets), seed=[int(s) for s in seeds], dim="run")
    return run_sweep(study_point, grid, design=design, store=Path(design.root) / "study_store",
                     executor=executor, progress=progress)


def study_verdicts(ds) -> dict:
    """R1, R2, R3 per preset from the study Dataset (counting rules of the module docstring)."""
    out = {}
    for preset in sorted(set(ds.preset.values.tolist())):
        sub = ds.isel(run=np.flatnonzero(ds.preset.values == preset))
        n_seeds = sub.sizes["run"]
        need_seeds = 1 if n_seeds == 1 else 2
        delayed = sub.delayed.values.astype(bool)                 # (run, phenomenon)
        per_seed = delayed.sum(axis=1)
        rises_ok = bool(np.all(sub.exposure_rises.values[delayed])) if delayed.any() else False
        control_ok = bool(np.all(sub.control_at_chance.values))
        r1 = int(np.sum(per_seed >= 3)) >= need_seeds and control_ok and rises_ok
        r2_count = (sub.r2_pass.values.astype(bool)).sum(axis=1)
        r3_count = (sub.r3_pass.values.astype(bool)).sum(axis=1)
        out[preset] = {
            "seeds": sub.seed.values.tolist(),
            "delayed_phenomena_per_seed": per_seed.tolist(),
            "control_at_chance": sub.control_at_chance.values.tolist(),
            "exposure_rises_in_delayed": rises_ok,
            "R1": bool(r1),
            "r2_testable_per_seed": sub.r2_testable.values.sum(axis=1).tolist(),
            "r2_pass_per_seed": r2_count.tolist(),
            "dimension_falls_per_seed": sub.dimension_falls.values.sum(axis=1).tolist(),
            "R2": bool(int(np.sum(r2_count >= 3)) >= need_seeds),
            "r3_pass_per_seed": r3_count.tolist(),
            "R3": bool(int(np.sum(r3_count >= 3)) >= need_seeds),
        }
    return out


def write_summary(ds, path) -> Path:
    """The study's numbers and verdicts as strict JSON (the committed summary)."""
    from grokphase._io import atomic_write_json

    table = {}
    for i in range(ds.sizes["run"]):
        r = ds.isel(run=i)
        key = f"{r.preset.item()}_seed{int(r.seed.item())}"
        table[key] = {"control_acc": float(r.control_acc), "control_at_chance": bool(r.control_at_chance),
                      "tokens_total": float(r.tokens_total),
                      "phenomena": {u: {k: (v.item() if hasattr(v, "item") else v)
                                        for k, v in ((name, r[name].sel(phenomenon=u)) for name in ds.data_vars
                                                     if "phenomenon" in ds[name].dims)}
                                    for u in ds.phenomenon.values.tolist()}}
    return atomic_write_json(Path(path), {"verdicts": study_verdicts(ds), "runs": table,
                                          "design": json.loads(ds.attrs["design_config"])}, indent=1)
