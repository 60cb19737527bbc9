"""The documentation in docs/ (built by `make docs`) says only what the code does.

Every ```python block of every page runs here, on its own, from a file of its own (kernels
read their source), and asserts the values it shows; a block that cannot run alone is
fenced ```python no-run, and there are few. The API reference lists every public name
of `nativecall`, `nativecall.optimize` and `nativecall.transonic`, and every command
and option of `python -m nativecall`; the docstrings' own examples run as doctests.
"""

import ast
import doctest
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import nativecall

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
API = DOCS / "api.md"
FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)
# At most this many blocks may be shown without running (```python no-run).
MAX_NOT_RUN = 3


def _blocks():
    out = []
    for page in PAGES:
        text = page.read_text()
        for m in FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            out.append((page.name, line, m.group(1).strip(), m.group(2)))
    return out


BLOCKS = _blocks()
RUNNABLE = [b for b in BLOCKS if b[2] != "no-run"]


def test_the_pages_show_python_examples_and_mark_every_unrunnable_one():
    assert len(PAGES) >= 10, [p.name for p in PAGES]
    assert len(RUNNABLE) >= 20, f"only {len(RUNNABLE)} runnable examples"
    infos = {info for _, _, info, _ in BLOCKS}
    assert infos <= {"", "no-run"}, f"unknown ```python fence options: {infos - {'', 'no-run'}}"
    not_run = [f"{page}:{line}" for page, line, info, _ in BLOCKS if info == "no-run"]
    assert len(not_run) <= MAX_NOT_RUN, f"too many examples that do not run: {not_run}"


@pytest.mark.parametrize("page, line, info, code", RUNNABLE, ids=[f"{b[0]}:{b[1]}" for b in RUNNABLE])
def test_every_docs_example_runs_and_asserts_what_it_shows(page, line, info, code, tmp_path, monkeypatch):
    tree = ast.parse(code, filename=f"docs/{page}:{line}")
    asserts = [node for node in ast.walk(tree) if isinstance(node, ast.Assert)]
    assert asserts, f"docs/{page}:{line}: the example shows no value it checks (no assert)"
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and node.handlers:
            assert node.orelse, f"docs/{page}:{line + node.lineno}: a try that expects an error needs `else: raise`"
    path = tmp_path / f"{Path(page).stem.replace('-', '_')}_line{line}.py"
    path.write_text(code)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    runpy.run_path(str(path), run_name="__main__")


def test_a_wrong_value_in_an_example_fails(tmp_path):
    """The runner above really checks: the first quad example with its value changed fails."""
    page, line, _, code = next(b for b in RUNNABLE if b[0] == "scipy-quad.md")
    wrong = re.sub(r"0\.746824", "0.756824", code, count=1)
    assert wrong != code, "scipy-quad.md's first example shows quad's value 0.746824..."
    path = tmp_path / "wrong.py"
    path.write_text(wrong)
    with pytest.raises(AssertionError):
        runpy.run_path(str(path), run_name="__main__")


def _referenced_names():
    """Every object the API reference documents: autodoc directives and ``py:data``
    entries (with their continuation lines)."""
    text = API.read_text()
    names = set(re.findall(r"^\.\. auto(?:function|class|exception|data|module)::\s+(\S+)", text, re.M))
    for m in re.finditer(r"^\.\. py:data::\s+(\S+)\n((?:[ \t]{10,}\S+\n)*)", text, re.M):
        names.add(m.group(1))
        names.update(m.group(2).split())
    return names


def _public_names():
    import nativecall.optimize
    import nativecall.transonic

    return (
        {f"nativecall.{n}" for n in nativecall.__all__}
        | {f"nativecall.optimize.{n}" for n in nativecall.optimize.__all__}
        | {f"nativecall.transonic.{n}" for n in nativecall.transonic.__all__}
    )


def test_the_api_reference_documents_every_public_name():
    missing = _public_names() - _referenced_names()
    assert not missing, f"public names missing from docs/api.md: {sorted(missing)}"


