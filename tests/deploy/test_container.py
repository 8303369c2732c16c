"""The container recipe (Dockerfile, .dockerignore), checked without a Docker daemon:
its shape (multi-stage, non-root, a HEALTHCHECK on /health, the chart's ports), and the
build stage's step itself, a wheel built from exactly the files the build context lets
through and the Dockerfile copies."""

from __future__ import annotations

import asyncio
import fnmatch
import shlex
import shutil
import sys
import zipfile
from pathlib import Path

from helmchart import CHART, config_of, render

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    joined = DOCKERFILE.replace("\\\n", " ")
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def context_allows(path: str) -> bool:
    """Whether .dockerignore lets `path` into the build context (last match wins)."""
    allowed = True
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            allowed = negate
    return allowed


def test_multi_stage_non_root_with_a_health_check() -> None:
    steps = instructions()
    stages = [args for word, args in steps if word == "FROM"]
    assert len(stages) == 2 and stages[0].endswith(" AS build")
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    runtime = steps[last_from:]
    # The runtime stage takes only the build stage's wheels (a bind mount: not a layer).
    assert any("from=build" in args for word, args in runtime if word in ("COPY", "RUN"))
    [user] = [args for word, args in runtime if word == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    deployment = next(d for d in render() if d["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(uid)
    [check] = [args for word, args in steps if word == "HEALTHCHECK"]
    assert "/health" in check and "9090" in check
    assert [args for word, args in steps if word == "ENTRYPOINT"] == ['["pytemporal"]']


def test_exposes_the_ports_the_chart_uses() -> None:
    exposed = {int(p) for word, args in instructions() if word == "EXPOSE" for p in args.split()}
    config = config_of(render())
    chart_ports = {
        config[section]["port"] for section in ("listen", "cluster", "http", "ui", "metrics")
    }
    assert exposed == chart_ports
    assert (CHART / "values.yaml").exists()


def _ui_files() -> set[str]:
    """The web UI's templates and static files, as paths inside a wheel."""
    ui = ROOT / "src" / "pytemporal" / "web" / "ui"
    return {f"pytemporal/web/ui/{p.relative_to(ui)}" for p in ui.glob("*/*.*")}


async def test_the_build_stage_builds_a_wheel_from_the_context(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    copies = [shlex.split(args) for word, args in instructions() if word == "COPY"]
    copies = [c for c in copies if not any(a.startswith("--from") for a in c)]
    assert copies
    for *sources, _dest in copies:
        for source in sources:
            assert context_allows(source), f".dockerignore keeps out {source}"
            src = ROOT / source
            if src.is_dir():
                shutil.copytree(
                    src, context / source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            else:
                shutil.copy2(src, context / source)
    assert not context_allows("tests/conftest.py") and not context_allows(".git/HEAD")
    # --no-deps --no-build-isolation: the dependencies' wheels and setuptools come from
    # PyPI in the real build; here only our own build step is under test.
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--wheel-dir",
        str(tmp_path / "wheels"),
        str(context),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, out.decode()
    [wheel] = (tmp_path / "wheels").glob("pytemporal-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "pytemporal/cli/main.py" in names
    assert any(n.startswith("pytemporal/persistence/postgres/") for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)
    # The web UI ships inside the package: its templates and static files, no Node build.
    shipped = _ui_files()
    assert shipped and shipped <= set(names), sorted(shipped - set(names))
