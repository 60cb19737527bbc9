"""A Gaussian integrand written in Python, compiled to native code, integrated by scipy.

The kernel takes its parameters as ordinary arguments; `lowlevelcallable` adapts it to
what quad calls: "double (int, double *)" gets them from quad's `args=`, and
"double (double, void *)" gets them from a struct packed once in `user_data`.
"""

import math
import time

from scipy import integrate

import nativecall


@nativecall.jit("float64(float64, float64, float64)")
def gaussian(x, mu, sigma):
    z = (x - mu) / sigma
    return math.exp(-0.5 * z * z) / (sigma * math.sqrt(2.0 * math.pi))


print(gaussian, f"compiled in {gaussian.compile_seconds * 1e3:.2f} ms")

with_args = gaussian.lowlevelcallable("double (int, double *)")
packed = gaussian.lowlevelcallable("double (double, void *)", user_data=(1.0, 0.5))

for mu, sigma in [(0.0, 1.0), (1.0, 0.5), (-2.0, 3.0)]:
    native, _ = integrate.quad(with_args, mu - 5 * sigma, mu + 5 * sigma, args=(mu, sigma))
    python, _ = integrate.quad(gaussian.py_func, mu - 5 * sigma, mu + 5 * sigma, args=(mu, sigma))
    print(f"N({mu}, {sigma}) over ±5σ: native {native:.15f}  Python {python:.15f}")
    assert math.isclose(native, python, rel_tol=1e-14)

value, _ = integrate.quad(packed, -1.5, 3.5)
print(f"N(1, 0.5) over [-1.5, 3.5] with packed user data: {value:.15f}")


def per_call(f, args=()):
    n, t0 = 2000, time.perf_counter()
    for _ in range(n):
        integrate.quad(f, -5.0, 5.0, args=args)
    return (time.perf_counter() - t0) / n


t_py, t_nc = per_call(gaussian.py_func, (0.0, 1.0)), per_call(with_args, (0.0, 1.0))
print(f"quad per call: Python callable {t_py * 1e6:.1f} µs, kernel {t_nc * 1e6:.1f} µs ({t_py / t_nc:.1f}× faster)")
