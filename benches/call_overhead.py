"""What one call costs, both ways: nativecall kernels and native functions side by side
with a Python ``def``, ``math.sqrt``, a Cython ``def``, ctypes, cffi and Numba, in one
process. The same figures as ``python -m nativecall bench --only calls``
(``nativecall._tools.call_bench`` describes the rows).

    python benches/call_overhead.py [--rounds N] [--calls N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json

from nativecall._tools.call_bench import measure, report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--json", help="also write the figures to this file")
    a = parser.parse_args(argv)
    results = measure(a.rounds, a.calls)
    print(report(results))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
