"""The checked-in generated protobuf code matches its .proto sources."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_is_current(tmp_path: Path) -> None:
    if importlib.util.find_spec("grpc_tools") is None:
        pytest.skip("grpcio-tools is not installed")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gen_protos
    finally:
        sys.path.pop(0)
    gen_protos.generate(tmp_path)
    src = ROOT / "src"
    for proto in gen_protos.proto_files():
        for suffix in ("_pb2.py", "_pb2.pyi"):
            rel = proto.relative_to(src).with_name(proto.stem + suffix)
            fresh = (tmp_path / rel).read_text()
            assert (src / rel).read_text() == fresh, f"{rel} is stale: run scripts/gen_protos.py"
