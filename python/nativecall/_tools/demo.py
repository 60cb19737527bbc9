"""The tour behind ``make demo``: every scenario compiles its kernel, runs it through
scipy, Cython or Numba, checks the answer against the pure-Python way, and shows the
timings side by side (medians, measured in one process)."""

from __future__ import annotations

import sys
import time


def _fmt(seconds):
    if seconds is None:
        return "—"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def table(rows, headers, out=sys.stdout):
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    out.write("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip() + "\n")
    out.write("  ".join("─" * w for w in widths) + "\n")
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n")


def run(repeats=3, min_time=0.02) -> int:
    from .. import _jit  # noqa: F401  (the frontend loads once, before any timing)
    from . import scenarios

    t_start = time.perf_counter()
    print("nativecall tour: native callbacks where people use them, timed against the Python way.\n")
    print("building the native references (gcc, Cython) ...", flush=True)
    build = scenarios.Build()
    rows = []
    all_ok = True
    for cls in scenarios.SCENARIOS:
        print(f"  {cls.name} ...", flush=True)
        sc = cls(build)
        ok = sc.check()
        all_ok &= ok
        t = scenarios.measure(sc, repeats, min_time)
        ref = t.get("c", t.get("cython"))
        rows.append([
            sc.name,
            _fmt(t["python"] if "python" in t else None),
            _fmt(t.get("nativecall")),
            f"{t['python'] / t['nativecall']:.0f}×" if "nativecall" in t else "—",
            _fmt(sc.compile.get("nativecall")),
            _fmt(ref),
            _fmt(t.get("numba")),
            _fmt(sc.compile.get("numba")),
            "yes" if ok else "NO",
        ])  # fmt: skip
    print()
    table(
        rows,
        ["scenario", "Python way", "nativecall", "speed-up", "compile", "C/Cython", "Numba", "Numba compile", "same answer"],
    )
    print(
        "\nTimes are per scenario unit (a quad call, a filter, 100 000 roots, a 10⁶-call loop); the"
        "\nPython loops run a sample and are scaled. 'compile' is @nativecall.jit plus the adapter"
        "\nto the consumer's signature. `python -m nativecall bench` repeats this interleaved and"
        "\nprints ratios against the targets."
    )
    print(f"\nTour finished in {time.perf_counter() - t_start:.1f} s.")
    return 0 if all_ok else 1
