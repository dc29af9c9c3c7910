"""Datasets: modular prime-field operations, in-context modular arithmetic, the cyclic copy task."""

from .copy import copy_batch
from .icl import ICLTaskSet, coverage_stats, icl_evaluation, make_icl_tasks, query_coverage
from .modular import ModularDataset, modular_dataset

__all__ = ["ModularDataset", "modular_dataset", "ICLTaskSet", "make_icl_tasks", "icl_evaluation", "coverage_stats",
           "query_coverage", "copy_batch"]
