"""Benchmark: the NumPy transformer's training step vs PyTorch CPU, a float32 GEMM roofline, and a
float64 parity check against a PyTorch twin built from the same weights.

Configs:
  mod97 - Nanda's 1-layer model (d 128, 4 heads, d_mlp 512, no LayerNorm, learned positions,
          untied unembedding, 97 classes) on the full training batch of mod-97 addition at train
          fraction 0.3 (2822 sequences of 3 tokens; loss at the last position);
  icl   - 2-layer pre-LN RoPE model, d 128, 4 heads, d_mlp 512, tied embeddings, p = 29, 32 examples
          per sequence (96 tokens), batch 256, loss on every z position.
Step = forward + backward + AdamW.  Both frameworks use the same number of threads (``--threads``,
default: all cores; NumPy's OpenBLAS via threadpool environment variables set before import).
GFLOP/s counts the matmul FLOPs of the step (forward 2mnk per GEMM, backward twice that) and is
compared with a plain float32 4096^2 GEMM in the same run.  PyTorch is optional
(``pip install torch==2.13.0``); without it the PyTorch column and the parity check are skipped.

Run:  python benchmarks/bench_transformer.py [--threads N] [--repeats R] [--json PATH]
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
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "bench_transformer.json"))
    return ap.parse_args()


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

from grokphase.validation.nn import Transformer, TransformerConfig  # noqa: E402
from grokphase.validation.optim import AdamW  # noqa: E402
from grokphase.validation.tasks import make_icl_tasks, modular_dataset  # noqa: E402

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
    else:
        tasks = make_icl_tasks(29, 32, 0.5, seed=0)
        cfg = TransformerConfig(vocab_size=29, d_model=128, n_layers=2, n_heads=4, d_mlp=512, max_len=96,
                                rope=True, layernorm=True, tie_embeddings=True, pos_embed=False,
                                mlp_bias=False, init_std=0.02, scale_residual=True, dtype=dtype, seed=0)
        tok, tg, mask, _ = tasks.batch(rng, "id_train", 256, 32)
    return cfg, tok, tg, mask


def matmul_flops(cfg, tok, mask) -> float:
    """Matmul FLOPs of one training step (forward + backward = 3x forward)."""
    B, T = tok.shape
    N, D, F = B * T, cfg.d_model, cfg.d_mlp
    per_layer = 2 * N * D * 3 * D + 2 * 2 * B * T * T * D + 2 * N * D * D + 2 * 2 * N * D * F
    M = int(mask.sum())
    fwd = cfg.n_layers * per_layer + 2 * M * D * cfg.outputs
    return 3.0 * fwd


def time_numpy_step(cfg, tok, tg, mask, repeats):
    model = Transformer(cfg)
    opt = AdamW(model.params, lr=1e-3, betas=(0.9, 0.98), weight_decay=1.0)
    parts = {"forward+backward": [], "adamw": []}
    for i in range(repeats + 2):
        t0 = time.perf_counter()
        loss, grads = model.loss_and_grad(tok, tg, mask)
        t1 = time.perf_counter()
        opt.step(model.params, grads)
        t2 = time.perf_counter()
        if i >= 2:
            parts["forward+backward"].append(t1 - t0)
            parts["adamw"].append(t2 - t1)
    med = {k: statistics.median(v) for k, v in parts.items()}
    return sum(med.values()), med


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


def time_torch_step(cfg, tok, tg, mask, repeats):
    model = Transformer(cfg)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    opt = torch.optim.AdamW(list(params.values()), lr=1e-3, betas=(0.9, 0.98), weight_decay=1.0)
    tok_t, times = torch.as_tensor(tok), []
    for i in range(repeats + 2):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = torch_loss(params, cfg, tok_t, tg, mask)
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


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


def gemm_gflops(n=4096, repeats=5):
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = a.T.copy()
    a @ b
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        ts.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(ts) / 1e9


def main():
    args = ARGS
    if torch is not None:
        torch.set_num_threads(args.threads)
    out = {"threads": args.threads, "torch": None if torch is None else torch.__version__,
           "numpy": np.__version__, "gemm_float32_gflops": gemm_gflops(), "configs": {}}
    for name in ("mod97", "icl"):
        cfg, tok, tg, mask = workload(name)
        flops = matmul_flops(cfg, tok, mask)
        t_np, parts = time_numpy_step(cfg, tok, tg, mask, args.repeats)
        row = {"batch": list(tok.shape), "step_seconds_numpy": t_np, "numpy_parts": parts,
               "step_gflops_numpy": flops / t_np / 1e9, "matmul_gflop_per_step": flops / 1e9}
        if torch is not None:
            t_t = time_torch_step(cfg, tok, tg, mask, args.repeats)
            row.update(step_seconds_torch=t_t, step_rate_ratio_numpy_over_torch=t_t / t_np,
                       step_gflops_torch=flops / t_t / 1e9, parity_float64=parity(name))
        out["configs"][name] = row
    print(f"threads {args.threads}; float32 GEMM {out['gemm_float32_gflops']:.1f} GFLOP/s; torch {out['torch']}")
    print(f"{'config':>6} {'numpy s/step':>12} {'torch s/step':>12} {'rate ratio':>10} {'numpy GF/s':>10} {'grad parity':>11}")
    for name, r in out["configs"].items():
        tt = r.get("step_seconds_torch", float("nan"))
        ratio = r.get("step_rate_ratio_numpy_over_torch", float("nan"))
        par = r.get("parity_float64", {}).get("max_grad_rel_err", float("nan"))
        print(f"{name:>6} {r['step_seconds_numpy']:>12.4f} {tt:>12.4f} {ratio:>10.2f} {r['step_gflops_numpy']:>10.1f} {par:>11.2e}")
        print("       numpy parts: " + ", ".join(f"{k} {v:.4f} s" for k, v in r["numpy_parts"].items()))
    from grokphase._io import atomic_write_json  # numpy is imported (after the thread settings) by now

    print(f"wrote {atomic_write_json(args.json, out, indent=2)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
