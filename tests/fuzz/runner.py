"""Run a fuzzer's inputs in a child process, so that a crash is a finding, not the end.

A fuzzer is a module with ``NAME``, ``generate(seed, i)`` (input ``i`` of a seeded run,
reproducible on its own), ``attempt(input)`` (None when the input is handled as
documented, else a short description of what went wrong) and ``known_issue(input,
finding)`` (the number of an open issue-9 item the finding belongs to, or None).

The parent starts a worker, which writes the index it is about to try into a progress
file before each input. When the worker dies (a signal, an abort) or stops making
progress, the parent reads the index, regenerates that input, records it as a finding and
starts a new worker after it. Findings that belong to a known, open issue item are
reported apart and do not fail the run. ``--record`` appends new findings to the
corpus (``tests/fuzz_corpus/<NAME>.jsonl``), which every run replays first.
"""

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "fuzz_corpus"
STALL_SECONDS = 30  # a worker that tries one input this long is hung


def scale():
    return float(os.environ.get("NATIVECALL_FUZZ_SCALE", "1"))


def corpus(name):
    path = CORPUS / f"{name}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _inputs(fuzzer, seed, replay):
    """Input ``i`` of this run: the corpus entries first (when replaying), then generated ones."""
    past = [entry["input"] for entry in corpus(fuzzer.NAME)] if replay else []

    def get(i):
        return past[i] if i < len(past) else fuzzer.generate(seed, i - len(past))

    return get, len(past)


def worker(module, seed, start, stop, replay, progress):
    fuzzer = importlib.import_module(module)
    get, _ = _inputs(fuzzer, seed, replay)
    fd = os.open(progress, os.O_WRONLY)
    for i in range(start, stop):
        os.pwrite(fd, b"%20d" % i, 0)
        inp = get(i)
        problem = fuzzer.attempt(inp)
        if problem is not None:
            print(json.dumps({"index": i, "problem": problem}), flush=True)
    os.pwrite(fd, b"%20d" % stop, 0)


def run(module, count, seed, replay=True, record=False, out=sys.stdout):
    """Try the corpus and ``count`` generated inputs; the findings, as dicts."""
    fuzzer = importlib.import_module(module)
    get, n_past = _inputs(fuzzer, seed, replay)
    stop = n_past + count
    findings, start = [], 0
    with tempfile.NamedTemporaryFile() as progress:
        while start < stop:
            os.pwrite(progress.fileno(), b"%20d" % start, 0)
            cmd = [sys.executable, __file__, "--worker", module, "--seed", str(seed), "--start", str(start),
                   "--stop", str(stop), "--progress", progress.name] + (["--replay"] if replay else [])  # fmt: skip
            env = dict(os.environ, PYTHONFAULTHANDLER="1")
            child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                     cwd=str(Path(__file__).resolve().parent))  # fmt: skip
            last, since = -1, time.monotonic()
            while child.poll() is None:
                time.sleep(0.05)
                at = int(os.pread(progress.fileno(), 20, 0))
                if at != last:
                    last, since = at, time.monotonic()
                elif time.monotonic() - since > STALL_SECONDS:
                    child.kill()
            stdout, stderr = child.communicate()
            for line in stdout.decode().splitlines():
                f = json.loads(line)
                findings.append({"input": get(f["index"]), "problem": f["problem"], "index": f["index"]})
            at = int(os.pread(progress.fileno(), 20, 0))
            if child.returncode == 0 and at >= stop:
                break
            lines = stderr.decode(errors="replace").strip().splitlines()
            fatal = [ln for ln in lines if ln.startswith(("Fatal Python error", "thread '", "memory allocation"))]
            how = "hang" if child.returncode == -9 else f"crash (exit status {child.returncode})"
            detail = " / ".join(fatal or lines[-3:])
            findings.append({"input": get(at), "problem": f"{how}: {detail}", "index": at})
            start = at + 1
    for f in findings:
        f["from_corpus"] = f.pop("index") < n_past
        f["known_issue"] = fuzzer.known_issue(f["input"], f["problem"])
    if record:
        seen = {json.dumps(e["input"]) for e in corpus(fuzzer.NAME)}
        new = [f for f in findings if not f["from_corpus"] and json.dumps(f["input"]) not in seen]
        with open(CORPUS / f"{fuzzer.NAME}.jsonl", "a") as fh:
            for f in new:
                seen.add(json.dumps(f["input"]))
                entry = {"input": f["input"], "problem": f["problem"]}
                fh.write(json.dumps(entry) + "\n")
    known = [f for f in findings if f["known_issue"] is not None]
    unknown = [f for f in findings if f["known_issue"] is None]
    print(f"{fuzzer.NAME}: {n_past} corpus inputs and {count} generated (seed {seed}); "
          f"{len(unknown)} findings, {len(known)} of known open issues", file=out)  # fmt: skip
    for f in known:
        print(f"  known (issue 9 item {f['known_issue']}): {_show(f['input'])}: {f['problem'][:200]}", file=out)
    for f in unknown:
        print(f"  FINDING: {_show(f['input'])}\n    {f['problem'][:500]}", file=out)
    return findings


def _show(inp, limit=300):
    text = repr(inp)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("module", help="the fuzzer module (signatures or kernels)")
    p.add_argument("--count", type=int, help="generated inputs (default: the fuzzer's COUNT times NATIVECALL_FUZZ_SCALE)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-replay", action="store_true", help="skip the corpus of past findings")
    p.add_argument("--record", action="store_true", help="append new findings to the corpus")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--start", type=int, help=argparse.SUPPRESS)
    p.add_argument("--stop", type=int, help=argparse.SUPPRESS)
    p.add_argument("--progress", help=argparse.SUPPRESS)
    p.add_argument("--replay", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        worker(a.module, a.seed, a.start, a.stop, a.replay, a.progress)
        return 0
    fuzzer = importlib.import_module(a.module)
    count = a.count if a.count is not None else int(fuzzer.COUNT * scale())
    findings = run(a.module, count, a.seed, replay=not a.no_replay, record=a.record)
    return 1 if any(f["known_issue"] is None for f in findings) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
