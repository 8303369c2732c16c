"""Regenerate the Python code of pytemporal's own protobuf messages.

    python scripts/gen_protos.py

Compiles every `.proto` under `src/pytemporal/proto/` with grpcio-tools (a dev
dependency) into `*_pb2.py` + `*_pb2.pyi` beside it. The generated files are checked
in, so installing pytemporal needs no compiler; CI checks they are up to date
(`tests/unit/test_protos_generated.py`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]

SRC = Path(__file__).resolve().parent.parent / "src"


def proto_files() -> list[Path]:
    return sorted((SRC / "pytemporal" / "proto").rglob("*.proto"))


def generate(out_dir: Path) -> None:
    files = [str(p.relative_to(SRC)) for p in proto_files()]
    if not files:
        return
    args = ["protoc", f"-I{SRC}", f"--python_out={out_dir}", f"--pyi_out={out_dir}", *files]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else SRC)
