"""Call scipy's Cython special functions natively, by name and signature.

`cython_special` exports every function as a C function in `__pyx_capi__`, several
of them as fused specialisations (`__pyx_fuse_0gamma`, `__pyx_fuse_1gamma`).
nativecall picks the one whose signature matches, hides Cython's
`__pyx_skip_dispatch` parameter, and hands it to scipy.
"""

from scipy import integrate, special

import nativecall

gamma = nativecall.from_cython("scipy.special.cython_special", "gamma", "double (double)")
cgamma = nativecall.from_cython("scipy.special.cython_special", "gamma", "complex128(complex128)")
print(gamma, "->", gamma(5.0))
print(cgamma, "->", cgamma(1 + 1j))
print("at the C ABI:", gamma.c_signature)

value, _ = integrate.quad(gamma.lowlevelcallable(), 1.0, 4.0)
print(f"integral of gamma over [1, 4]: {value:.15f}")
assert abs(value - integrate.quad(special.gamma, 1.0, 4.0)[0]) < 1e-13
