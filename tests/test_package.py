"""The package itself: stubs, import cost, examples."""

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import check_stubs  # noqa: E402


def test_stubs_declare_exactly_the_extension_module():
    assert check_stubs.problems() == []


def test_import_nativecall_does_not_import_heavy_libraries():
    code = (
        "import sys, nativecall; "
        "print(sorted(m for m in ('numpy', 'scipy', 'cffi', 'numba', 'ctypes') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.py")), ids=lambda p: p.name)
def test_examples_run(example, capsys):
    runpy.run_path(str(example), run_name="__main__")
    assert capsys.readouterr().out.strip(), f"{example.name} printed nothing"


def test_readme_python_snippets_run(tmp_path):
    import re

    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 2, "the README shows Python usage"
    for k, block in enumerate(blocks):
        # Run from a real file: kernels read their source.
        path = tmp_path / f"readme_{k}.py"
        path.write_text(block)
        runpy.run_path(str(path), run_name="__main__")


def test_cython_calls_kernel_example_builds_and_runs(tmp_path):
    import shutil

    pytest.importorskip("Cython")
    example = tmp_path / "cython_calls_kernel"
    shutil.copytree(ROOT / "examples" / "cython_calls_kernel", example)
    out = subprocess.run([sys.executable, str(example / "build.py")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "simpson() over a nativecall kernel: 1.7724538509" in out.stdout


def test_the_demo_prints_the_table(capsys):
    from nativecall import _demo

    assert _demo.run(repeats=1, min_time=0.0) == 0
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
