"""Datasets: modular prime-field operations, in-context modular arithmetic, the cyclic copy task."""

from .copy import copy_batch
from .icl import ICLTaskSet, make_icl_tasks
from .modular import ModularDataset, modular_dataset

__all__ = ["ModularDataset", "modular_dataset", "ICLTaskSet", "make_icl_tasks", "copy_batch"]