def test_every_public_name_of_the_package_is_in_its_all():
    """So that the check above sees it: `dir(nativecall)` less modules and typing's names."""
    import types
    import typing

    undeclared = {
        name
        for name in dir(nativecall)
        if not name.startswith("_")
        and name not in nativecall.__all__
        and not isinstance(getattr(nativecall, name), types.ModuleType)
        and getattr(typing, name, None) is not getattr(nativecall, name)
    }
    assert not undeclared, f"public names of nativecall missing from __all__: {sorted(undeclared)}"


def test_the_api_reference_documents_only_names_that_exist():
    import importlib

    for name in sorted(_referenced_names()):
        module, _, attr = name.rpartition(".")
        if name in ("nativecall.optimize", "nativecall.transonic"):
            importlib.import_module(name)
            continue
        assert hasattr(importlib.import_module(module), attr), f"docs/api.md documents {name}, which does not exist"


def test_every_public_name_has_a_docstring():
    import importlib

    for name in sorted(_public_names()):
        module, _, attr = name.rpartition(".")
        obj = getattr(importlib.import_module(module), attr)
        if isinstance(obj, nativecall.Type):  # the type constants are described in docs/api.md
            continue
        doc = obj.__doc__ if not isinstance(obj, nativecall.transonic.NativecallBackend) else type(obj).__doc__
        assert doc and doc.strip(), f"{name} has no docstring"


def _help(*args):
    out = subprocess.run([sys.executable, "-m", "nativecall", *args, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_api_reference_documents_every_command_and_option_of_the_cli():
    text = API.read_text()
    commands = re.search(r"\{(\w+(?:,\w+)+)\}", _help()).group(1).split(",")
    assert {"inspect", "demo", "bench"} <= set(commands)
    for command in commands:
        assert f"### `{command}`" in text, f"docs/api.md has no section for `python -m nativecall {command}`"
        assert f"python -m nativecall {command}" in text
        for option in set(re.findall(r"(--[a-z][\w-]*)", _help(command))) - {"--help"}:
            assert f"`{option}" in text, f"docs/api.md does not describe `{command} {option}`"


def test_docstring_examples_run_as_doctests():
    import nativecall.optimize

    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    tests = [t for module in (nativecall, nativecall.optimize) for t in finder.find(module) if t.examples]
    assert len(tests) >= 2
    for test in tests:
        runner.run(test)
    assert runner.failures == 0, f"{runner.failures} docstring example(s) fail; run doctest on them"


def test_the_transonic_docstring_example_runs(tmp_path):
    """The module docstring of nativecall.transonic shows a module using the backend; run
    it as a module of its own (transonic reads its source) with a private TRANSONIC_DIR."""
    import os
    import textwrap

    import nativecall.transonic

    doc = nativecall.transonic.__doc__
    example = textwrap.dedent(re.search(r"::\n\n((?:    .*\n|\n)+)", doc).group(1))
    assert "set_backend_for_this_module(\"nativecall\")" in example
    check = "\nassert nativecall.transonic.kernel(damped)(1.0, 0.5) == math.exp(-0.5) * math.cos(1.0)\n"
    (tmp_path / "uses_transonic.py").write_text(example + check)
    env = dict(os.environ, TRANSONIC_DIR=str(tmp_path / "transonic-cache"))
    out = subprocess.run([sys.executable, "uses_transonic.py"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr


def test_the_readme_links_to_the_documentation_sources():
    readme = (ROOT / "README.md").read_text()
    for page in ("docs/index.md", "docs/api.md", "docs/semantics.md"):
        assert f"]({page})" in readme, f"README.md does not link to {page}"
    assert "make docs" in readme


def test_every_page_is_in_the_table_of_contents():
    index = (DOCS / "index.md").read_text()
    toc = "\n".join(re.findall(r"```\{toctree\}\n(.*?)```", index, re.S))
    listed = {line.strip() for line in toc.splitlines() if line.strip() and not line.startswith(":")}
    pages = {p.stem for p in PAGES} - {"index"}
    assert pages <= listed, f"pages not in docs/index.md's toctree: {sorted(pages - listed)}"
