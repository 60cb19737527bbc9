"""The package itself: stubs, import cost, examples."""

import math
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import check_stubs  # noqa: E402


def test_stubs_declare_exactly_the_extension_module():
    assert check_stubs.problems() == []


def test_type_kind_documents_every_kind_a_type_has():
    import re

    import nativecall

    documented = re.findall(r"`(\w+)`", nativecall.Type.kind.__doc__)
    texts = ["void", "bool", "int32", "double", "double _Complex", "double *", "struct point", "DLTensor",
             "double (double)", "float64[:, ::1]"]  # fmt: skip
    assert sorted(nativecall.Type(t).kind for t in texts) == sorted(documented)


def test_import_nativecall_does_not_import_heavy_libraries():
    code = (
        "import sys, nativecall; "
        "print(sorted(m for m in ('numpy', 'scipy', 'cffi', 'numba', 'ctypes') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# The runtime: every module of the package but the tooling (nativecall._tools, run by
# `python -m nativecall`), the scipy-facing `optimize`, and the transonic plugin.
RUNTIME_MODULES = ["nativecall", "nativecall._cfunc", "nativecall._dispatch", "nativecall._errors",
                   "nativecall._interop", "nativecall._ir", "nativecall._jit", "nativecall._numba",
                   "nativecall._pickle", "nativecall._views", "nativecall.types"]  # fmt: skip


def test_the_runtime_modules_are_every_module_but_the_tools_optimize_and_transonic():
    import pkgutil

    import nativecall

    found = {f"nativecall.{m.name}" for m in pkgutil.iter_modules(nativecall.__path__)}
    assert found - {"nativecall._native", "nativecall.__main__"} == (
        set(RUNTIME_MODULES[1:]) | {"nativecall._tools", "nativecall.optimize", "nativecall.transonic"}
    )


@pytest.mark.parametrize("module", RUNTIME_MODULES)
def test_no_runtime_module_imports_scipy_numpy_or_the_tools_when_imported(module):
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'scipy', 'numba', 'Cython') "
        "or m.startswith('nativecall._tools')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_compiling_a_kernel_and_integrating_it_with_scipy_never_loads_the_tools():
    code = """if True:
        import math, sys
        from scipy import integrate
        import nativecall

        @nativecall.jit("float64(float64)")
        def bell(x):
            return math.exp(-x * x)

        print(integrate.quad(bell.lowlevelcallable(), -3.0, 3.0)[0])
        print(sorted(m for m in sys.modules if m.startswith("nativecall._tools") or m == "nativecall.__main__"))
    """
    with tempfile.TemporaryDirectory() as tmp:  # kernels need their source in a file
        script = Path(tmp) / "quad_kernel.py"
        script.write_text(code)
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    value, tools = out.splitlines()
    assert float(value) == pytest.approx(math.sqrt(math.pi) * math.erf(3.0), rel=1e-12)
    assert tools == "[]"


