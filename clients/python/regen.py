"""Regenerates the gRPC code in fapi_agent_client/_gen from ../../proto with
grpcio-tools (the protoc it ships; nothing else needed):

    python3 clients/python/regen.py           # rewrite the committed code
    python3 clients/python/regen.py --check   # exit 1 if it is stale
"""
import filecmp
import pathlib
import re
import shutil
import sys
import tempfile

from grpc_tools import protoc

HERE = pathlib.Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent / "proto"
TARGET = HERE / "fapi_agent_client" / "_gen"


def generate(out: pathlib.Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    rc = protoc.main(
        ["grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{include}",
         f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}", *protos]
    )
    if rc != 0:
        sys.exit(f"protoc failed with {rc}")
    # Generated modules import each other as top-level `fapi_agent.v1`;
    # make them relative to this package so it installs anywhere.
    for f in out.rglob("*.py"):
        text = f.read_text()
        text = re.sub(r"^from fapi_agent\.v1 import", "from fapi_agent_client._gen.fapi_agent.v1 import",
                      text, flags=re.M)
        f.write_text(text)
    for d in [out, *[p for p in out.rglob("*") if p.is_dir()]]:
        (d / "__init__.py").touch()


def same(a: pathlib.Path, b: pathlib.Path) -> list[str]:
    diff = []
    names = {p.relative_to(a) for p in a.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    names |= {p.relative_to(b) for p in b.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    for n in sorted(names):
        if not ((a / n).exists() and (b / n).exists() and filecmp.cmp(a / n, b / n, shallow=False)):
            diff.append(str(n))
    return diff


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fresh = pathlib.Path(tmp) / "_gen"
        fresh.mkdir()
        generate(fresh)
        if "--check" in sys.argv:
            stale = same(fresh, TARGET) if TARGET.exists() else ["(missing)"]
            if stale:
                sys.exit(f"generated code is stale against proto/: {stale}; run python3 clients/python/regen.py")
            print("generated code is up to date")
            return
        shutil.rmtree(TARGET, ignore_errors=True)
        shutil.copytree(fresh, TARGET)
        print(f"regenerated {TARGET}")


if __name__ == "__main__":
    main()
