"""Exposure-based delayed generalisation in language-model pre-training (``docs/exposure.md``).

Modules: ``index`` (exact phrase exposure over a token stream), ``minimal_pairs`` (BLiMP-schema
records, critical-token rules, writers), ``scoring`` (minimal-pair accuracy with any model's
log-probabilities), ``ngram`` (a smoothed word n-gram baseline model).
"""

from .index import ExposureIndex, Occurrences, read_jsonl_stream

__all__ = ["ExposureIndex", "Occurrences", "read_jsonl_stream"]
