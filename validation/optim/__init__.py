"""Optimisers (AdamW with PyTorch's semantics, SGD), schedules and gradient clipping."""

from .adamw import SGD, AdamW, clip_grad_norm
from .schedules import WarmupCosine, warmup_cosine

__all__ = ["AdamW", "SGD", "clip_grad_norm", "warmup_cosine", "WarmupCosine"]
