"""Sphinx configuration: `make docs` builds docs/ into docs/_build/html, warnings as errors.

The pages are Markdown (MyST), readable on GitHub as they are; the API reference
(docs/api.md) pulls the docstrings from the installed package with autodoc, the
compiled `nativecall._native` included, so `make docs` needs the extension built.
"""

import nativecall

project = "nativecall"
author = "the nativecall developers"
copyright = "the nativecall developers"
release = version = nativecall.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence", "deflist"]
# Headings become link targets, so pages can link to each other's sections.
myst_heading_anchors = 3

# The docstrings (Python and Rust) quote code with single backticks.
default_role = "code"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"

# Every cross-reference must resolve, except to projects whose inventories are not
# fetched (the build works offline): the standard library, NumPy, scipy, transonic.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(typing|collections\.abc|types|numpy|scipy|transonic)(\..*)?"),
    (r"py:(class|obj|data)", r"(Any|Callable|Iterable|Optional|None|int|float|str|bool|dict|list|tuple|object)"),
]

html_theme = "alabaster"
html_title = f"nativecall {release}"
html_show_sourcelink = False
html_copy_source = False
