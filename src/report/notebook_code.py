# %% Load the checkpoint with nothing but NumPy
# The run's model, rebuilt from its safetensors file: every tensor is named
# coupling.<layer>.linear.<k>.{weight,bias} ([n_in, n_out]: y = x W + b) or
# coupling.<layer>.scale (the learned s_i); the metadata holds the configuration as JSON.
import gzip
import json
import os
import struct

import numpy as np

CHECKPOINT = {{CHECKPOINT}}
DATA_DIR = {{DATA_DIR}}  # where the IDX test images are; change it if you moved the data
IMAGES = {{IMAGES}}
FLOWGPU_BITS_PER_DIM = {{FLOWGPU_BITS_PER_DIM}}  # flowgpu's own figure for the same images


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, t in header.items():
        assert t["dtype"] == "F32", (name, t["dtype"])
        start, end = t["data_offsets"]
        a = np.frombuffer(data[start:end], dtype="<f4").reshape(t["shape"])
        tensors[name] = a.astype(np.float64)
    return tensors, meta


tensors, meta = load_safetensors(CHECKPOINT)
config = json.loads(meta["config"])
alpha = json.loads(meta["preprocess"])["logit_alpha"]
D, K, C = config["dim"], config["layers"], config["scale_bound"]
DH = D // 2
print("model:", config, "| logit a:", alpha)

# %% The flow, forward and inverse
# Layer l transforms part 1 given part 0 when l is even, part 0 given part 1 when odd. The
# conditioner is 5 linear layers with ReLU between; an affine coupling bounds its log-scale,
# s = C tanh(raw / C), and y_b = x_b exp(s) + t. After every layer, y *= exp(s_l).


def idx(p):
    if config["mask"] == "halves":
        return np.arange(p * DH, (p + 1) * DH)
    return np.arange(p, D, 2)


def mlp(l, h):
    for k in range(5):
        h = h @ tensors[f"coupling.{l}.linear.{k}.weight"] + tensors[f"coupling.{l}.linear.{k}.bias"]
        if k < 4:
            h = np.maximum(h, 0.0)
    return h


def shift_and_log_scale(l, xa):
    out = mlp(l, xa)
    if config["coupling"] == "affine":
        return out[:, DH:], C * np.tanh(out[:, :DH] / C)
    return out, np.zeros_like(out)


def forward(x):
    """z = f(x) and log|det df/dx| per row."""
    x, logdet = x.copy(), np.zeros(len(x))
    for l in range(K):
        tp = 1 if l % 2 == 0 else 0
        t, s = shift_and_log_scale(l, x[:, idx(1 - tp)])
        x[:, idx(tp)] = x[:, idx(tp)] * np.exp(s) + t
        scale = tensors[f"coupling.{l}.scale"]
        x = x * np.exp(scale)
        logdet += s.sum(axis=1) + scale.sum()
    return x, logdet


def inverse(z):
    """x = f^-1(z) per row."""
    x = z.copy()
    for l in reversed(range(K)):
        tp = 1 if l % 2 == 0 else 0
        x = x * np.exp(-tensors[f"coupling.{l}.scale"])
        t, s = shift_and_log_scale(l, x[:, idx(1 - tp)])
        x[:, idx(tp)] = (x[:, idx(tp)] - t) * np.exp(-s)
    return x


# %% Test bits/dim of the first IMAGES test images
# Dequantized at the bin centres (u = 0.5) so that the figure is exact and repeatable, then the
# logit y = logit(a + (1 - 2a) v) with its log-Jacobian; bits/dim is that of the 8-bit image.


def test_images(data_dir):
    for name in ("t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz"):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                raw = f.read()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            n, rows, cols = struct.unpack(">III", raw[4:16])
            return np.frombuffer(raw[16:16 + n * rows * cols], np.uint8).reshape(n, rows * cols)
    raise FileNotFoundError(f"no t10k-images-idx3-ubyte(.gz) in {data_dir}: set DATA_DIR above")


pixels = test_images(DATA_DIR)[:IMAGES].astype(np.float64)
v = (pixels + 0.5) / 256.0
if alpha is None:
    y, pre_logdet = v, np.zeros(len(v))
else:
    q = alpha + (1 - 2 * alpha) * v
    one_minus_q = alpha + (1 - 2 * alpha) * (256.0 - pixels - 0.5) / 256.0
    y = np.log(q) - np.log(one_minus_q)
    pre_logdet = (np.log(1 - 2 * alpha) - np.log(q) - np.log(one_minus_q)).sum(axis=1)
z, logdet = forward(y)
log_p = -0.5 * (z ** 2).sum(axis=1) - 0.5 * D * np.log(2 * np.pi) + logdet
nats = -(log_p + pre_logdet - D * np.log(256.0))
bits_per_dim = nats.mean() / (D * np.log(2.0))
print(f"NumPy: {bits_per_dim:.5f} bits/dim over {len(pixels)} test images (bin centres)")
if FLOWGPU_BITS_PER_DIM is not None:
    diff = abs(bits_per_dim - FLOWGPU_BITS_PER_DIM)
    print(f"flowgpu on the GPU: {FLOWGPU_BITS_PER_DIM:.5f}, difference {diff:.1e}")
    assert diff < 1e-3, "the NumPy flow and flowgpu disagree"
    print("the NumPy flow matches flowgpu")

# %% A grid of samples at T = 0.7
# z ~ N(0, T^2 I), x = f^-1(z), then back to pixel intensities (the inverse of the logit).
rng = np.random.default_rng(0)
x = inverse(0.7 * rng.standard_normal((16, D)))
if alpha is None:
    images = np.clip(x, 0.0, 1.0)
else:
    images = np.clip((1.0 / (1.0 + np.exp(-x)) - alpha) / (1 - 2 * alpha), 0.0, 1.0)
side = int(round(np.sqrt(D)))
grid = images.reshape(4, 4, side, side).transpose(0, 2, 1, 3).reshape(4 * side, 4 * side)
print(f"16 samples, pixel mean {images.mean():.3f}")
try:
    import matplotlib.pyplot as plt

    plt.figure(figsize=(4, 4))
    plt.imshow(grid, cmap="gray", vmin=0, vmax=1)
    plt.axis("off")
    plt.show()
except ImportError:
    print("(install matplotlib to see the grid)")
