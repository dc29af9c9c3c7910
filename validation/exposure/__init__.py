"""Exposure-based delayed generalisation in language-model pre-training (``docs/exposure_grokking.md``).

Modules: ``index`` (exact phrase exposure over a token stream), ``minimal_pairs`` (BLiMP-schema
records, critical-token rules, writers), ``scoring`` (minimal-pair accuracy from any model's
log-probabilities), ``tokenizer`` (word level), ``ngram`` (Kneser-Ney baseline model), ``lexicon``
(word classes from BLiMP's sentences), ``corpus`` (the grammar fragment with its exposure design),
``analysis`` (proxy splits, exposure bins, delays), ``concepts`` (concept vectors), ``heads``
(attention-head concentration and ablation).  The public entry points are re-exported by
``grokphase.exposure``.
"""

from .index import ExposureIndex, Occurrences, read_jsonl_stream
from .minimal_pairs import MinimalPair, load_blimp
from .scoring import score_pairs

__all__ = ["ExposureIndex", "Occurrences", "read_jsonl_stream", "MinimalPair", "load_blimp", "score_pairs"]
