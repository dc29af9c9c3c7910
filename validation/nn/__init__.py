"""A small PyTorch-free transformer with hand-written backward passes (NumPy only).

Every layer is a pair of pure functions ``*_forward(...) -> (out, cache)`` and
``*_backward(d_out, cache) -> (d_inputs..., d_params)``; ``Transformer`` composes them.
"""

from .transformer import Transformer, TransformerConfig

__all__ = ["Transformer", "TransformerConfig"]
