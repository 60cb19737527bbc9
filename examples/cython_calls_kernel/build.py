"""Build integrate.pyx in place, then run it on a kernel.

    python examples/cython_calls_kernel/build.py

The only nativecall-specific step is the include path: `nativecall.get_include()` holds
nativecall.pxd (for `cimport`) and nativecall.h (for the C compiler).
"""

import math
import os
import subprocess
import sys
import sysconfig

from Cython.Build import cythonize

import nativecall

here = os.path.dirname(os.path.abspath(__file__))
os.chdir(here)
cythonize(["integrate.pyx"], include_path=[nativecall.get_include()], quiet=True)
target = "integrate" + sysconfig.get_config_var("EXT_SUFFIX")
subprocess.run(
    ["gcc", "-O2", "-shared", "-fPIC", f"-I{sysconfig.get_paths()['include']}", f"-I{nativecall.get_include()}",
     "-o", target, "integrate.c"],
    check=True,
)  # fmt: skip
sys.path.insert(0, here)
import integrate  # noqa: E402


@nativecall.jit("float64(float64)")
def bell(x):
    return math.exp(-x * x)


value = integrate.simpson(bell, -5.0, 5.0, 10_000)
print(f"Cython's simpson() over a nativecall kernel: {value:.12f} (√π = {math.sqrt(math.pi):.12f})")
assert abs(value - math.sqrt(math.pi)) < 1e-9
