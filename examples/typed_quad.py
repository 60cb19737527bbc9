"""Typed use of nativecall, checked by `mypy --strict` in `make lint`.

A kernel typed by its annotations goes into scipy.integrate.quad; another sums any
array object (a NumPy array, an array.array, a memoryview) zero-copy.
"""

import array
import math

import numpy as np
import numpy.typing as npt
from scipy import integrate

import nativecall


@nativecall.jit
def gaussian(x: float, mu: float, sigma: float) -> float:
    z = (x - mu) / sigma
    return math.exp(-0.5 * z * z) / (sigma * math.sqrt(2.0 * math.pi))


# The signature string is what nativecall compiles; the annotations are for mypy.
@nativecall.jit("float64(float64[:])")
def total(a: npt.NDArray[np.float64]) -> float:
    s = 0.0
    for i in range(len(a)):
        s += a[i]
    return s


def probability(mu: float, sigma: float, k: float) -> float:
    """P(|X - mu| < k sigma) for X ~ N(mu, sigma), integrated natively by quad."""
    integrand = gaussian.lowlevelcallable("double (int, double *)")
    value, _error = integrate.quad(integrand, mu - k * sigma, mu + k * sigma, args=(mu, sigma))
    return float(value)


def main() -> None:
    signature: nativecall.Signature = gaussian.signature
    print(f"gaussian: {signature}")
    print(f"P(|X| < 2σ) = {probability(0.0, 1.0, 2.0):.12f}")
    samples = array.array("d", [0.5, 1.5, 2.0])
    view: nativecall.Array = nativecall.asarray(samples)  # zero-copy, keeps samples pinned
    print(f"sums: {total(samples)} {total(view)} {total(np.asarray(samples)[::-2])}")


if __name__ == "__main__":
    main()
