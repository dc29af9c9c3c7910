"""A small PyTorch-free transformer with hand-written backward passes (NumPy + Numba).

Every layer is a pair of functions ``*_forward(...) -> (out, cache)`` and
``*_backward(d_out, cache) -> (d_inputs..., d_params)``; ``Transformer`` composes them, and as a
causal LM offers hooks (``run_with_hooks`` -> ``HookedRun``), head masks and
``sequence_logprobs``.  The arithmetic between the BLAS products lives in fused Numba kernels.
"""

from .transformer import HookedRun, Transformer, TransformerConfig

__all__ = ["HookedRun", "Transformer", "TransformerConfig"]
