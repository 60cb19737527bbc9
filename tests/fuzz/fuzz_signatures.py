"""Signature-parser fuzzer: mutations of the real spellings scipy's Cython modules export
(tests/data/scipy_capsule_names.txt), of Numba and C spellings, random text and deep
nesting. Every input must parse to a Signature that prints and parses back to an equal
one, or raise SignatureError (a ValueError); nothing else.

Run it with ``python tests/fuzz/runner.py fuzz_signatures`` (``make fuzz`` does).
"""

import random
import re
from pathlib import Path

import nativecall

NAME = "signatures"
COUNT = 1_000_000  # inputs in `make fuzz` (NATIVECALL_FUZZ_SCALE=1); the suite runs fewer

MAX_DEPTH = 64  # types nest at most this many levels deep (docs/semantics.md)
DEEP_LIMIT = 100_000  # the deepest nesting generated

_NAMES = Path(__file__).resolve().parent.parent / "data" / "scipy_capsule_names.txt"
REAL = [ln for ln in _NAMES.read_text().splitlines() if ln and not ln.startswith("#")]
REAL += [
    "float64(float64, intp)", "void(float64[:, :], float64)", "int32(int64[:], float32[::1])",
    "float64(float64[:, ::1])", "double (int, double *)", "int (double *, npy_intp, double *, void *)",
    "double (double, void *)", "double (*)(double, void *)", "void (double (*)(double), double)",
    "bool(CPointer(float64), voidptr)", "complex128(complex64)", "const double *(const char *, ...)",
    "double complex (double complex)", "struct zeros_full_output (double, int)", "uint8(uint8)",
    "double (double, int __pyx_skip_dispatch)", "DLTensor *(DLTensor *)", "float64(float64[:, :, :])",
]  # fmt: skip
WORDS = sorted({w for s in REAL for w in s.replace("(", " ").replace(")", " ").replace(",", " ").replace("*", " ").split()})
WORDS += ["const", "struct", "unsigned", "signed", "long", "short", "char", "void", "...", "CPointer", "none"]
PUNCT = list("()*,[]:;0123456789 _-+&<>{}.\t\n") + ["::1", "::2", "[:]", "[::1]", "(*)", "::", "::-1", "[:,:]"]
ALPHABET = "abcdefghijklmnopqrstuvwxyz_0123456789 ()*,[]:;.-+&\t\n\x00\\\"'é€\U0001f600\ud800"


def _mutate(rng, text):
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        n = len(text)
        at = rng.randint(0, n)
        if op == 0 and n:  # delete a span
            text = text[:at] + text[at + rng.randint(1, 4):]
        elif op == 1:  # insert punctuation
            text = text[:at] + rng.choice(PUNCT) + text[at:]
        elif op == 2:  # insert a word
            text = text[:at] + rng.choice(WORDS) + rng.choice(["", " "]) + text[at:]
        elif op == 3 and n:  # duplicate a span
            end = rng.randint(at, n)
            text = text[:end] + text[at:end] + text[end:]
        elif op == 4:  # splice with another real spelling
            other = rng.choice(REAL)
            text = text[:at] + other[rng.randint(0, len(other)):]
        elif op == 5 and n:  # replace one character
            text = text[:at] + rng.choice(ALPHABET) + text[at + 1:]
        else:  # replace a word by another
            words = text.split(" ")
            k = rng.randrange(len(words))
            words[k] = rng.choice(WORDS)
            text = " ".join(words)
    return text


# Deep nesting: each shape spelled for `d` repetitions of its unit, a pattern whose group
# holds the repetitions, and how many levels it nests, so attempt() knows whether it must
# parse (at most MAX_DEPTH levels) or be refused with a SignatureError (more).
DEEP_SHAPES = [
    (lambda d: "int " + "*" * d + "(void)", r"int (\*+)\(void\)", "*", lambda d: d + 1),
    (lambda d: "float64(" + "CPointer(" * d + "float64" + ")" * d + ")", r"float64\(((?:CPointer\()+)float64\)+",
     "CPointer(", lambda d: d + 1),
    (lambda d: "void (" + "void (*)(" * d + "int" + ")" * d + ")", r"void \(((?:void \(\*\)\()+)int\)+",
     "void (*)(", lambda d: 2 * d + 1),
    (lambda d: "void (" + "double *(*)(" * d + "int" + ")" * d + ")", r"void \(((?:double \*\(\*\)\()+)int\)+",
     "double *(*)(", lambda d: 3 * d + 1),
    (lambda d: "int f(double x" + "[]" * d + ")", r"int f\(double x((?:\[\])+)\)", "[]", lambda d: d + 1),
    (lambda d: "int(" + ", ".join(["double"] * d) + ")", r"int\(((?:double, )*double)\)", "double", lambda d: 1),
]  # fmt: skip
# Never types at any depth: only "no crash" is asked of these.
DEEP_NONSENSE = [
    lambda d: "double (" + "(" * d + "x" + ")" * d + ")",
    lambda d: "(" * d + "int" + ")" * d,
    lambda d: "(" * d + "int",
    lambda d: "void (*)(" * d + "int" + ")" * d,
]


def _deep(rng):
    if rng.random() < 0.2:
        return rng.choice(DEEP_NONSENSE)(rng.randint(1, DEEP_LIMIT))
    spell, _, _, levels = rng.choice(DEEP_SHAPES)
    if rng.random() < 0.5:  # around the limit: the deepest that parse and the first refused
        d = 1
        while levels(d) <= MAX_DEPTH and d <= MAX_DEPTH:  # (parameters do not add up)
            d += 1
        return spell(max(1, d + rng.randint(-2, 1)))
    return spell(int(rng.choice([10, 100, 1000, 3000, DEEP_LIMIT]) * rng.random()) + 1)


def nesting(text):
    """The levels a deep shape nests (None: `text` is not one of DEEP_SHAPES)."""
    for _, pattern, unit, levels in DEEP_SHAPES:
        m = re.fullmatch(pattern, text)
        if m:
            return levels(m[1].count(unit))
    return None


def generate(seed, i):
    rng = random.Random(seed * 1_000_003 + i)
    r = rng.random()
    if r < 0.75:
        return _mutate(rng, rng.choice(REAL))
    if r < 0.95:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))
    return _deep(rng)


def attempt(text):
    levels = nesting(text)
    try:
        sig = nativecall.Signature(text)
    except nativecall.SignatureError as e:
        if levels is not None and levels <= MAX_DEPTH:
            return f"nests {levels} levels, within the limit of {MAX_DEPTH}, and was refused: {e}"
        if levels is not None and "nest at most" not in str(e):
            return f"nests {levels} levels, past the limit of {MAX_DEPTH}, and was refused for another reason: {e}"
        return None
    except BaseException as e:  # noqa: BLE001 - every other exception is a finding
        return f"{type(e).__name__}: {e}"
    if levels is not None and levels > MAX_DEPTH:
        return f"nests {levels} levels, past the limit of {MAX_DEPTH}, and was accepted"
    try:
        printed = str(sig)
        again = nativecall.Signature(printed)
    except BaseException as e:  # noqa: BLE001
        return f"printing or re-parsing the parsed signature failed: {type(e).__name__}: {e}"
    if again != sig:
        return f"parses to {printed!r}, which parses to a different signature {str(again)!r}"
    return None


def known_issue(text, problem):
    return None  # no open issue: every finding fails the run
