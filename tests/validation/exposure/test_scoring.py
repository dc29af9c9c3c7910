"""Scoring conventions on hand-computed log-probabilities; models_summary layout against BLiMP's file."""

import json
import math

import numpy as np
import pytest

from grokphase.validation.exposure.minimal_pairs import MinimalPair
from grokphase.validation.exposure.scoring import models_summary, pairs_for_method, score_pairs
from grokphase.validation.exposure.scoring import ScoreResult
from grokphase.validation.exposure.tokenizer import WordTokenizer

TOK = WordTokenizer(["the", "dog", "dogs", "runs", "run", "a", "b", "c", "."])
ID = {w: i for i, w in enumerate(TOK.vocab)}
COST = {ID["the"]: 1.0, ID["dog"]: 2.0, ID["dogs"]: 3.0, ID["runs"]: 0.5, ID["run"]: 1.5,
        ID["a"]: 1.0, ID["b"]: 1.0, ID["c"]: 2.0, ID["."]: 0.25}
SEEN = []


def lp_fn(seqs):
    """log p(s[t] | s[:t]) = -cost(s[t]), minus 4 more for "runs" right after "dogs"."""
    SEEN.extend(seqs)
    out = []
    for s in seqs:
        out.append([-COST[s[t]] - (4.0 if (s[t], s[t - 1]) == (ID["runs"], ID["dogs"]) else 0.0)
                    for t in range(1, len(s))])
    return out


def mk(good, bad, uid="u", term="t", **kw):
    return MinimalPair(sentence_good=good, sentence_bad=bad, field="f", linguistics_term=term, UID=uid,
                       simple_LM_method=True, one_prefix_method="one_prefix_prefix" in kw,
                       two_prefix_method="two_prefix_word" in kw, lexically_identical=False, pairID="0", **kw)


def test_sum_and_mean_by_hand():
    SEEN.clear()
    p = mk("the dogs run.", "the dogs runs.")           # good: -(1+3+1.5+.25) = -5.75; bad -(1+3+.5+4+.25)
    q = mk("a b b.", "c.")                               # sum: -3.25 < -2.25 (wrong); mean: -.8125 > -1.125
    r = score_pairs([p, q], lp_fn, TOK, prefix_id=0)
    assert r.score_good.tolist() == [-5.75, -3.25] and r.score_bad.tolist() == [-8.75, -2.25]
    assert r.correct.tolist() == [True, False] and r.acc == 0.5
    assert all(s[0] == 0 for s in SEEN)                  # every sequence starts with the prefix id
    m = score_pairs([p, q], lp_fn, TOK, prefix_id=0, method="mean")
    assert m.score_good.tolist() == [-5.75 / 4, -3.25 / 4] and m.correct.tolist() == [True, True]


def test_prefix_methods_by_hand():
    one = mk("the dogs run.", "the dogs runs.", one_prefix_prefix="the dogs",
             one_prefix_word_good="run", one_prefix_word_bad="runs")
    two = mk("the dogs run.", "the dog run.", two_prefix_prefix_good="the dogs",
             two_prefix_prefix_bad="the dog", two_prefix_word=" run")   # BLiMP's leading space
    r1 = score_pairs([one], lp_fn, TOK, prefix_id=0, method="one_prefix")
    assert (r1.score_good[0], r1.score_bad[0]) == (-1.5, -4.5)
    r2 = score_pairs([two], lp_fn, TOK, prefix_id=0, method="two_prefix")
    assert (r2.score_good[0], r2.score_bad[0], r2.tie[0], r2.correct[0]) == (-1.5, -1.5, True, False)
    crit = mk("the dogs run.", "the dogs runs.", critical_index=2, context_index=1)
    r3 = score_pairs([crit], lp_fn, TOK, prefix_id=0, method="critical_margin")
    assert r3.margin.tolist() == [3.0] and r3.correct.all()
    with pytest.raises(ValueError, match="does not apply"):
        score_pairs([one], lp_fn, TOK, prefix_id=0, method="two_prefix")
    assert pairs_for_method([one, two, crit], "one_prefix") == [one]


def test_logprob_fn_output_is_checked():
    p = [mk("the dog.", "the dogs.")]
    with pytest.raises(ValueError, match=r"shape \(2,\) .* expected \(3,\)"):
        score_pairs(p, lambda seqs: [np.zeros(len(s) - 2) for s in seqs], TOK, prefix_id=0)
    with pytest.raises(ValueError, match="non-finite"):
        score_pairs(p, lambda seqs: [np.full(len(s) - 1, -np.inf) for s in seqs], TOK, prefix_id=0)
    with pytest.raises(ValueError, match="returned 1 arrays for 2"):
        score_pairs(p, lambda seqs: [np.zeros(3)], TOK, prefix_id=0)
    with pytest.raises(ValueError, match="method"):
        score_pairs(p, lp_fn, TOK, prefix_id=0, method="max")
    with pytest.raises(ValueError, match="int ids"):
        score_pairs(p, lp_fn, lambda s: [0.5], prefix_id=0)


def test_by_uid_and_summary_layout(blimp_dir):
    """Pairs whose correctness reproduces BLiMP's published n-gram accuracies give back its
    per-phenomenon and overall rows (means over UIDs, s-selection counted as argument_structure)."""
    rows = [json.loads(line) for line in (blimp_dir / "models_summary.jsonl").read_text().splitlines()]
    per_uid = [r for r in rows if r["UID"] != "overall"]
    terms = {}
    for f in blimp_dir.glob("*.jsonl"):
        if f.name != "models_summary.jsonl":
            terms[f.stem] = json.loads(f.open().readline())["linguistics_term"]
    uid, term, correct = [], [], []
    for r in per_uid:
        k = int(round(r["ngram"] * 1000))
        uid += [r["UID"]] * 1000
        term += [terms[r["UID"]]] * 1000
        correct += [True] * k + [False] * (1000 - k)
    c = np.array(correct)
    res = ScoreResult("sum", np.array(uid), np.array(["0"] * len(uid)), np.array(term),
                      c.astype(float), np.zeros(c.size), c, np.zeros(c.size, bool))
    assert res.by_uid()["blimp_causative"]["acc"] == 0.535
    ours = models_summary({"ngram": res})
    assert [(r["UID"], r["linguistics_term"]) for r in ours] == [(r["UID"], r["linguistics_term"]) for r in rows]
    for a, b in zip(ours, rows):
        assert math.isclose(a["ngram"], b["ngram"], abs_tol=1e-9), (a, b)


def test_methods_share_one_pass_and_prefixes():
    from grokphase.validation.exposure.scoring import score_methods

    SEEN.clear()
    p = mk("the dogs run.", "the dogs runs.", critical_index=2, context_index=1, one_prefix_prefix="the dogs",
           one_prefix_word_good="run", one_prefix_word_bad="runs")
    out = score_methods([p], lp_fn, TOK, prefix_id=0, methods=("sum", "one_prefix", "critical_margin"))
    # the prefix queries ([0, the, dogs, run] ...) are prefixes of the sentences: only these are asked for
    assert sorted(map(tuple, SEEN)) == sorted([(0, ID["the"], ID["dogs"], ID["run"], ID["."]),
                                               (0, ID["the"], ID["dogs"], ID["runs"], ID["."])])
    assert out["one_prefix"].score_good[0] == -1.5 and out["critical_margin"].margin[0] == 3.0
    assert out["sum"].score_good[0] == score_pairs([p], lp_fn, TOK, prefix_id=0).score_good[0]
