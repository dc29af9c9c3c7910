"""Benchmark: the sampler and evaluation paths of the uncertainty studies, profiled per operation
like the training step of ``bench_transformer.py`` (same laps, same table).

Workloads (float32, the studies' models): ``mod97`` - Nanda's 1-layer model on mod-97 addition at
train fraction 0.3 (2822 training and 6587 test sequences, scored at the last position); ``icl`` -
the in-context model of ``bench_transformer.py`` (p 29, 32 examples per sequence, 256 training
rows; evaluation on 4 sequences x 128 tasks, scored at the query, as the study's evaluation sets).

Paths, each timed as the median of ``--repeats`` calls after one discarded call:
  adamw_step      loss_and_grad + AdamW (the reference step)
  ivon_step       IVON.perturb + loss_and_grad + IVON.step (ratio to adamw_step reported)
  ivon_predictive one posterior draw (IVON.sample) + logits at the scored test positions
  checkpoints     the class probabilities of 5 checkpoints (models) at the scored test positions
                  (``ensemble_probs``' steps), per checkpoint
  laplace_fit     last-layer features of the training set + full GGN Laplace (prior precision 1)
  laplace_kfac    the same with the Kronecker-factored GGN
  laplace_predict 32 predictive samples of the full Laplace at the test positions
The profile of each path charges its laps (the model's operations plus the path's own steps:
``ivon.perturb``, ``ivon.update``, ``softmax``, ``laplace.ggn`` ...) with their share of the time.

Run:  python benchmarks/bench_study_paths.py [--threads N] [--repeats R] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path


def _args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--configs", nargs="+", default=["mod97", "icl"], choices=["mod97", "icl"])
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "bench_study_paths.json"))
    return ap.parse_args()


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

from grokphase._io import atomic_write_json  # noqa: E402
from grokphase.validation.bayes import laplace as la  # noqa: E402
from grokphase.validation.bayes.ivon import IVON  # noqa: E402
from grokphase.numerics.copy_loss import softmax  # noqa: E402
from grokphase.validation.bayes.sampling import ensemble_probs  # noqa: E402
from grokphase.validation.nn import Transformer, TransformerConfig  # noqa: E402
from grokphase.validation.nn._parallel import single_threaded_blas  # noqa: E402
from grokphase.validation.nn._profile import lap, profiling  # noqa: E402
from grokphase.validation.optim import AdamW  # noqa: E402
from grokphase.validation.tasks import make_icl_tasks, modular_dataset  # noqa: E402


def workload(name: str):
    """(config, train tokens/targets/mask, test tokens, test positions)."""
    rng = np.random.default_rng(0)
    if name == "mod97":
        ds = modular_dataset(97, "add", 0.3, seed=0)
        cfg = TransformerConfig(vocab_size=ds.vocab_size, d_model=128, n_layers=1, n_heads=4, d_mlp=512,
                                max_len=3, n_out=97, dtype="float32", seed=0)
        tok, lab = ds.split("train")
        tg = np.zeros_like(tok)
        tg[:, -1] = lab
        mask = np.zeros(tok.shape, bool)
        mask[:, -1] = True
        test, _ = ds.split("test")
        return cfg, tok, tg, mask, test, np.full(len(test), test.shape[1] - 1)
    tasks = make_icl_tasks(29, 32, 0.5, seed=0)
    cfg = TransformerConfig(vocab_size=29, d_model=128, n_layers=2, n_heads=4, d_mlp=512, max_len=96,
                            rope=True, layernorm=True, tie_embeddings=True, pos_embed=False,
                            mlp_bias=False, init_std=0.02, scale_residual=True, dtype="float32", seed=0)
    tok, tg, mask, _ = tasks.batch(rng, "id_train", 2, 32)
    etok, _, emask, _ = tasks.batch(rng, "id_train", 4, 32)          # 4 sequences x 128 tasks = 512 rows
    return cfg, tok, tg, mask, etok, emask.shape[1] - 1 - np.argmax(emask[:, ::-1], axis=1)   # the query


def timed(fn, repeats: int) -> tuple[float, dict]:
    """Median seconds of ``fn`` and its per-lap profile (averaged over the timed calls)."""
    fn()
    ts = []
    with profiling() as table:
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    total = sum(r[0] for r in table.values())
    prof = {k: {"ms_per_call": 1e3 * v[0] / repeats, "share": v[0] / total}
            for k, v in sorted(table.items(), key=lambda kv: -kv[1][0])}
    return statistics.median(ts), prof


def paths(name: str, repeats: int) -> dict:
    cfg, tok, tg, mask, test, pos = workload(name)
    model = Transformer(cfg)
    rng = np.random.default_rng(1)
    adamw = AdamW(model.params, lr=1e-3, betas=(0.9, 0.98), weight_decay=1.0)
    ivon = IVON(model.params, lr=0.1, ess=float(mask.sum()), weight_decay=1e-4)

    def adamw_step():
        _, grads = model.loss_and_grad(tok, tg, mask)
        adamw.step(model.params, grads)
        lap("adamw")

    def ivon_step():
        ivon.perturb(model.params, rng)
        lap("ivon.perturb")
        _, grads = model.loss_and_grad(tok, tg, mask)
        ivon.step(model.params, grads)
        lap("ivon.update")

    def probs(models):
        """``ensemble_probs`` step by step, so that each part gets its own lap."""
        for m in models:
            z = m.logits_at(test, pos)
            lap("logits_at (rest)")
            softmax(z.astype(np.float64))
            lap("softmax (float64)")

    def ivon_predictive():
        draw = Transformer(cfg, ivon.sample(model.params, rng))
        lap("ivon.sample")
        probs([draw])

    checkpoints = [Transformer(cfg, {k: v + np.float32(0.01 * i) for k, v in model.params.items()}) for i in range(5)]
    ensemble_probs(checkpoints, test, pos)          # the path itself runs (argument checks included)

    def checkpoint_probs():
        probs(checkpoints)

    def laplace(structure):
        def fit():
            la.fit_transformer_laplace(model, tok, mask, 1.0, structure)
            lap(f"laplace.{structure}")
        return fit

    post = la.fit_transformer_laplace(model, tok, mask, 1.0, "full")
    feats = model.features_at(test, pos) if hasattr(model, "features_at") else model.features(test)[np.arange(len(test)), pos]

    def laplace_predict():
        post.predictive_samples(feats, rng, 32)
        lap("laplace.samples")

    out = {}
    with single_threaded_blas():
        for key, fn, per in [("adamw_step", adamw_step, 1), ("ivon_step", ivon_step, 1),
                             ("ivon_predictive", ivon_predictive, 1), ("checkpoints", checkpoint_probs, 5),
                             ("laplace_fit", laplace("full"), 1), ("laplace_kfac", laplace("kfac"), 1),
                             ("laplace_predict", laplace_predict, 1)]:
            sec, prof = timed(fn, repeats)
            out[key] = {"seconds": sec / per, "per": "checkpoint" if per > 1 else "call", "profile": prof}
    out["ivon_over_adamw"] = out["ivon_step"]["seconds"] / out["adamw_step"]["seconds"]
    out["test_rows"] = int(len(test))
    return out


def main():
    args = ARGS
    res = {"threads": args.threads, "numpy": np.__version__, "load_average_1min_before": os.getloadavg()[0],
           "configs": {n: paths(n, args.repeats) for n in args.configs}}
    res["load_average_1min_after"] = os.getloadavg()[0]
    for name, r in res["configs"].items():
        print(f"{name}: IVON step / AdamW step {r['ivon_over_adamw']:.2f} ({r['test_rows']} scored test rows)")
        for key, v in r.items():
            if not isinstance(v, dict):
                continue
            top = ", ".join(f"{op} {p['share'] * 100:.0f}%" for op, p in list(v["profile"].items())[:4])
            print(f"  {key:<16} {1e3 * v['seconds']:9.2f} ms per {v['per']:<10}  {top}")
    atomic_write_json(args.json, res, indent=2)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
