"""Benchmark: the NumPy transformer's training step vs PyTorch CPU, a float32 GEMM roofline, a
float64 parity check against a PyTorch twin built from the same weights, a per-operation profile,
and the peak resident memory of a step.

Configs:
  mod97 - Nanda's 1-layer model (d 128, 4 heads, d_mlp 512, no LayerNorm, learned positions,
          untied unembedding, 97 classes) on the full training batch of mod-97 addition at train
          fraction 0.3 (2822 sequences of 3 tokens; loss at the last position);
  icl   - 2-layer pre-LN RoPE model, d 128, 4 heads, d_mlp 512, tied embeddings, p = 29, 32 examples
          per sequence (96 tokens), batch 256, loss on every z position;
  lm    - causal LM: 4-layer pre-LN RoPE model, d 128, 4 heads, d_mlp 512, tied embeddings,
          vocabulary 2500, context 64, batch 64 sequences of random tokens, loss at every position.
Step = forward + backward + AdamW.  Both frameworks use the same number of threads (``--threads``,
default: all cores; OpenBLAS and Numba via environment variables set before import); blocks of
steps of the two alternate (two rounds) so that a change of machine load hits both.  ``step_gflops_*`` counts the nominal
matmul FLOPs of the full step (every row of every block, the whole T x T score matrix; forward
2mnk per GEMM, backward twice that) and ``gemm_fraction`` compares it with a plain float32 4096^2
GEMM in the same run (the faster of OpenBLAS's own threading and the model's row split).  The profile table charges each operation of the NumPy step its wall time
and the FLOPs it executes (``grokphase.validation.nn._profile``).  Peak memory: each config's step
runs in a fresh subprocess without PyTorch (``ru_maxrss``; ``baseline`` is the process before the
model is built).  Hooks: the LM forward with hooks off and on, relative to plain ``logits``.  The
machine load (1-minute load average) is recorded before and after.  PyTorch
is optional (``pip install torch==2.13.0``); without it the PyTorch column and parity are skipped.

Run:  python benchmarks/bench_transformer.py [--threads N] [--repeats R] [--json PATH] [--configs ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

CONFIGS = ("mod97", "icl", "lm")


def _args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "bench_transformer.json"))
    ap.add_argument("--memory-of", choices=CONFIGS, help=argparse.SUPPRESS)  # subprocess mode
    return ap.parse_args()


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

from grokphase._io import atomic_write_json  # noqa: E402
from grokphase.validation.nn import Transformer, TransformerConfig  # noqa: E402
from grokphase.validation.nn._profile import lap, profiling  # noqa: E402
from grokphase.validation.optim import AdamW  # noqa: E402
from grokphase.validation.tasks import make_icl_tasks, modular_dataset  # noqa: E402

torch = None
if ARGS is not None and ARGS.memory_of is None:
    try:
        import torch
    except ImportError:  # optional benchmark dependency
        torch = None


# ----------------------------------------------------------------------------- workloads
def workload(name: str, dtype: str = "float32"):
    rng = np.random.default_rng(0)
    if name == "mod97":
        ds = modular_dataset(97, "add", 0.3, seed=0)
        cfg = TransformerConfig(vocab_size=ds.vocab_size, d_model=128, n_layers=1, n_heads=4, d_mlp=512,
                                max_len=3, n_out=97, dtype=dtype, seed=0)
        tok, lab = ds.split("train")
        tg = np.zeros_like(tok)
        tg[:, -1] = lab
        mask = np.zeros(tok.shape, bool)
        mask[:, -1] = True
    elif name == "icl":
        tasks = make_icl_tasks(29, 32, 0.5, seed=0)
        cfg = TransformerConfig(vocab_size=29, d_model=128, n_layers=2, n_heads=4, d_mlp=512, max_len=96,
                                rope=True, layernorm=True, tie_embeddings=True, pos_embed=False,
                                mlp_bias=False, init_std=0.02, scale_residual=True, dtype=dtype, seed=0)
        tok, tg, mask, _ = tasks.batch(rng, "id_train", 2, 32)    # 2 sequences x T = 128 tasks = 256 rows
    else:
        V, T, B = 2500, 64, 64
        cfg = TransformerConfig(vocab_size=V, d_model=128, n_layers=4, n_heads=4, d_mlp=512, max_len=T,
                                rope=True, layernorm=True, tie_embeddings=True, pos_embed=False,
                                mlp_bias=False, init_std=0.02, scale_residual=True, dtype=dtype, seed=0)
        stream = rng.integers(0, V, size=(B, T + 1))
        tok, tg = stream[:, :-1], stream[:, 1:]
        mask = np.ones(tok.shape, bool)
    return cfg, tok, tg, mask


def matmul_flops(cfg, tok, mask) -> float:
    """Nominal matmul FLOPs of one training step (forward + backward = 3x forward)."""
    B, T = tok.shape
    N, D, F = B * T, cfg.d_model, cfg.d_mlp
    per_layer = 2 * N * D * 3 * D + 2 * 2 * B * T * T * D + 2 * N * D * D + 2 * 2 * N * D * F
    M = int(mask.sum())
    fwd = cfg.n_layers * per_layer + 2 * M * D * cfg.outputs
    return 3.0 * fwd


def numpy_stepper(cfg, tok, tg, mask):
    model = Transformer(cfg)
    opt = AdamW(model.params, lr=1e-3, betas=(0.9, 0.98), weight_decay=1.0)

    def step():
        loss, grads = model.loss_and_grad(tok, tg, mask)
        lap("step (forward+backward)")
        opt.step(model.params, grads)
        lap("adamw")
    return step


# ----------------------------------------------------------------------------- PyTorch twin
def torch_loss(params: dict, cfg, tok, tg, mask):
    """The same network in PyTorch (functional, from our parameter dict of tensors)."""
    import torch.nn.functional as Fn

    p = params
    B, T = tok.shape
    H, D = cfg.n_heads, cfg.d_model
    dh = D // H
    x = p["embed"][tok]
    if cfg.pos_embed:
        x = x + p["pos_embed"][:T]
    if cfg.rope:
        half = dh // 2
        freq = 10000.0 ** (-torch.arange(half, dtype=torch.float64) * 2.0 / dh)
        ang = torch.arange(T, dtype=torch.float64)[:, None] * freq[None, :]
        ang = torch.cat([ang, ang], dim=1)
        cos, sin = torch.cos(ang).to(x.dtype), torch.sin(ang).to(x.dtype)

        def rot(a):
            return a * cos + torch.cat([-a[..., half:], a[..., :half]], dim=-1) * sin
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for i in range(cfg.n_layers):
        b = f"blocks.{i}."
        h = Fn.layer_norm(x, (D,), p[b + "ln1.w"], p[b + "ln1.b"], eps=1e-5) if cfg.layernorm else x
        q = (h @ p[b + "attn.W_Q"]).view(B, T, H, dh).transpose(1, 2)
        k = (h @ p[b + "attn.W_K"]).view(B, T, H, dh).transpose(1, 2)
        v = (h @ p[b + "attn.W_V"]).view(B, T, H, dh).transpose(1, 2)
        if cfg.rope:
            q, k = rot(q), rot(k)
        s = (q @ k.transpose(-1, -2)) / dh ** 0.5
        a = torch.softmax(s.masked_fill(~causal, float("-inf")), dim=-1)
        z = (a @ v).transpose(1, 2).reshape(B, T, D)
        x = x + z @ p[b + "attn.W_O"]
        h = Fn.layer_norm(x, (D,), p[b + "ln2.w"], p[b + "ln2.b"], eps=1e-5) if cfg.layernorm else x
        pre = h @ p[b + "mlp.W_in"]
        if cfg.mlp_bias:
            pre = pre + p[b + "mlp.b_in"]
        out = torch.relu(pre) @ p[b + "mlp.W_out"]
        if cfg.mlp_bias:
            out = out + p[b + "mlp.b_out"]
        x = x + out
    if cfg.layernorm:
        x = Fn.layer_norm(x, (D,), p["ln_final.w"], p["ln_final.b"], eps=1e-5)
    W_U = p["embed"].T if cfg.tie_embeddings else p["unembed"]
    m = torch.as_tensor(mask)
    logits = x[m] @ W_U
    return Fn.cross_entropy(logits.double(), torch.as_tensor(tg)[m])


def torch_stepper(cfg, tok, tg, mask):
    model = Transformer(cfg)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    opt = torch.optim.AdamW(list(params.values()), lr=1e-3, betas=(0.9, 0.98), weight_decay=1.0)
    tok_t = torch.as_tensor(tok)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch_loss(params, cfg, tok_t, tg, mask)
        loss.backward()
        opt.step()
    return step


def parity(name):
    """float64: our loss and gradients vs the PyTorch twin from the same weights."""
    cfg, tok, tg, mask = workload(name, "float64")
    model = Transformer(cfg)
    loss, grads = model.loss_and_grad(tok, tg, mask)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    tl_t = torch_loss(params, cfg, torch.as_tensor(tok), tg, mask)
    tl_t.backward()
    tl = tl_t.detach()
    rel = max(float(np.linalg.norm(grads[k] - params[k].grad.numpy()) / max(1e-300, np.linalg.norm(params[k].grad.numpy())))
              for k in params)
    return {"loss_numpy": loss, "loss_torch": float(tl), "loss_rel_err": abs(loss - float(tl)) / abs(float(tl)),
            "max_grad_rel_err": rel}


# ----------------------------------------------------------------------------- measurements
def gemm_gflops(n=4096, repeats=5) -> dict:
    """float32 n^2 GEMM rate, GFLOP/s: OpenBLAS with its own threads ('openblas_threads') and as
    the model runs its products (rows split over the model's threads, one-thread BLAS each:
    'split_rows', when this version of the model has them); 'best' is the roofline used."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = a.T.copy()
    c = np.empty_like(a)
    ways = {"openblas_threads": lambda: np.matmul(a, b, out=c)}
    try:
        from grokphase.validation.nn import _parallel
    except ImportError:
        _parallel = None
    if _parallel is not None and hasattr(_parallel, "matmul"):
        def split():
            with _parallel.single_threaded_blas():
                _parallel.matmul(a, b, c)
        ways["split_rows"] = split
    out = {}
    for name, f in ways.items():
        f()
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
        out[name] = 2 * n**3 / statistics.median(ts) / 1e9
    out["best"] = max(out.values())
    return out


