"""What made a run's answers, per server (replica): the llama.cpp build, the image and its digest, the model
file, the chat template, the flags that change answers, the GPU; and the part of it that decides whether a
rebuilt or reconfigured server may answer differently (`identity`, compared by `changes`).

Greedy answers are not the same across builds, GPUs and batch shapes (llama.cpp #7052, #6950), so a report
that compares two profiles says when their answers came from different builds or GPUs, and the canary
(generation/canary.py) asks again when a profile's server changed since its samples were made.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

__all__ = ["describe", "identity", "changes", "local_identity", "model_identity", "file_identity", "gpus_in", "answer_flags",
           "with_whole_hash", "FULL_HASH_BYTES", "IDENTITY_KEYS"]

FULL_HASH_BYTES = 4 << 30  # a model file up to this size is hashed whole (seconds); a larger one by its ends
IDENTITY_KEYS = ("build", "binary", "image", "model", "chat_template", "flags")  # what `identity` compares, in order


def file_identity(path: Path) -> dict:
    """Size and sha256 of a file (a llama-server binary); hashed once per version of the file in a process."""
    found = path.stat()
    return {"file": path.name, "size": found.st_size, "sha256": _sha256(str(path), found.st_size, found.st_mtime_ns)}


@functools.lru_cache(maxsize=64)
def _sha256(path: str, size: int, stamp: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_identity(path: Path) -> dict:
    """A model file's size and sha256, whole up to FULL_HASH_BYTES; above it (a 60 GB file would take
    minutes), the sha256 of its first and last MiB, and the record says which it is."""
    from .base import model_fingerprint

    found = model_fingerprint(path)  # size and the ends' sha256: milliseconds on any file
    return with_whole_hash(found, file_identity(path)["sha256"] if found["size"] <= FULL_HASH_BYTES else None)


def with_whole_hash(found: dict, whole: str | None) -> dict:
    """A model's fingerprint with its whole sha256, or the words saying it was not hashed whole."""
    if whole:
        return {**found, "sha256": whole}
    return {**found, "identity": f"size and sha256 of the first and last MiB (a file over {FULL_HASH_BYTES >> 30} GiB "
                                 "is not hashed whole: minutes)"}


# how llama.cpp names the devices it offloads to, in its log (CUDA, ROCm, Vulkan, Metal, SYCL)
_DEVICE_PATTERNS = (
    re.compile(r"using device \S+ \(([^)]+)\)"),
    re.compile(r"Device \d+: ([^,\n]+), compute capability"),
    re.compile(r"ggml_vulkan: \d+ = ([^|\n]+?)\s*\|"),
    re.compile(r"GPU name:\s+(.+)"),
    re.compile(r"found device: (.+)"),
)


def gpus_in(log_text: str) -> list[str]:
    """The GPUs a llama-server log names (in order, once each); [] when it names none (CPU)."""
    found: list[str] = []
    for pattern in _DEVICE_PATTERNS:
        for match in pattern.finditer(log_text):
            name = match.group(1).strip()
            if name and name not in found:
                found.append(name)
    return found


def answer_flags(profile, backend) -> dict:
    """The server settings that can change a greedy answer: the context and slots (the batch's shape), the
    layers on the GPU, the split, flash attention and prompt-cache reuse, the extra arguments, the devices.
    {} for a server benchlib does not start (it cannot know them)."""
    from .llama import request_extras, tuning_flags

    if not backend.sizes_slots:
        return {}
    flags = {"ctx_size": profile.ctx_size, "parallel": profile.parallel, "gpu_layers": profile.gpu_layers,
             "server_args": tuning_flags(profile), "request": request_extras(profile)}
    if profile.devices:
        flags["devices"] = profile.devices
    return flags


