"""Print every distinct ``__pyx_capi__`` capsule name in scipy's Cython APIs.

The output is ``scipy_capsule_names.txt``, which ``cargo test`` parses without Python.
"""

import ctypes
import importlib

MODULES = [
    "scipy.special.cython_special",
    "scipy.optimize.cython_optimize._zeros",
    "scipy.linalg.cython_blas",
    "scipy.linalg.cython_lapack",
]


def capsule_names():
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    names = set()
    for module in MODULES:
        for capsule in importlib.import_module(module).__pyx_capi__.values():
            names.add(get_name(capsule).decode())
    return sorted(names)


if __name__ == "__main__":
    import scipy

    print("# Every distinct __pyx_capi__ capsule name in scipy %s's cython_special, cython_optimize," % scipy.__version__)
    print("# cython_blas and cython_lapack (regenerate: python tests/data/collect_capsule_names.py).")
    print("\n".join(capsule_names()))
