"""grokphase exposure count / corpus and grokphase blimp score, end to end on small inputs."""

import json

import numpy as np

from grokphase.cli import main
from grokphase.validation.exposure.tokenizer import WordTokenizer

REC = {"field": "morphology", "linguistics_term": "determiner_noun_agreement", "UID": "determiner_noun_agreement_1",
       "simple_LM_method": True, "one_prefix_method": False, "two_prefix_method": False,
       "lexically_identical": True}


def test_count_raw_stream_json_and_csv(tmp_path, capsys):
    np.array([5, 6, 6, 0, 6, 6, 6], dtype=np.uint16).tofile(tmp_path / "s.bin")
    (tmp_path / "p.txt").write_text("[6, 6]\n[5, 6]\n")
    assert main(["exposure", "count", "--stream", str(tmp_path / "s.bin"), "--eos", "0", "--phrases",
                 str(tmp_path / "p.txt"), "--steps", "0", "1", "2", "3", "--tokens-per-step", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["checkpoints"] == {"offset": [0, 3, 6, 7], "step": [0, 1, 2, 3]}
    assert [r["counts"] for r in out["rows"]] == [[0, 1, 2, 3], [0, 1, 1, 1]]
    assert [r["first_step"] for r in out["rows"]] == [1, 1]
    assert main(["exposure", "count", "--stream", str(tmp_path / "s.bin"), "--eos", "0", "--phrases",
                 str(tmp_path / "p.txt"), "--upto", "7", "--backend", "aho"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "phrase,ids,first_occurrence,upto_7" and lines[1] == '"[6, 6]",6 6,1,3'


def test_count_blimp_phrases_on_a_text_corpus(tmp_path, capsys):
    tok = WordTokenizer(["andrew", "helps", "that", "driver", "drivers", ".", "the"])
    tok.save(tmp_path / "vocab.json")
    (tmp_path / "c.jsonl").write_text('{"text": "andrew helps that driver ."}\n{"text": "that driver helps that driver"}\n')
    pair = dict(REC, sentence_good="Andrew helps that driver.", sentence_bad="Andrew helps that drivers.", pairID="0")
    (tmp_path / "b.jsonl").write_text(json.dumps(pair) + "\n")
    assert main(["exposure", "count", "--jsonl", str(tmp_path / "c.jsonl"), "--vocab", str(tmp_path / "vocab.json"),
                 "--blimp", str(tmp_path / "b.jsonl"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["which"], r["phrase"], r["counts"]) for r in rows] == [("good", "that driver", [3]), ("bad", "that drivers", [0])]


def test_count_errors_exit_2(tmp_path, capsys):
    np.zeros(4, np.uint16).tofile(tmp_path / "s.bin")
    (tmp_path / "p.txt").write_text("dog\n")
    assert main(["exposure", "count", "--stream", str(tmp_path / "s.bin"), "--phrases", str(tmp_path / "p.txt")]) == 2
    assert "needs --vocab" in capsys.readouterr().err
    assert main(["exposure", "count", "--stream", str(tmp_path / "s.bin"), "--phrases", str(tmp_path / "p.txt"),
                 "--steps", "1"]) == 2


def test_blimp_score_with_a_user_callback(tmp_path, capsys, monkeypatch):
    (tmp_path / "mymodel.py").write_text(
        "import numpy as np\nPREFIX_ID = 0\n"
        "def tokenize(s):\n    return [1 + (len(w) % 5) for w in s.split()]\n"
        "def logprob(seqs):\n    return [-np.asarray(s[1:], float) for s in seqs]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    good = dict(REC, sentence_good="a bb", sentence_bad="a bbb", pairID="0")       # tokens 2,3 vs 2,4
    bad = dict(REC, sentence_good="a bbb", sentence_bad="a bb", pairID="1")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "determiner_noun_agreement_1.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    assert main(["blimp", "score", "--data", str(tmp_path / "d"), "--logprob", "mymodel:logprob", "--json",
                 "--out", str(tmp_path / "s.json")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["by_uid"]["blimp_determiner_noun_agreement_1"]["acc"] == 0.5
    assert out["models_summary"][-1] == {"UID": "overall", "linguistics_term": "overall", "model": 0.5}
    assert json.loads((tmp_path / "s.json").read_text())["acc"] == 0.5
    assert main(["blimp", "score", "--data", str(tmp_path / "d"), "--logprob", "mymodel"]) == 2
    assert "MODULE:FUNCTION" in capsys.readouterr().err


def test_blimp_score_ngram_on_two_real_paradigms(blimp_dir, tmp_path, capsys):
    d = tmp_path / "two"
    d.mkdir()
    for uid in ("determiner_noun_agreement_1", "determiner_noun_agreement_2"):
        lines = (blimp_dir / f"{uid}.jsonl").read_text().splitlines()[:200]
        (d / f"{uid}.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["blimp", "score", "--data", str(d), "--model", "ngram", "--order", "2"]) == 0
    text = capsys.readouterr().out
    assert "blimp_determiner_noun_agreement_1" in text and "overall overall" in text


def test_corpus_command(blimp_dir, tmp_path, capsys):
    assert main(["exposure", "corpus", "--blimp", str(blimp_dir), "--out", str(tmp_path / "c"),
                 "--tokens", "150000", "--pairs-per-group", "5", "--max-words", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_tokens"] >= 150000 and (tmp_path / "c" / "tokens.bin").stat().st_size == 2 * out["n_tokens"]
    (tmp_path / "p.txt").write_text("this man\n")
    assert main(["exposure", "count", "--stream", str(tmp_path / "c"), "--phrases", str(tmp_path / "p.txt"),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"][0]["ids"] != []


def test_lm_train_cli(toy_lexicon, tmp_path, capsys):
    from grokphase.validation.exposure.corpus import GrammarConfig, generate_corpus, write_corpus

    write_corpus(generate_corpus(toy_lexicon, GrammarConfig(n_tokens=20_000, pairs_per_group=2, block=8,
                                                            rare_counts=(1,))), tmp_path / "c")
    assert main(["lm", "train", "--corpus", str(tmp_path / "c"), "--preset", "small", "--batch", "2",
                 "--context", "8", "--max-steps", "3", "--run-dir", str(tmp_path / "r"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["steps"] == 3 and out["tokens_per_step"] == 16
    assert main(["lm", "train", "--corpus", str(tmp_path / "c"), "--preset", "huge"]) == 2


def test_lm_evaluate_cli(toy_lexicon, tmp_path, capsys):
    from grokphase.validation.exposure.corpus import GrammarConfig, generate_corpus, write_corpus

    write_corpus(generate_corpus(toy_lexicon, GrammarConfig(n_tokens=20_000, pairs_per_group=8, block=8,
                                                            rare_counts=(1,))), tmp_path / "c")
    assert main(["lm", "train", "--corpus", str(tmp_path / "c"), "--preset", "small", "--batch", "4",
                 "--context", "16", "--tokens", "640", "--run-dir", str(tmp_path / "r"), "--json"]) == 0
    capsys.readouterr()
    assert main(["lm", "evaluate", "--run-dir", str(tmp_path / "r"), "--n-concept", "4"]) == 0
    text = capsys.readouterr().out
    assert "grammar_det_noun" in text and "Delta 95%" in text
