"""A C function from a shared library, handed to scipy.integrate.quad with no C glue.

ctypes describes the function; nativecall reads that description, checks it, and
turns it into the LowLevelCallable scipy wants, so quad calls C directly.
"""

import ctypes
import ctypes.util
import math

from scipy import integrate

import nativecall

libm = ctypes.CDLL(ctypes.util.find_library("m"))
libm.erfc.restype = ctypes.c_double
libm.erfc.argtypes = [ctypes.c_double]

erfc = nativecall.native(libm.erfc)
print(erfc)  # <nativecall.NativeCallable erfc: double (double) at 0x...>

native_value, _ = integrate.quad(erfc.lowlevelcallable(), 0.0, 3.0)
python_value, _ = integrate.quad(math.erfc, 0.0, 3.0)
print(f"quad(erfc, 0, 3): native {native_value:.15f}, Python {python_value:.15f}")
assert math.isclose(native_value, python_value, rel_tol=1e-14)
