"""Numba and nativecall, both directions.

- A kernel (or any nativecall callable) inside `@numba.njit` code, as a global or as
  an argument: a direct native call either way.
- A Numba `cfunc` inside a kernel: a direct native call.
"""

import math

import numba
import numpy as np

import nativecall


@nativecall.jit("float64(float64, float64)")
def hyp(a, b):
    return math.sqrt(a * a + b * b)


@numba.njit
def path_length(xs, ys):
    total = 0.0
    for i in range(1, xs.size):
        total += hyp(xs[i] - xs[i - 1], ys[i] - ys[i - 1])  # the kernel as a global
    return total


@numba.njit
def apply(f, x, y):
    return f(x, y)


t = np.linspace(0.0, 2 * np.pi, 10_001)
length = path_length(np.cos(t), np.sin(t))
print(f"circumference from a kernel inside njit: {length:.6f} (2π = {2 * np.pi:.6f})")
assert abs(length - 2 * np.pi) < 1e-6
print("kernel passed as an njit argument:", apply(hyp, 3.0, 4.0))


@numba.cfunc("float64(float64)")
def smooth_step(x):
    return x * x * (3.0 - 2.0 * x)


@nativecall.jit("float64(float64)")
def clamped_smooth(x):
    return smooth_step(min(max(x, 0.0), 1.0))


print("Numba cfunc inside a kernel:", [clamped_smooth(x) for x in (-1.0, 0.25, 0.5, 2.0)])
assert clamped_smooth(0.5) == 0.5
