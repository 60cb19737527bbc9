"""``python -m nativecall inspect MODULE [--json]``: the native functions a Cython module
exports, grouped by plain name, with their signatures."""

from __future__ import annotations

import json
import sys


def _grouped(module_name):
    from .._interop import _module, cython_functions, plain_name

    module = _module(module_name)
    groups: dict[str, list] = {}
    for key, nc in cython_functions(module).items():
        groups.setdefault(plain_name(key), []).append((key, nc))
    return module, {name: sorted(groups[name], key=lambda e: e[0]) for name in sorted(groups)}


def inspect_command(module_name: str, as_json: bool, out=sys.stdout) -> int:
    try:
        module, groups = _grouped(module_name)
    except (ImportError, TypeError) as e:
        print(f"nativecall inspect: {e}", file=sys.stderr)
        return 2
    if as_json:
        doc = {
            "module": module.__name__,
            "functions": {
                name: [
                    {
                        "capsule": key,
                        "signature": str(nc.signature),
                        "c_signature": str(nc.c_signature),
                    }
                    for key, nc in entries
                ]
                for name, entries in groups.items()
            },
        }
        json.dump(doc, out, indent=2)
        out.write("\n")
        return 0
    total = sum(len(v) for v in groups.values())
    out.write(f"{module.__name__}: {len(groups)} native functions ({total} exported C functions)\n")
    width = max((len(n) for n in groups), default=0)
    for name, entries in groups.items():
        if len(entries) == 1 and entries[0][0] == name:
            out.write(f"  {name:<{width}}  {entries[0][1].signature}\n")
            continue
        out.write(f"  {name}\n")
        for key, nc in entries:
            out.write(f"    {str(nc.signature):<60}  [{key}]\n")
    return 0
