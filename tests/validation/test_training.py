"""Training loop: determinism, bit-for-bit resume, dtype preservation, and a small grokking run."""

import json

import numpy as np

from grokphase.validation.experiments.modular_grokking import PRESETS, milestones, run_modular
from grokphase.validation.nn import Transformer, TransformerConfig
from grokphase.validation.optim import AdamW, warmup_cosine
from grokphase.validation.tasks import copy_batch
from grokphase.validation.training import TrainConfig, train

CFG = TransformerConfig(vocab_size=11, d_model=16, n_layers=2, n_heads=2, d_mlp=32, max_len=6,
                        dropout=0.1, layernorm=True, rope=True, pos_embed=False, seed=4)


def _run(tmp, steps, resume):
    model = Transformer(CFG)
    opt = AdamW(model.params, lr=3e-3, betas=(0.9, 0.98), weight_decay=0.1)
    res = train(model, opt, lambda step, rng: copy_batch(rng, 8, 6, 11),
                TrainConfig(steps=steps, log_every=5, checkpoint_every=7, seed=1, clip=1.0),
                run_dir=tmp, schedule=lambda s: warmup_cosine(s, warmup=3, total=20, start=0.1, final=0.1),
                resume=resume, progress=False)
    return model, res


def test_same_seed_same_run_and_dtype_preserved(tmp_path):
    m1, r1 = _run(tmp_path / "a", 20, False)
    m2, r2 = _run(tmp_path / "b", 20, False)
    assert [r["batch_loss"] for r in r1["metrics"]] == [r["batch_loss"] for r in r2["metrics"]]
    for k in m1.params:
        assert np.array_equal(m1.params[k], m2.params[k])
        assert m1.params[k].dtype == np.float32
    loss, grads = m1.loss_and_grad(*copy_batch(np.random.default_rng(0), 4, 6, 11))
    assert all(g.dtype == np.float32 for g in grads.values())
    assert m1.logits(np.zeros((1, 6), int)).dtype == np.float32


def test_resume_continues_bit_for_bit(tmp_path):
    full, r_full = _run(tmp_path / "full", 20, False)
    _run(tmp_path / "part", 14, False)            # stops after the checkpoint at step 14
    resumed, r_res = _run(tmp_path / "part", 20, True)
    for k in full.params:
        assert np.array_equal(full.params[k], resumed.params[k]), k
    a = [(r["step"], r["batch_loss"]) for r in r_full["metrics"]]
    b = [(r["step"], r["batch_loss"]) for r in r_res["metrics"]]
    assert a == b


def test_small_modular_run_memorises_then_groks(tmp_path):
    """p = 31 addition: train accuracy reaches 0.99 well before test accuracy reaches 0.95, and
    test accuracy is still low at memorisation (delayed generalisation)."""
    s = run_modular(PRESETS["smoke31"], tmp_path, resume=False, progress=False)
    assert s["memorisation_step"] is not None and s["grokking_step"] is not None
    assert s["grokking_step"] >= 3 * s["memorisation_step"]
    metrics = [json.loads(ln) for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    at_mem = next(r for r in metrics if r["step"] == s["memorisation_step"])
    assert at_mem["test_acc"] < 0.5
    assert s["final"]["test_acc"] > 0.95
    assert milestones(metrics) == {k: s[k] for k in ("memorisation_step", "grokking_step")}