def describe(handle, props: dict, flags: dict) -> dict:
    """One replica's provenance for the manifest (`handle`: servers.ServerHandle, `props`: its /props)."""
    info = handle.info
    template = props.get("chat_template")
    record = {
        "replica": handle.label,
        "backend": info.get("backend", ""),
        "host": info.get("host", ""),
        "base_url": handle.base_url,
        "build": str(props.get("build_info") or ""),
        "image": info.get("image") or {},
        "model": info.get("model") or {},
        "model_path": props.get("model_path") or info.get("model_path") or "",
        "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest() if isinstance(template, str) else "",
        "flags": flags,
        "gpus": gpus_in(handle.log_text()) if _reads_log(info) else None,  # None: not benchlib's to see
    }
    if info.get("binary_identity"):
        record["binary"] = info["binary_identity"]
    return record


def _reads_log(info: dict) -> bool:
    from . import BACKENDS

    backend = BACKENDS.get(info.get("backend", ""))
    return bool(backend and backend.reads_log)


def identity(provenance: dict) -> dict:
    """What decides a replica's answers, from its provenance: build, image, model file, template, flags.
    Values a server does not tell are left out (never compared)."""
    values = {
        "build": provenance.get("build") or "",
        "binary": (provenance.get("binary") or {}).get("sha256", ""),
        "image": (provenance.get("image") or {}).get("id", ""),
        "model": _model_key(provenance.get("model") or {}),
        "chat_template": provenance.get("chat_template_sha256") or "",
        "flags": provenance.get("flags") or {},
    }
    return {key: value for key, value in values.items() if value}


def _model_key(model: dict) -> str:
    """A model file as the identity compares it: its size and its ends' sha256 (known of every file, and
    cheap to check again before a run)."""
    return f"{model['size']}:{model['sha256_head_tail']}" if model.get("size") and model.get("sha256_head_tail") else ""


@functools.lru_cache(maxsize=None)
def _local_image_id(image: str) -> str:
    """The local engine's id of an image ("" when it has none): asked once per image in a process."""
    import subprocess

    if not image:
        return ""
    done = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", image], capture_output=True, text=True,
                          timeout=30)
    return done.stdout.strip() if done.returncode == 0 else ""


def local_identity(replica, settings) -> dict:
    """What can be known of a replica's server without starting it (the model file, the llama-server binary,
    a local engine's image, the flags), as `identity` spells it: doit's check of whether a server changed
    since its samples (pipeline.server_changed). Reads 2 MiB of the model and hashes the binary."""
    import shutil

    from . import BACKENDS
    from ..errors import ServerError
    from .base import model_fingerprint
    from .llama import find_llama_server, model_path

    profile = replica.profile
    backend = BACKENDS[profile.server]
    found: dict = {"flags": answer_flags(profile, backend)} if backend.sizes_slots else {}
    if backend.sizes_slots and not profile.model.startswith("pip:") and not profile.host:
        path = model_path(profile)
        if path.is_file():
            found["model"] = _model_key(model_fingerprint(path))
    if backend.local_replicas and backend.sizes_slots:
        try:
            found["binary"] = file_identity(Path(find_llama_server(profile, settings.llama_server)))["sha256"]
        except (ServerError, OSError):
            pass
    if backend.docker_host and not profile.host and shutil.which("docker"):
        from .compose import configured_image

        image_id = _local_image_id(configured_image(profile, settings))
        if image_id:
            found["image"] = image_id
    return {key: value for key, value in found.items() if value}


def changes(before: dict, after: dict) -> list[str]:
    """What differs between two identities, in words ("build b5190 -> b5230"); [] when nothing known differs."""
    said = []
    for key in IDENTITY_KEYS:
        old, new = before.get(key), after.get(key)
        if old is None or new is None or old == new:
            continue
        if key == "flags":
            keys = sorted(set(old) | set(new))
            said += [f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
        else:
            said.append(f"{key.replace('_', ' ')} {_short(old)} -> {_short(new)}")
    return said


def _short(value: object) -> str:
    text = str(value).removeprefix("sha256:")
    return text[:12] if re.fullmatch(r"[0-9a-f]{32,}", text) else text
