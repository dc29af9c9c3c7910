"""Benchmark: exposure counting, NumPy rolling-hash backend vs Aho-Corasick (pyahocorasick) backend.

Workload: a 10 M token stream (Zipfian unigrams over 2,500 ids, documents of
50-500 tokens ended by an eos id) and 10,000 phrases: 9,000 substrings of the stream of length 2-8
with the eos removed (so many cross a document end and must not match there) and 1,000 random
phrases of length 1-4.  Each backend answers ``occurrences`` (every start offset) and the counts at
40 log-spaced checkpoints; the two answers must be identical.  Reported: seconds per backend (best of
``--repeats``) and the ratio aho / numpy (> 1: NumPy is faster).

Run:  python benchmarks/bench_exposure.py [--tokens N] [--phrases M] [--repeats R] [--json PATH]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from grokphase._io import atomic_write_json
from grokphase.validation.exposure import ExposureIndex


def workload(n_tokens: int, n_phrases: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    V, eos = 2500, 0
    p = 1.0 / np.arange(1, V) ** 1.05
    tokens = rng.choice(np.arange(1, V), size=n_tokens, p=p / p.sum()).astype(np.uint16)
    ends = np.cumsum(rng.integers(50, 500, n_tokens // 50))
    tokens[ends[ends < n_tokens]] = eos
    n_sub = int(0.9 * n_phrases)
    starts = rng.integers(0, n_tokens - 8, n_sub)
    lens = rng.integers(2, 9, n_sub)
    phrases = [[t for t in tokens[s:s + L].tolist() if t != eos] or [1] for s, L in zip(starts, lens)]
    phrases += [rng.integers(1, V, rng.integers(1, 5)).tolist() for _ in range(n_phrases - n_sub)]
    upto = np.unique(np.geomspace(1, n_tokens, 40).astype(np.int64))
    return tokens, phrases, upto, eos


def run(backend: str, tokens, phrases, upto, eos):
    idx = ExposureIndex(tokens, eos_id=eos, backend=backend)
    t0 = time.perf_counter()
    occ = idx.occurrences(phrases)
    counts = occ.counts(upto)
    return time.perf_counter() - t0, occ, counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=10_000_000)
    ap.add_argument("--phrases", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "bench_exposure.json"))
    args = ap.parse_args()
    tokens, phrases, upto, eos = workload(args.tokens, args.phrases)
    out = {"tokens": args.tokens, "phrases": len(phrases), "checkpoints": int(upto.size)}
    answers = {}
    for backend in ("numpy", "aho"):
        times = []
        for _ in range(args.repeats):
            dt, occ, counts = run(backend, tokens, phrases, upto, eos)
            times.append(dt)
        answers[backend] = (occ, counts)
        out[f"seconds_{backend}"] = min(times)
        print(f"{backend:>6}: {min(times):8.3f} s  ({occ.starts.size:,} occurrences)")
    (oa, ca), (ob, cb) = answers["numpy"], answers["aho"]
    out["identical"] = bool(np.array_equal(oa.indptr, ob.indptr) and np.array_equal(oa.starts, ob.starts)
                            and np.array_equal(ca, cb))
    out["occurrences"] = int(oa.starts.size)
    out["ratio_aho_over_numpy"] = out["seconds_aho"] / out["seconds_numpy"]
    print(f"identical: {out['identical']}   time ratio aho / numpy = {out['ratio_aho_over_numpy']:.2f}")
    atomic_write_json(args.json, out, indent=2)
    if not out["identical"]:
        raise SystemExit("the backends disagree")


if __name__ == "__main__":
    main()