def test_python_m_nativecall_loads_only_the_tool_its_command_runs():
    code = (
        "import sys, runpy; sys.argv = ['nativecall', 'inspect', 'scipy.optimize.cython_optimize._zeros']; "
        "import io, contextlib\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        runpy.run_module('nativecall', run_name='__main__')\n"
        "    except SystemExit as e:\n        status = e.code\n"
        "print(status, sorted(m for m in sys.modules if m.startswith('nativecall._tools')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split(None, 1) == ["0", "['nativecall._tools', 'nativecall._tools.exports']\n"]


def _example_lines(name, g):
    """What each example must print: values computed here from NumPy, scipy and math
    (or from the example's own inputs), never read back from its results."""
    import math

    import numpy as np
    from scipy import integrate, special

    if name == "arrays.py":
        v = np.linalg.norm(np.arange(10.0)[::-3])
        return [
            f"norm of a reversed, strided view: {v} = {v}",
            # A 3x3 mean of ones, times 2, in nativecall-owned memory.
            f"nativecall.Array(shape=[3, 4], dtype=float64, strides=[4, 1]) -> {np.full(4, 2.0)}",
            "read-only output refused: argument 2 of blur3 (float64[:, :]) is read-only, and the kernel writes to it",
        ]
    if name == "dask_ufunc.py":
        x = np.linspace(-3.0, 3.0, 2_000_000)
        return [
            "threaded scheduler: ufunc application and map_blocks agree with NumPy",
            f"LocalCluster with 2 worker processes: sum {(np.exp(-x * x) * np.cos(x)).sum():.6f}",
        ]
    if name == "ndimage_filters.py":
        return [
            "generic_filter1d box blur matches ndimage.uniform_filter1d",
            f"geometric_transform rotation: output (256, 256), mean {g['rotated'].mean():.4f}",
        ]
    if name == "numba_interop.py":
        smooth = [min(max(x, 0.0), 1.0) ** 2 * (3.0 - 2.0 * min(max(x, 0.0), 1.0)) for x in (-1.0, 0.25, 0.5, 2.0)]
        return [
            f"circumference from a kernel inside njit: {2 * math.pi:.6f} (2π = {2 * math.pi:.6f})",
            f"kernel passed as an njit argument: {math.hypot(3.0, 4.0)}",
            f"Numba cfunc inside a kernel: {smooth}",
        ]
    if name == "quad_from_ctypes.py":
        v = f"{integrate.quad(math.erfc, 0, 3)[0]:.15f}"
        return ["<nativecall.NativeCallable erfc: double (double) at 0x", f"quad(erfc, 0, 3): native {v}, Python {v}"]
    if name == "quad_gaussian.py":
        v = f"{math.erf(5 / math.sqrt(2)):.15f}"  # the normal density over ±5σ
        return [f"N({mu}, {s}) over ±5σ: native {v}  Python {v}" for mu, s in [(0.0, 1.0), (1.0, 0.5), (-2.0, 3.0)]] + [
            f"N(1, 0.5) over [-1.5, 3.5] with packed user data: {v}"
        ]
    if name == "roots.py":
        return ["all converged: True"]
    if name == "special_functions.py":

        def mix(x):
            return special.gamma(x) * special.erf(x) + special.jv(1.5, x) - special.loggamma(x).real

        quad = f"{integrate.quad(mix, 0.5, 4)[0]:.15f}"
        return [
            f"-> {special.gamma(5.0)}",
            "double _Complex (double _Complex) at 0x",
            f"-> {special.gamma(1 + 1j)}",
            "at the C ABI: double (double, int) (Cython's __pyx_skip_dispatch is filled in)",
            *[f"mix({x}) = {mix(x):.15f}  (scipy.special: {mix(x):.15f})" for x in [0.5, 2.0, 3.5]],
            f"quad of mix over [0.5, 4]: native {quad}, Python {quad}",
        ]
    if name == "typed_quad.py":
        samples = [0.5, 1.5, 2.0]
        return [
            "gaussian: double (double, double, double)",
            f"P(|X| < 2σ) = {math.erf(2 / math.sqrt(2)):.12f}",
            f"sums: {sum(samples)} {sum(samples)} {sum(samples[::-2])}",
        ]
    if name == "ufunc.py":
        where = np.full(5, -1.0)
        where[::2] = np.exp(-np.arange(0.0, 5.0, 2) ** 2) * np.cos(np.arange(0.0, 5.0, 2))
        return [
            "<ufunc 'damped'> <class 'numpy.ufunc'> ['f->f', 'd->d']",
            "float32 loop: float32 | broadcasting: (3, 4)",
            f"out= and where=: {where}",
            f"add.reduce(0..9) = {sum(range(10))} | add.accumulate: {np.cumsum(np.arange(5.0))}",
        ]
    raise AssertionError(f"{name}: say here what this example must print")


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.py")), ids=lambda p: p.name)
def test_examples_print_the_values_they_show(example, capsys):
    g = runpy.run_path(str(example), run_name="__main__")
    out = capsys.readouterr().out
    for line in _example_lines(example.name, g):
        assert line in out, f"{example.name} should print {line!r}; it printed:\n{out}"


def _shown_value(comment):
    """The value a README comment shows after '→' (the longest prefix that is a Python
    literal: '# → 24.0, called through libffi' shows 24.0), else None."""
    import ast

    if "→" not in comment:
        return None
    rest = comment.split("→", 1)[1].strip()
    cuts = [len(rest)] + [i for i in range(len(rest) - 1, 0, -1) if rest[i] in ", "]
    for cut in cuts:
        if rest[:cut].endswith(","):  # '24.0,' would read as a tuple
            continue
        try:
            return (ast.literal_eval(rest[:cut]), rest[:cut])
        except (ValueError, SyntaxError):
            continue
    raise AssertionError(f"README comment {comment!r} shows no Python literal after '→'")


def _agrees(got, shown):
    """``got`` equals ``shown`` to the digits the README prints."""
    if hasattr(got, "tolist"):
        got = got.tolist()
    if isinstance(shown, float):
        digits = len(repr(shown).lstrip("-0.").replace(".", "").split("e")[0])
        return isinstance(got, float) and float(f"{got:.{max(digits, 1)}g}") == shown
    if isinstance(shown, (list, tuple)):
        return isinstance(got, (list, tuple)) and len(got) == len(shown) and all(map(_agrees, got, shown))
    return type(got) is type(shown) and got == shown


def test_readme_python_snippets_print_the_values_they_show(tmp_path):
    import ast
    import io
    import re
    import tokenize

    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 2, "the README shows Python usage"
    checked = 0
    for k, block in enumerate(blocks):
        comments = {
            tok.start[0]: tok.string
            for tok in tokenize.generate_tokens(io.StringIO(block).readline)
            if tok.type == tokenize.COMMENT
        }
        lines = block.splitlines()
        shown = {}
        for stmt in ast.parse(block).body:
            value = _shown_value(comments.get(stmt.end_lineno, ""))
            if value is None:
                continue
            assert isinstance(stmt, ast.Expr), f"README line {lines[stmt.lineno - 1]!r} shows a value but is no expression"
            name = f"_shown_{stmt.lineno}"
            lines[stmt.lineno - 1] = f"{name} = {lines[stmt.lineno - 1]}"
            shown[name] = (value, lines[stmt.lineno - 1])
        # Run from a real file: kernels read their source.
        path = tmp_path / f"readme_{k}.py"
        path.write_text("\n".join(lines) + "\n")
        g = runpy.run_path(str(path), run_name="__main__")
        for name, ((want, spelled), line) in shown.items():
            assert _agrees(g[name], want), f"README shows {spelled} for {line!r}; it gives {g[name]!r}"
            checked += 1
    assert checked >= 8, f"only {checked} README values are checked"


def test_cython_calls_kernel_example_builds_and_runs(tmp_path):
    import shutil

    pytest.importorskip("Cython")
    example = tmp_path / "cython_calls_kernel"
    shutil.copytree(ROOT / "examples" / "cython_calls_kernel", example)
    out = subprocess.run([sys.executable, str(example / "build.py")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "simpson() over a nativecall kernel: 1.7724538509" in out.stdout


def test_the_demo_prints_the_table(capsys):
    from nativecall._tools import demo

    assert demo.run(repeats=1, min_time=0.0) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("scenario"))
    for column in ["Python way", "nativecall", "speed-up", "compile", "C/Cython", "Numba", "same answer"]:
        assert column in header
    for scenario in ["quad", "generic_filter", "brentq", "Cython loop", "njit loop"]:
        assert scenario in out
    assert " NO" not in out


def test_bench_runs_and_writes_json(tmp_path):
    report = tmp_path / "bench.json"
    out = subprocess.run(
        [sys.executable, "-m", "nativecall", "bench", "--quick", "--only", "compile", "--only", "codegen",
         "--json", str(report)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    import json

    data = json.loads(report.read_text())
    assert data["compile"]["nativecall_median_s"] > 0
    assert all(loop["same_result"] for loop in data["codegen"]["loops"])
    assert "ratio" in out.stdout
