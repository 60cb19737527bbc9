"""The tooling behind ``python -m nativecall``: the ``inspect`` listing, the ``demo`` tour
and the ``bench`` measurements with their scipy, Cython and Numba scenarios.

Nothing in the runtime imports this package (``import nativecall``, compiling a kernel and
handing it to scipy never load it); ``nativecall/__main__.py`` imports a tool when its
command runs.
"""
