"""Check that ``_native.pyi`` declares exactly what ``nativecall._native`` exports, and
every public method of its classes (run by ``make lint`` and by the test suite)."""

import ast
import sys
from pathlib import Path

STUB = Path(__file__).resolve().parent.parent / "python" / "nativecall" / "_native.pyi"


def stub_names():
    tree = ast.parse(STUB.read_text())
    top, members = set(), {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            top.add(node.name)
            members[node.name] = {
                n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AnnAssign)) and hasattr(n, "name")
            } | {n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
        elif isinstance(node, ast.FunctionDef):
            top.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            top.add(node.target.id)
    return top, members


def problems():
    from nativecall import _native

    top, members = stub_names()
    runtime = {n for n in dir(_native) if not n.startswith("__")}
    out = [f"missing from the stub: {n}" for n in sorted(runtime - top)]
    out += [f"in the stub but not the module: {n}" for n in sorted(top - runtime)]
    for cls, names in members.items():
        obj = getattr(_native, cls, None)
        if obj is None or issubclass(obj, BaseException):
            continue
        public = {n for n in vars(obj) if not n.startswith("__") or n in ("__call__", "__eq__", "__hash__", "__len__", "__wrapper_address__", "__getitem__", "__dlpack__", "__dlpack_device__", "__reduce__")}
        public -= {"__new__"}
        out += [f"{cls}.{n} is not in the stub" for n in sorted(public - names)]
        out += [f"{cls}.{n} is in the stub but not the class" for n in sorted(names - public - {"__new__"})]
    return out


if __name__ == "__main__":
    found = problems()
    print("\n".join(found) or "stubs match the extension module")
    sys.exit(1 if found else 0)