def time_steps(steppers: dict, repeats: int, rounds: int = 2) -> dict:
    """Median seconds per step of each stepper over ``rounds`` rounds; a round runs ``repeats``
    steps of each stepper in turn, after one discarded step (so that neither framework's worker
    threads, which spin for a while after their last call, are timed against the other)."""
    times = {k: [] for k in steppers}
    for _ in range(rounds):
        for k, step in steppers.items():
            step()
            for _ in range(repeats):
                t0 = time.perf_counter()
                step()
                times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def profile_table(step, repeats: int, gemm: float) -> dict:
    """Per-operation time and FLOPs of the NumPy step, averaged over ``repeats`` steps."""
    step()
    with profiling() as table:
        for _ in range(repeats):
            step()
    total = sum(r[0] for r in table.values())
    out = {}
    for name, (sec, flops, _) in sorted(table.items(), key=lambda kv: -kv[1][0]):
        s, f = sec / repeats, flops / repeats
        out[name] = {"ms_per_step": 1e3 * s, "share": sec / total, "gflop_per_step": f / 1e9,
                     "gflops": f / s / 1e9 if f else None, "gemm_fraction": f / s / 1e9 / gemm if f else None}
    return out


def _peak_rss_mib() -> float:
    """The process's resident-memory high-water mark (VmHWM; ru_maxrss survives exec on Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hook_costs(repeats: int) -> dict:
    """LM evaluation forward: plain ``logits`` vs ``run_with_hooks`` with nothing requested (the
    hooks off: must cost nothing) and with every residual stream and attention pattern recorded."""
    cfg, tok, _, _ = workload("lm")
    model = Transformer(cfg)
    runs = {"logits": lambda: model.logits(tok), "hooks_off": lambda: model.run_with_hooks(tok),
            "hooks_on": lambda: model.run_with_hooks(tok, resid=True, attention=True)}
    t = time_steps(runs, repeats)
    return {"forward_seconds": t, "hooks_off_over_logits": t["hooks_off"] / t["logits"],
            "hooks_on_over_logits": t["hooks_on"] / t["logits"]}


def memory_of(name: str) -> dict:
    """Peak resident memory (MiB) of a fresh process running three steps of ``name``."""
    cfg, tok, tg, mask = workload(name)
    base = _peak_rss_mib()
    step = numpy_stepper(cfg, tok, tg, mask)
    for _ in range(3):
        step()
    peak = _peak_rss_mib()
    return {"baseline_rss_mib": base, "peak_rss_mib": peak, "step_rss_mib": peak - base}


def measure_memory(name: str, threads: int) -> dict:
    res = subprocess.run([sys.executable, __file__, "--threads", str(threads), "--memory-of", name],
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def print_profile(name, prof, gemm):
    print(f"  profile {name} (GEMM {gemm:.0f} GFLOP/s):")
    print(f"    {'operation':<26} {'ms/step':>8} {'share':>6} {'GFLOP':>7} {'GFLOP/s':>8} {'of GEMM':>7}")
    for op, r in prof.items():
        gf = "" if r["gflops"] is None else f"{r['gflops']:8.1f}"
        fr = "" if r["gemm_fraction"] is None else f"{100 * r['gemm_fraction']:6.0f}%"
        print(f"    {op:<26} {r['ms_per_step']:8.2f} {100 * r['share']:5.1f}% {r['gflop_per_step']:7.3f} {gf:>8} {fr:>7}")


def main():
    args = ARGS
    if args.memory_of:
        print(json.dumps(memory_of(args.memory_of)))
        return 0
    if torch is not None:
        torch.set_num_threads(args.threads)
    out = {"threads": args.threads, "torch": None if torch is None else torch.__version__,
           "numpy": np.__version__, "load_average_1min_before": os.getloadavg()[0],
           "gemm_float32_gflops_by_way": gemm_gflops(), "configs": {}}
    gemm = out["gemm_float32_gflops"] = out["gemm_float32_gflops_by_way"]["best"]
    for name in args.configs:
        cfg, tok, tg, mask = workload(name)
        flops = matmul_flops(cfg, tok, mask)
        steppers = {"numpy": numpy_stepper(cfg, tok, tg, mask)}
        if torch is not None:
            steppers["torch"] = torch_stepper(cfg, tok, tg, mask)
        t = time_steps(steppers, args.repeats)
        t_np = t["numpy"]
        row = {"batch": list(tok.shape), "load_average_1min": os.getloadavg()[0], "gemm_float32_gflops": gemm,
               "step_seconds_numpy": t_np,
               "step_gflops_numpy": flops / t_np / 1e9, "gemm_fraction": flops / t_np / 1e9 / gemm,
               "matmul_gflop_per_step": flops / 1e9}
        if torch is not None:
            row.update(step_seconds_torch=t["torch"], step_rate_ratio_numpy_over_torch=t["torch"] / t_np,
                       step_gflops_torch=flops / t["torch"] / 1e9, parity_float64=parity(name))
        row["profile"] = profile_table(steppers["numpy"], max(3, args.repeats // 2), gemm)
        row["memory"] = measure_memory(name, args.threads)
        out["configs"][name] = row
    if "lm" in args.configs and hasattr(Transformer, "run_with_hooks"):   # (absent in older versions)
        out["configs"]["lm"]["hooks"] = hook_costs(args.repeats)
    out["load_average_1min_after"] = os.getloadavg()[0]
    print(f"threads {args.threads}; float32 GEMM {gemm:.1f} GFLOP/s; torch {out['torch']}; load "
          f"{out['load_average_1min_before']:.2f} -> {out['load_average_1min_after']:.2f}")
    print(f"{'config':>6} {'numpy s/step':>12} {'torch s/step':>12} {'rate ratio':>10} {'numpy GF/s':>10} "
          f"{'of GEMM':>7} {'grad parity':>11} {'peak MiB':>8}")
    for name, r in out["configs"].items():
        tt = r.get("step_seconds_torch", float("nan"))
        ratio = r.get("step_rate_ratio_numpy_over_torch", float("nan"))
        par = r.get("parity_float64", {}).get("max_grad_rel_err", float("nan"))
        print(f"{name:>6} {r['step_seconds_numpy']:>12.4f} {tt:>12.4f} {ratio:>10.2f} {r['step_gflops_numpy']:>10.1f} "
              f"{100 * r['gemm_fraction']:>6.0f}% {par:>11.2e} {r['memory']['peak_rss_mib']:>8.0f}")
    if "hooks" in out["configs"].get("lm", {}):
        h = out["configs"]["lm"]["hooks"]
        print(f"lm forward: hooks off / logits {h['hooks_off_over_logits']:.3f}, all hooks on / logits "
              f"{h['hooks_on_over_logits']:.3f}")
    for name, r in out["configs"].items():
        print_profile(name, r["profile"], gemm)
    atomic_write_json(args.json, out, indent=2)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
