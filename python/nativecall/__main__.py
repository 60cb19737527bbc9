"""``python -m nativecall``: inspect native exports, tour what nativecall does, benchmark it.

    python -m nativecall inspect scipy.special.cython_special [--json]
    python -m nativecall demo
    python -m nativecall bench [--json FILE] [--quick]
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nativecall", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="list the native functions a Cython module exports, with signatures")
    p.add_argument("module", help="a module name, e.g. scipy.special.cython_special")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sub.add_parser("demo", help="a tour of nativecall with timings side by side")
    sub.add_parser("bench", help="benchmarks side by side with ratios (see --help)", add_help=False)
    argv = sys.argv[1:] if argv is None else argv
    # Each command imports its tool only when it runs (nativecall._tools is not part of the runtime).
    if argv and argv[0] == "bench":
        from ._tools.bench import run as bench

        return bench(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "inspect":
        from ._tools.exports import inspect_command

        try:
            return inspect_command(args.module, args.json)
        except BrokenPipeError:  # `| head` closed the pipe: stop quietly, as Unix tools do
            sys.stderr.close()
            return 0
    if args.command == "demo":
        from ._tools.demo import run

        return run()
    return 2


if __name__ == "__main__":
    sys.exit(main())
