"""BLiMP-schema loading, critical-token rules on the real files, generated pairs."""

import json

import pytest

from grokphase.validation.exposure.minimal_pairs import (RULES, MinimalPair, annotate_critical,
                                                         critical_span, load_blimp, make_pair,
                                                         split_words, write_pairs)


REC = {"sentence_good": "Raymond is selling this sketch.", "sentence_bad": "Raymond is selling this sketches.",
       "one_prefix_prefix": "Raymond is selling this", "one_prefix_word_good": "sketch",
       "one_prefix_word_bad": "sketches", "field": "morphology", "linguistics_term": "determiner_noun_agreement",
       "UID": "determiner_noun_agreement_1", "simple_LM_method": True, "one_prefix_method": True,
       "two_prefix_method": False, "lexically_identical": True, "pairID": "0"}


def test_split_words():
    assert split_words("Jill hasn't left Lisa's well-known house.") == [
        "Jill", "hasn't", "left", "Lisa's", "well-known", "house", "."]
    assert split_words("What was Alicia approaching?") == ["What", "was", "Alicia", "approaching", "?"]


def test_roundtrip_keeps_optional_fields(tmp_path):
    rec = dict(REC, dependency_length=5, pairID="7")
    p = tmp_path / "x.jsonl"
    p.write_text(json.dumps(rec) + "\n\n" + json.dumps(dict(rec, pairID="8")) + "\n")
    pairs = load_blimp(p)
    assert [q.pairID for q in pairs] == ["7", "8"] and pairs[0].extra == {"dependency_length": 5}
    assert pairs[1].source == f"{p}:3"
    write_pairs(tmp_path / "y.jsonl", pairs)
    assert [json.loads(line) for line in (tmp_path / "y.jsonl").read_text().splitlines()][0] == rec


@pytest.mark.parametrize("edit, match", [
    ({"UID": None}, r"x.jsonl:2: missing required field\(s\) \['UID'\]"),
    ({"simple_LM_method": "yes"}, "simple_LM_method"),
    ({"pairID": 1.5}, "pairID"),
    ({"one_prefix_word_bad": None}, "one_prefix_method is true"),
    ({"critical_index": -1}, "critical_index"),
])
def test_bad_records_name_file_and_line(tmp_path, edit, match):
    bad = {k: v for k, v in {**REC, **edit}.items() if v is not None}
    p = tmp_path / "x.jsonl"
    p.write_text(json.dumps(REC) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(ValueError, match=match):
        load_blimp(p)


def test_invalid_json_and_paths(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text(json.dumps(REC) + "\n{oops\n")
    with pytest.raises(ValueError, match="x.jsonl:2: invalid JSON"):
        load_blimp(p)
    with pytest.raises(ValueError, match="neither a file nor a folder"):
        load_blimp(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no BLiMP paradigm files"):
        load_blimp(tmp_path / "empty")


def pair(good, bad, uid, **kw):
    return MinimalPair(sentence_good=good, sentence_bad=bad, field="f", linguistics_term="t", UID=uid,
                       simple_LM_method=True, one_prefix_method=False, two_prefix_method=bool(kw),
                       lexically_identical=False, pairID="0", **kw)


@pytest.mark.parametrize("p, phrase_good, phrase_bad", [
    (pair("Craig explored that grocery store.", "Craig explored that grocery stores.",
          "determiner_noun_agreement_1"), "that grocery store", "that grocery stores"),
    (pair("Becca exits this grocery store.", "Becca exits these grocery store.", "determiner_noun_agreement_2",
          two_prefix_prefix_good="Becca exits this", two_prefix_prefix_bad="Becca exits these",
          two_prefix_word="grocery store"), "this grocery store", "these grocery store"),
    (pair("The boy wears the shawl.", "The boys wears the shawl.", "regular_plural_subject_verb_agreement_2",
          two_prefix_prefix_good="The boy", two_prefix_prefix_bad="The boys", two_prefix_word="wears"),
     "boy wears", "boys wears"),
    (pair("A niece of most senators hasn't descended most slopes.",
          "A niece of most senators haven't descended most slopes.", "distractor_agreement_relational_noun"),
     "niece of most senators hasn't", "niece of most senators haven't"),
    (pair("A lot of libraries that impress Ronald do joke around.",
          "A lot of libraries that impress Ronald does joke around.", "distractor_agreement_relative_clause"),
     "libraries that impress Ronald do", "libraries that impress Ronald does"),
    (pair("Christina boasts about herself.", "Christina boasts about himself.", "anaphor_gender_agreement"),
     "Christina boasts about herself", "Christina boasts about himself"),
    (pair("Harvard University was scaring itself.", "Harvard University was scaring himself.",
          "anaphor_gender_agreement"), "University was scaring itself", "University was scaring himself"),
    (pair("Amy drops by a lot of rivers.", "Amy drop by a lot of rivers.",
          "regular_plural_subject_verb_agreement_1"), "Amy drops", "Amy drop"),
])
def test_rules_on_known_examples(p, phrase_good, phrase_bad):
    q, = annotate_critical([p])
    assert (q.critical_phrase_good, q.critical_phrase_bad) == (phrase_good, phrase_bad)


def test_rule_errors():
    with pytest.raises(ValueError, match="no critical-token rule for UID 'wh_island'"):
        critical_span(pair("a b.", "a c.", "wh_island"))
    with pytest.raises(ValueError, match="no demonstrative"):
        critical_span(pair("Andrew helps the driver.", "Andrew helps the drivers.", "determiner_noun_agreement_1"))


def test_rules_cover_every_pair_of_their_real_paradigms(blimp_dir):
    """Each rule applies to all 1,000 pairs of its UIDs, and the context word is a determiner
    (determiner UIDs) or is not a function word (the others)."""
    function_words = {"this", "that", "these", "those", "the", "a", "an", "of", "about", "is", "was", "has"}
    for uid in sorted(RULES):
        pairs = annotate_critical(load_blimp(blimp_dir / f"{uid}.jsonl"))
        assert len(pairs) == 1000
        ctx = [split_words(p.sentence_good)[p.context_index].lower() for p in pairs]
        if uid.startswith("determiner"):
            assert set(ctx) <= {"this", "that", "these", "those"}, uid
        else:
            assert sum(c in function_words for c in ctx) <= 10, (uid, [c for c in ctx if c in function_words][:5])


def test_make_pair_fills_prefix_fields():
    p = make_pair(UID="g_det", linguistics_term="determiner_noun_agreement", field="morphology", pairID=3,
                  good=["the", "dog", "sees", "these", "cats", "."], bad=["the", "dog", "sees", "these", "cat", "."],
                  critical_index=4, context_index=3, exposure_group="held_out")
    assert p.sentence_good == "the dog sees these cats." and p.one_prefix_method and not p.two_prefix_method
    assert (p.one_prefix_prefix, p.one_prefix_word_good, p.critical_phrase_bad) == ("the dog sees these", "cats", "these cat")
    assert p.extra == {"exposure_group": "held_out"}
    q = make_pair(UID="g_sv", linguistics_term="subject_verb_agreement", field="morphology", pairID=0,
                  good=["the", "dogs", "run", "."], bad=["the", "dog", "run", "."], critical_index=2, context_index=1)
    assert q.two_prefix_method and q.two_prefix_word == "run" and q.two_prefix_prefix_bad == "the dog"
    rec = q.to_record()
    assert MinimalPair.from_record(rec) == q
