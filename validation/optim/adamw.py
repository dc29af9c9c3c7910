"""AdamW exactly as ``torch.optim.AdamW`` (decoupled weight decay, bias correction), plain SGD,
and global gradient-norm clipping.  Updates are in place and keep each parameter's dtype (all
scalars are Python floats; NumPy 2 does not promote float32 arrays with them).

PyTorch's AdamW step t (1-based), for each parameter p with gradient g:

    p <- p (1 - lr wd)
    m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2
    p <- p - lr m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps)
"""

from __future__ import annotations

import math

import numpy as np

from grokphase._checks import nonnegative


def clip_grad_norm(grads: dict, max_norm: float) -> float:
    """Scale all gradients in place so their global L2 norm is at most max_norm (as
    torch.nn.utils.clip_grad_norm_, with its 1e-6 in the denominator); returns the norm before."""
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads.values():
            g *= coef
    return total


class AdamW:
    """AdamW(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01) — torch's defaults."""

    def __init__(self, params: dict, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01):
        lr, eps, weight_decay = nonnegative("lr", lr), nonnegative("eps", eps), nonnegative("weight_decay", weight_decay)
        if len(betas) != 2 or not all(0.0 <= float(b) < 1.0 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {tuple(betas)}")
        self.lr, self.betas, self.eps, self.weight_decay = lr, tuple(map(float, betas)), eps, weight_decay
        self.t = 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params: dict, grads: dict, lr: float | None = None) -> None:
        """One update of every parameter in place; ``lr`` overrides the base rate (schedules)."""
        lr = self.lr if lr is None else float(lr)
        b1, b2 = self.betas
        self.t += 1
        bc1 = 1.0 - b1 ** self.t
        bc2 = 1.0 - b2 ** self.t
        step = lr / bc1
        inv_sqrt_bc2 = 1.0 / math.sqrt(bc2)
        for k, p in params.items():
            g = grads[k]
            m, v = self.m[k], self.v[k]
            if self.weight_decay:
                p *= 1.0 - lr * self.weight_decay
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            denom = np.sqrt(v)
            denom *= inv_sqrt_bc2
            denom += self.eps
            p -= step * (m / denom)

    def config(self) -> dict:
        """The hyper-parameters (what a run records to identify itself)."""
        return {"name": "AdamW", "lr": self.lr, "betas": list(self.betas), "eps": self.eps,
                "weight_decay": self.weight_decay}

    def state(self) -> dict:
        """Arrays and scalars to checkpoint (restore with ``load_state``)."""
        out = {f"m/{k}": v for k, v in self.m.items()} | {f"v/{k}": v for k, v in self.v.items()}
        out["t"] = np.asarray(self.t)
        return out

    def load_state(self, state: dict) -> None:
        self.t = int(state["t"])
        for k in self.m:
            self.m[k][...] = state[f"m/{k}"]
            self.v[k][...] = state[f"v/{k}"]


class SGD:
    """Plain SGD with optional momentum and (coupled, L2) weight decay, as torch.optim.SGD."""

    def __init__(self, params: dict, lr: float = 1e-2, momentum: float = 0.0, weight_decay: float = 0.0):
        self.lr, self.weight_decay = nonnegative("lr", lr), nonnegative("weight_decay", weight_decay)
        self.momentum = nonnegative("momentum", momentum)
        self.t = 0
        self.buf = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params: dict, grads: dict, lr: float | None = None) -> None:
        lr = self.lr if lr is None else float(lr)
        self.t += 1
        for k, p in params.items():
            d = grads[k] + self.weight_decay * p if self.weight_decay else grads[k]
            if self.momentum:
                b = self.buf[k]
                if self.t == 1:
                    b[...] = d
                else:
                    b *= self.momentum
                    b += d
                d = b
            p -= lr * d

    def config(self) -> dict:
        """The hyper-parameters (what a run records to identify itself)."""
        return {"name": "SGD", "lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay}

    def state(self) -> dict:
        return {f"buf/{k}": v for k, v in self.buf.items()} | {"t": np.asarray(self.t)}

    def load_state(self, state: dict) -> None:
        self.t = int(state["t"])
        for k in self.buf:
            self.buf[k][...] = state[f"buf/{k}"]
