"""A small convolutional network in NumPy: convolution by im2col with a hand-written backward.

Model: ``docs/uniformity_med.md`` §5 (the rendered polygon-sum task; the paper's ImageNet ResNet-18
is out of reach on CPU, so a small CNN is trained from scratch).  Shapes: images (B, C, H, W),
kernels (F, C, k, k).  Layers (each a pure forward -> (out, cache) and backward):

* :func:`im2col` / :func:`col2im`: (B, C, H, W) -> (B Ho Wo, C k k) patches (zero padding
  ``pad``, stride 1) and the transpose map (a scatter-add over the k^2 kernel offsets);
* :func:`conv2d_forward` / :func:`conv2d_backward`: y = patches @ W^T + b;
* :func:`avgpool2_forward` / :func:`avgpool2_backward`: 2 x 2 mean pooling, stride 2.

:class:`SmallCNN`: [conv k x k (pad k//2) -> ReLU -> avgpool 2] per entry of ``channels``, flatten,
dense ``hidden`` -> ReLU -> dense ``n_out``.  Initialisation: kernels N(0, 2/fan_in) (He), dense
layers U(+-1/sqrt(fan_in)) (PyTorch's nn.Linear), biases 0 for convolutions.  Parameter names:
``conv.{i}.W`` (F, C, k, k), ``conv.{i}.b`` (F,), ``dense.{j}.W`` (fan_in, fan_out), ``dense.{j}.b``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .layers import wgrad
from .loss import cross_entropy


def im2col(x: np.ndarray, k: int, pad: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Patches of x (B, C, H, W): (B Ho Wo, C k k) with rows in (b, i, j) order and columns in
    (c, di, dj) order; returns (cols, (Ho, Wo)), Ho = H + 2 pad - k + 1."""
    B, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))   # (B, C, Ho, Wo, k, k)
    Ho, Wo = win.shape[2], win.shape[3]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(B * Ho * Wo, C * k * k), (Ho, Wo)


