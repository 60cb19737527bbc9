"""Arrays in kernels: any DLPack producer, zero-copy, any strides.

An array parameter (`float64[:, :]`) is a `DLTensor *` at the C ABI, so C and Cython
callers pass DLPack tensors; from Python, NumPy arrays (and PyTorch, JAX, CuPy-on-CPU
tensors, nativecall.Array, DLPack capsules) go in without a copy. Writes are visible
to the producer; read-only arrays are refused before the call when the kernel writes.
"""

import math
import time

import numpy as np

import nativecall


@nativecall.jit("void(float64[:, :], float64[:, :], float64)", boundscheck=True)
def blur3(src, dst, weight):
    n, m = src.shape[0], src.shape[1]
    for i in range(n):
        for j in range(m):
            s = 0.0
            c = 0
            for di in range(-1, 2):
                for dj in range(-1, 2):
                    ii, jj = i + di, j + dj
                    if 0 <= ii < n and 0 <= jj < m:
                        s += src[ii, jj]
                        c += 1
            dst[i, j] = weight * s / c


@nativecall.jit("float64(float64[:])")
def norm(v):
    s = 0.0
    for i in range(len(v)):
        s += v[i] * v[i]
    return math.sqrt(s)


image = np.random.default_rng(0).random((200, 300))
out = np.empty_like(image)
blur3(image, out, 1.0)  # the kernel writes into NumPy's memory
inner = out[1:-1, 1:-1]
ref = sum(image[1 + di : 199 + di, 1 + dj : 299 + dj] for di in (-1, 0, 1) for dj in (-1, 0, 1)) / 9
assert np.allclose(inner, ref)
print("3x3 mean filter written in place by a kernel; interior matches NumPy slicing")

v = np.arange(10.0)
print("norm of a reversed, strided view:", norm(v[::-3]), "=", np.linalg.norm(v[::-3]))
assert math.isclose(norm(v[::-3]), np.linalg.norm(v[::-3]))

# nativecall's own arrays: Rust-owned memory, exported through DLPack without copying.
a = nativecall.zeros((3, 4))
blur3(nativecall.from_dlpack(np.ones((3, 4))), a, 2.0)
print(a, "->", np.from_dlpack(a)[0])

out.setflags(write=False)
try:
    blur3(image, out, 1.0)
except ValueError as e:
    print("read-only output refused:", e)

t0 = time.perf_counter()
for _ in range(100_000):
    norm(v)
print(f"call overhead with one array argument: {(time.perf_counter() - t0) * 10:.2f} µs per call")
