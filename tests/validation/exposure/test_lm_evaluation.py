"""Per-checkpoint evaluation of a pre-training run: records, reuse only with the same settings,
and agreement with scoring the same snapshot directly."""

import numpy as np
import pytest

from grokphase.validation.experiments.lm_evaluation import LMEvaluation, evaluate_run, load_records
from grokphase.validation.experiments.lm_pretraining import LMRun, model_config, read_run, run_lm_pretraining
from grokphase.validation.exposure.corpus import GrammarConfig, generate_corpus, load_corpus, write_corpus
from grokphase.validation.exposure.minimal_pairs import load_blimp
from grokphase.validation.exposure.scoring import score_pairs
from grokphase.validation.nn import Transformer


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, toy_lexicon):
    d = tmp_path_factory.mktemp("lm")
    write_corpus(generate_corpus(toy_lexicon, GrammarConfig(n_tokens=20_000, seed=0, pairs_per_group=12, block=8,
                                                            rare_counts=(1,))), d / "corpus")
    run = LMRun(corpus=str(d / "corpus"), d_model=16, n_layers=2, n_heads=2, context=16, batch=4, log_every=4,
                warmup=2, tokens=64 * 8)
    run_lm_pretraining(run, d / "run", progress=False)
    return d / "run"


def test_records_match_direct_scoring(run_dir):
    cfg = LMEvaluation(run_dir=str(run_dir), n_concept=4, n_repeats=2)
    paths = evaluate_run(cfg)
    recs = load_records(run_dir)
    assert [r["step"] for r in recs] == [0, 1, 2, 3, 4, 8] and len(paths) == 6
    run = read_run(run_dir)
    tokens, tok, meta = load_corpus(run.corpus)
    pairs = load_blimp(f"{run.corpus}/pairs")
    m = Transformer(model_config(run, len(tok)))
    with np.load(run_dir / "snapshots" / "step_00000008.npz") as z:
        for k in m.params:
            m.params[k][...] = z["param/" + k]
    direct = score_pairs(pairs, lambda s: m.sequence_logprobs(s), tok, prefix_id=0)
    assert recs[-1]["generated"]["correct"] == direct.correct.tolist()
    hc = recs[-1]["heads_concepts"]["grammar_det_noun"]
    mass = np.array(hc["head_mass"])
    assert mass.shape == (2, 2) and np.all((mass >= 0) & (mass <= 1))
    assert len(hc["concepts"]) == 2 and set(hc["concepts"][0]["observed"]) >= {"auc", "pr_unbiased"}
    assert evaluate_run(cfg) == paths                              # same settings: reused
    with pytest.raises(ValueError, match="another evaluation configuration"):
        evaluate_run(LMEvaluation(run_dir=str(run_dir), n_concept=5, n_repeats=2))


def test_summary(run_dir):
    from grokphase.validation.experiments.lm_evaluation import summarize_run

    evaluate_run(LMEvaluation(run_dir=str(run_dir), n_concept=4, n_repeats=2))
    s = summarize_run(run_dir, n_boot=20, n_random=3)
    ph = s["phenomena"]["grammar_det_noun"]
    assert set(ph["splits"]) == {"dynamic", "fixed"} and len(ph["splits"]["fixed"]["train"]["acc"]) == len(s["steps"])
    assert set(ph["delays"]) == {"0.8", "midpoint"} and len(ph["head_concentration"]) == len(s["steps"])
    assert ph["ablation"] is None or len(ph["ablation"]["acc_random"]) == 3
    assert "control_acc" in s["phenomena"]["grammar_irregular"]
    assert (run_dir / "summary_eval.json").is_file()
