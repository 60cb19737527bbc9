"""``python -m nativecall``: inspect native exports, tour what nativecall does, benchmark it.

    python -m nativecall inspect scipy.special.cython_special [--json]
    python -m nativecall demo
    python -m nativecall bench [--json FILE] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys


def _grouped(module_name):
    from ._interop import _module, cython_functions, plain_name

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nativecall", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="list the native functions a Cython module exports, with signatures")
    p.add_argument("module", help="a module name, e.g. scipy.special.cython_special")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sub.add_parser("demo", help="a tour of nativecall with timings side by side")
    sub.add_parser("bench", help="benchmarks side by side with ratios (see --help)", add_help=False)
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "bench":
        from ._bench import run as bench

        return bench(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "inspect":
        try:
            return inspect_command(args.module, args.json)
        except BrokenPipeError:  # `| head` closed the pipe: stop quietly, as Unix tools do
            sys.stderr.close()
            return 0
    if args.command == "demo":
        from ._demo import run

        return run()
    return 2


if __name__ == "__main__":
    sys.exit(main())
