"""The fuzzers, seeded and bounded, in the suite (issue 9 item 17): signatures (mutations
of real spellings, random text, deep nesting) and kernel sources (mutations of valid
kernels), each in child processes so that a crash is a failure that prints its input.
Every run first replays tests/fuzz_corpus/, the findings of past runs.

Only SignatureError and CompileError (and subclasses) may come out: types nested past 64
levels must be refused, kernel expressions nested past 100 levels must be a CompileError,
and a RecursionError or a Rust panic is a finding like any other. No issue is open, so
known_issue() in both fuzzers reports none.
`make fuzz` runs 10**6 signatures and 10**4 kernels; NATIVECALL_FUZZ_SCALE scales both.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent / "fuzz"
SCALE = float(os.environ.get("NATIVECALL_FUZZ_SCALE", "1"))
SEED = 20260901  # fixed, so a failure here reproduces with the command it prints


def fuzz(module, count, *extra, env=None):
    cmd = [sys.executable, str(FUZZ / "runner.py"), module, "--count", str(count), "--seed", str(SEED), *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    return out, " ".join(cmd[1:])


@pytest.mark.parametrize("module, count", [("fuzz_signatures", 20_000), ("fuzz_kernels", 600)])
def test_the_fuzzers_find_nothing_but_documented_errors(module, count):
    out, cmd = fuzz(module, int(count * SCALE))
    assert out.returncode == 0, f"{cmd}\n{out.stdout}\n{out.stderr}"
    summary = out.stdout.splitlines()[0]
    assert f"{int(count * SCALE)} generated" in summary and " 0 findings" in summary, out.stdout


def test_the_corpus_of_past_findings_is_replayed():
    for name in ("signatures", "kernels"):
        entries = (FUZZ.parent / "fuzz_corpus" / f"{name}.jsonl").read_text().splitlines()
        out, cmd = fuzz(f"fuzz_{name}", 0)
        assert out.returncode == 0, f"{cmd}\n{out.stdout}\n{out.stderr}"
        # Past findings (deep nesting, codegen panics included) all replay as documented errors.
        assert out.stdout.startswith(f"{name}: {len(entries)} corpus inputs and 0 generated"), out.stdout
        assert "; 0 findings, 0 of known open issues" in out.stdout.splitlines()[0], out.stdout


def test_a_crash_is_reported_with_its_input_and_the_run_goes_on(tmp_path):
    (tmp_path / "fuzz_toy.py").write_text(textwrap.dedent('''
        import ctypes

        NAME = "toy"
        COUNT = 10

        def generate(seed, i):
            return f"input-{i}"

        def attempt(text):
            if text == "input-3":
                ctypes.string_at(0)  # a segmentation fault
            if text == "input-5":
                return "ValueError: not documented"
            if text == "input-7":
                raise SystemExit(3)  # the worker dies without a signal
            return None

        def known_issue(text, problem):
            return 1 if text == "input-7" else None
    '''))  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    out, _ = fuzz("fuzz_toy", 10, "--no-replay", env=env)
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert lines[0] == "toy: 0 corpus inputs and 10 generated (seed 20260901); 2 findings, 1 of known open issues"
    assert "known (issue 9 item 1): 'input-7': crash (exit status 3)" in out.stdout
    assert any("FINDING: 'input-3'" in ln for ln in lines)
    assert "crash (exit status -11): Fatal Python error: Segmentation fault" in out.stdout
    assert any("FINDING: 'input-5'" in ln for ln in lines) and "ValueError: not documented" in out.stdout
