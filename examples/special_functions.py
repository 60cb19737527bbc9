"""scipy's special functions, called natively: by name from Python, and inside kernels.

`scipy.special.cython_special` exports every function as a C function in `__pyx_capi__`,
several as fused specialisations. `nativecall.from_cython` picks one by signature; a
kernel that writes `cython_special.gamma(x)` gets the specialisation its argument types
select, as a direct native call.
"""

import math

from scipy import integrate, special
from scipy.special import cython_special

import nativecall

gamma = nativecall.from_cython("scipy.special.cython_special", "gamma", "double (double)")
cgamma = nativecall.from_cython("scipy.special.cython_special", "gamma", "complex128(complex128)")
print(gamma, "->", gamma(5.0))
print(cgamma, "->", cgamma(1 + 1j))
print("at the C ABI:", gamma.c_signature, "(Cython's __pyx_skip_dispatch is filled in)")


@nativecall.jit("float64(float64)")
def mix(x):
    return cython_special.gamma(x) * cython_special.erf(x) + cython_special.jv(1.5, x) - cython_special.loggamma(x)


def py_mix(x):
    return special.gamma(x) * special.erf(x) + special.jv(1.5, x) - special.loggamma(x).real


for x in [0.5, 2.0, 3.5]:
    assert mix(x) == py_mix(x)
    print(f"mix({x}) = {mix(x):.15f}  (scipy.special: {py_mix(x):.15f})")

native_value = integrate.quad(mix.lowlevelcallable(), 0.5, 4.0)[0]
python_value = integrate.quad(py_mix, 0.5, 4.0)[0]
print(f"quad of mix over [0.5, 4]: native {native_value:.15f}, Python {python_value:.15f}")
assert math.isclose(native_value, python_value, rel_tol=1e-13)
