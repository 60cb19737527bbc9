"""@nativecall.vectorize: a real numpy.ufunc whose loops Cranelift compiles.

NumPy does the rest: broadcasting, out=, where=, dtype dispatch over the listed
signatures, and reduce/accumulate for two-argument ufuncs with an identity.
"""

import math
import time

import numpy as np

import nativecall


@nativecall.vectorize(["float64(float64)", "float32(float32)"])
def damped(x):
    return math.exp(-x * x) * math.cos(x)


@nativecall.vectorize(["int64(int64, int64)", "float64(float64, float64)"], identity=0)
def add(a, b):
    return a + b


print(damped, type(damped), damped.types)
x = np.linspace(-3.0, 3.0, 10_000_000)
t0 = time.perf_counter()
y = damped(x)
t_nc = time.perf_counter() - t0
t0 = time.perf_counter()
z = np.exp(-x * x) * np.cos(x)
t_np = time.perf_counter() - t0
assert np.allclose(y, z, rtol=1e-15, atol=0)
print(f"exp(-x*x)*cos(x) on 10^7 float64: ufunc {t_nc * 1e3:.0f} ms, NumPy expression {t_np * 1e3:.0f} ms")
print("float32 loop:", damped(np.float32(0.5)).dtype, "| broadcasting:", damped(np.zeros((3, 1)) + np.arange(4.0)).shape)
out = np.full(5, -1.0)
damped(np.arange(5.0), out=out, where=np.arange(5) % 2 == 0)
print("out= and where=:", out)
print("add.reduce(0..9) =", add.reduce(np.arange(10)), "| add.accumulate:", add.accumulate(np.arange(5.0)))