def col2im(cols: np.ndarray, x_shape, k: int, pad: int) -> np.ndarray:
    """Transpose of :func:`im2col`: scatter-add the patch gradients (B Ho Wo, C k k) into (B, C, H, W)."""
    B, C, H, W = x_shape
    Ho, Wo = H + 2 * pad - k + 1, W + 2 * pad - k + 1
    g = cols.reshape(B, Ho, Wo, C, k, k)
    dxp = np.zeros((B, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    for di in range(k):
        for dj in range(k):
            dxp[:, :, di:di + Ho, dj:dj + Wo] += g[:, :, :, :, di, dj].transpose(0, 3, 1, 2)
    return dxp[:, :, pad:pad + H, pad:pad + W] if pad else dxp


def conv2d_forward(x: np.ndarray, Wk: np.ndarray, b: np.ndarray, pad: int):
    """x (B, C, H, W), Wk (F, C, k, k), b (F,) -> (B, F, Ho, Wo), cache."""
    F, C, k, _ = Wk.shape
    if x.shape[1] != C:
        raise ValueError(f"x has {x.shape[1]} channels, the kernel expects {C}")
    cols, (Ho, Wo) = im2col(x, k, pad)
    y = cols @ Wk.reshape(F, -1).T + b
    B = x.shape[0]
    return y.reshape(B, Ho, Wo, F).transpose(0, 3, 1, 2), (cols, x.shape, Wk, pad)


def conv2d_backward(d_out: np.ndarray, cache):
    """-> (dx (B, C, H, W), dWk (F, C, k, k), db (F,))."""
    cols, x_shape, Wk, pad = cache
    F, C, k, _ = Wk.shape
    d2 = d_out.transpose(0, 2, 3, 1).reshape(-1, F)           # (B Ho Wo, F)
    dW = wgrad(d2, cols).reshape(F, C, k, k)                    # d2^T cols
    dcols = d2 @ Wk.reshape(F, -1)
    return col2im(dcols, x_shape, k, pad), dW, d2.sum(axis=0)


def avgpool2_forward(x: np.ndarray):
    """2 x 2 mean pooling with stride 2 of x (B, C, H, W), H and W even -> (B, C, H/2, W/2)."""
    B, C, H, W = x.shape
    if H % 2 or W % 2:
        raise ValueError(f"avgpool2 needs even H and W, got {H} x {W}")
    return x.reshape(B, C, H // 2, 2, W // 2, 2).mean(axis=(3, 5)), x.shape


def avgpool2_backward(d_out: np.ndarray, shape) -> np.ndarray:
    return np.repeat(np.repeat(d_out, 2, axis=2), 2, axis=3) * 0.25


@dataclass(frozen=True)
class CNNConfig:
    """image_size (square, divisible by 2^len(channels)), in_channels, conv ``channels``, kernel
    size, dense ``hidden`` width, ``n_out`` classes."""

    n_out: int
    image_size: int = 32
    in_channels: int = 1
    channels: tuple = (8, 16)
    kernel: int = 3
    hidden: int = 128
    dtype: str = "float32"
    seed: int = 0
    dropout: float = 0.0   # the training loop asks for it; this model has none

    def __post_init__(self):
        for name in ("n_out", "image_size", "in_channels", "kernel", "hidden"):
            v = getattr(self, name)
            if not (isinstance(v, (int, np.integer)) and v >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if self.kernel % 2 == 0:
            raise ValueError(f"kernel must be odd (same-size padding), got {self.kernel}")
        if not self.channels or self.image_size % (2 ** len(self.channels)):
            raise ValueError(f"image_size {self.image_size} must be divisible by 2^len(channels) = "
                             f"{2 ** len(self.channels)}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.dropout != 0.0:
            raise ValueError(f"dropout must be 0 (this CNN has none), got {self.dropout}")

    @property
    def flat(self) -> int:
        s = self.image_size // 2 ** len(self.channels)
        return self.channels[-1] * s * s


class SmallCNN:
    """``SmallCNN(config, params=None)``: ``logits(images)`` (B, n_out), ``features(images)``
    (the dense hidden layer, B x hidden), ``loss_and_grad(images, targets)``."""

    def __init__(self, config: CNNConfig, params: dict | None = None):
        self.config = config
        self.params = self.init_params(config) if params is None else params

    @staticmethod
    def init_params(c: CNNConfig) -> dict:
        rng = np.random.default_rng(c.seed)
        dt = np.dtype(c.dtype)
        p, cin = {}, c.in_channels
        for i, F in enumerate(c.channels):
            fan = cin * c.kernel**2
            p[f"conv.{i}.W"] = (rng.standard_normal((F, cin, c.kernel, c.kernel)) * math.sqrt(2.0 / fan)).astype(dt)
            p[f"conv.{i}.b"] = np.zeros(F, dt)
            cin = F
        for j, (fi, fo) in enumerate(((c.flat, c.hidden), (c.hidden, c.n_out))):
            bound = 1.0 / math.sqrt(fi)
            p[f"dense.{j}.W"] = rng.uniform(-bound, bound, (fi, fo)).astype(dt)
            p[f"dense.{j}.b"] = rng.uniform(-bound, bound, fo).astype(dt)
        return p

    def _forward(self, images):
        c, P = self.config, self.params
        x = np.asarray(images)
        want = (c.in_channels, c.image_size, c.image_size)
        if x.ndim != 4 or x.shape[1:] != want:
            raise ValueError(f"images must have shape (B, {want[0]}, {want[1]}, {want[2]}), got {x.shape}")
        x = x.astype(P["conv.0.W"].dtype, copy=False)
        caches = []
        for i in range(len(c.channels)):
            y, cc = conv2d_forward(x, P[f"conv.{i}.W"], P[f"conv.{i}.b"], c.kernel // 2)
            r = np.maximum(y, 0)
            x, pc = avgpool2_forward(r)
            caches.append((cc, y, pc))
        flat = x.reshape(x.shape[0], -1)
        h = np.maximum(flat @ P["dense.0.W"] + P["dense.0.b"], 0)
        z = h @ P["dense.1.W"] + P["dense.1.b"]
        return z, (caches, x.shape, flat, h)

    def logits(self, images: np.ndarray) -> np.ndarray:
        return self._forward(images)[0]

    def features(self, images: np.ndarray) -> np.ndarray:
        return self._forward(images)[1][3]

    def loss_and_grad(self, images, targets, mask=None, *, rng=None):
        """Mean cross-entropy over the batch and its gradient; targets (B,) classes."""
        P = self.params
        z, (caches, pooled_shape, flat, h) = self._forward(images)
        loss, dz, _, _ = cross_entropy(z, np.asarray(targets))
        g = {"dense.1.W": wgrad(h, dz), "dense.1.b": dz.sum(axis=0)}
        dh = (dz @ P["dense.1.W"].T) * (h > 0)
        g["dense.0.W"], g["dense.0.b"] = wgrad(flat, dh), dh.sum(axis=0)
        dx = (dh @ P["dense.0.W"].T).reshape(pooled_shape)
        for i in reversed(range(len(self.config.channels))):
            cc, y, pc = caches[i]
            dr = avgpool2_backward(dx, pc) * (y > 0)
            dx, g[f"conv.{i}.W"], g[f"conv.{i}.b"] = conv2d_backward(dr, cc)
        return loss, g
