"""Named scratch arrays reused across calls (the training step's activations and gradients).

``ws(name, shape, dtype)`` returns the array held under ``name`` when its shape and dtype match,
otherwise a new ``np.empty`` array that it keeps for the next call; ``ws.scope(prefix)`` is a view
of the same store whose names are prefixed (one scope per layer).  Contents are undefined on
return: every user overwrites what it reads.  A model keeps one store for ``loss_and_grad`` so
that a training loop allocates (and page-faults) its ~N x d buffers once, not every step.
"""

from __future__ import annotations

import numpy as np


class Workspace:
    def __init__(self, _store: dict | None = None, _prefix: str = ""):
        self._store = {} if _store is None else _store
        self._prefix = _prefix

    def __call__(self, name: str, shape, dtype) -> np.ndarray:
        key = self._prefix + name
        shape = tuple(int(s) for s in shape)
        a = self._store.get(key)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self._store[key] = np.empty(shape, dtype)
        return a

    def scope(self, prefix: str) -> Workspace:
        return Workspace(self._store, self._prefix + prefix)

    def arrays(self) -> dict:
        """The arrays held (name -> array), e.g. to check their dtypes."""
        return dict(self._store)
