"""Single-pass LM pre-training driver: the stream is consumed in order, resume is exact, and a
different configuration in the same folder is refused."""

from dataclasses import replace

import numpy as np
import pytest

from grokphase.validation.experiments.lm_pretraining import LMRun, read_run, run_lm_pretraining
from grokphase.validation.exposure.corpus import GrammarConfig, generate_corpus, write_corpus
from grokphase.validation.training import read_metrics


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory, toy_lexicon):
    d = tmp_path_factory.mktemp("corpus")
    write_corpus(generate_corpus(toy_lexicon, GrammarConfig(n_tokens=20_000, seed=0, pairs_per_group=4, block=8,
                                                    rare_counts=(1,))), d)
    return d


def tiny(corpus_dir, **kw):
    return LMRun(corpus=str(corpus_dir), d_model=16, n_layers=1, n_heads=2, context=8, batch=4,
                 log_every=4, checkpoint_every=3, warmup=2, **kw)


def test_resume_is_exact_and_snapshots_are_log_spaced(corpus_dir, tmp_path):
    run = tiny(corpus_dir, tokens=32 * 12)             # 12 steps of 32 tokens
    a = run_lm_pretraining(run, tmp_path / "a", progress=False)
    run_lm_pretraining(run, tmp_path / "b", progress=False, max_steps=5)
    b = run_lm_pretraining(run, tmp_path / "b", progress=False)
    assert a["steps"] == b["steps"] == 12 and a["tokens_per_step"] == 32
    la = [r["batch_loss"] for r in read_metrics(tmp_path / "a")]
    lb = [r["batch_loss"] for r in read_metrics(tmp_path / "b")]
    assert la[1:] == lb[1:]
    assert replace(read_run(tmp_path / "b"), checkpoint_every=run.checkpoint_every) == run   # not recorded
    snaps = sorted(p.name for p in (tmp_path / "a" / "snapshots").iterdir())
    assert snaps == [f"step_{s:08d}.npz" for s in (0, 1, 2, 3, 4, 8, 12)]
    with np.load(tmp_path / "a" / "snapshots" / "step_00000012.npz") as za, \
            np.load(tmp_path / "b" / "snapshots" / "step_00000012.npz") as zb:
        assert all(np.array_equal(za[k], zb[k]) for k in za.files)


def test_other_configuration_in_the_same_folder_is_refused(corpus_dir, tmp_path):
    run_lm_pretraining(tiny(corpus_dir, tokens=64), tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"lr"):
        run_lm_pretraining(tiny(corpus_dir, tokens=64, lr=5e-4), tmp_path, progress=False)
