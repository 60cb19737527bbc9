"""Typing checked for real: mypy's stubtest compares _native.pyi with the built module,
and mypy --strict accepts the typed example and rejects misuse the stubs describe."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mypy(*args, cwd=ROOT):
    done = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=cwd)
    return done.returncode, done.stdout + done.stderr


def test_the_stubs_agree_with_the_built_module_under_stubtest():
    code, out = mypy("mypy.stubtest", "nativecall._native")
    assert code == 0 and "Success: no issues found" in out, out


def test_the_typed_example_passes_mypy_strict():
    code, out = mypy("mypy", "--strict", "examples/typed_quad.py")
    assert code == 0 and "Success: no issues found in 1 source file" in out, out


def test_mypy_strict_sees_the_types_of_nativecall_objects(tmp_path):
    misuse = tmp_path / "misuse.py"
    misuse.write_text(
        textwrap.dedent(
            """
            import nativecall

            @nativecall.jit
            def twice(x: float) -> float:
                return 2.0 * x

            ndim: str = nativecall.asarray(b"ab").ndim
            ro: str = nativecall.zeros(3).readonly
            sig: nativecall.Type = twice.signature
            """
        )
    )
    code, out = mypy("mypy", "--strict", str(misuse), "--cache-dir", str(ROOT / ".mypy_cache"))
    assert code == 1, out
    assert 'misuse.py:8: error: Incompatible types in assignment (expression has type "int", variable has type "str")' in out
    assert 'misuse.py:9: error: Incompatible types in assignment (expression has type "bool", variable has type "str")' in out
    assert 'misuse.py:10: error: Incompatible types in assignment (expression has type "Signature", variable has type "Type")' in out
    assert "Found 3 errors in 1 file" in out
