"""Exposure-based delayed generalisation in language-model pre-training: the public tools.

Model and conventions: ``docs/exposure_grokking.md``.

Exposure counting
    ExposureIndex(tokens, eos_id=None, backend="numpy" | "aho") over a token stream (array or
    memory-mapped uint16/uint32 file, ``ExposureIndex.from_file``; JSON-lines text + tokenizer,
    ``ExposureIndex.from_jsonl``): ``first_occurrence(phrases)``, ``counts(phrases, upto)``,
    ``positions(phrases)``, and the same at training steps (``tokens_per_step``).
Minimal pairs
    load_blimp(path) (BLiMP-format jsonl file or folder), annotate_critical (per-UID critical /
    context tokens and phrases), make_pair / write_pairs (our own paradigms in the same schema).
Scoring
    score_pairs(pairs, logprob_fn, tokenize, *, prefix_id, method="sum") with methods "sum"
    (lm-evaluation-harness ``acc``), "mean", "one_prefix", "two_prefix", "critical_margin";
    ``result.by_uid()`` (``blimp_<UID>``) and models_summary (BLiMP's layout).
Analyses
    proxy_splits, exposure_bins, delay_estimate; concept_geometry (and its measures);
    head_mass, random_key_baseline, concentration, ablation_effect.

>>> idx = ExposureIndex([7, 3, 3, 0, 3, 3, 3], eos_id=0)
>>> idx.counts([[3, 3], [7, 3, 3]], upto=[3, 7]).tolist()
[[1, 3], [1, 1]]
"""

from grokphase.validation.exposure.analysis import (EXPOSURE_BINS, DelayEstimate, delay_estimate,
                                                    exposure_bins, proxy_splits, wilson_interval)
from grokphase.validation.exposure.concepts import (auc, components_for, concept_geometry, effective_rank,
                                                    logistic_probe, mass_mean_direction, participation_ratio,
                                                    participation_ratio_unbiased)
from grokphase.validation.exposure.heads import (ablation_effect, concentration, head_mass,
                                                 random_key_baseline)
from grokphase.validation.exposure.index import ExposureIndex, Occurrences, read_jsonl_stream
from grokphase.validation.exposure.minimal_pairs import (MinimalPair, annotate_critical, load_blimp,
                                                         make_pair, split_words, write_pairs)
from grokphase.validation.exposure.ngram import KneserNeyLM
from grokphase.validation.exposure.scoring import METHODS, ScoreResult, models_summary, score_pairs
from grokphase.validation.exposure.tokenizer import WordTokenizer

__all__ = ["ExposureIndex", "Occurrences", "read_jsonl_stream", "MinimalPair", "load_blimp", "annotate_critical",
           "make_pair", "write_pairs", "split_words", "score_pairs", "ScoreResult", "METHODS", "models_summary",
           "KneserNeyLM", "WordTokenizer", "proxy_splits", "exposure_bins", "wilson_interval", "delay_estimate",
           "DelayEstimate", "EXPOSURE_BINS", "concept_geometry", "mass_mean_direction", "auc", "logistic_probe",
           "participation_ratio", "participation_ratio_unbiased", "effective_rank", "components_for",
           "head_mass", "random_key_baseline", "concentration", "ablation_effect"]
