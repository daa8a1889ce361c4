"""Downloading a dataset as a user without the files does: from the release URL evalplus uses, here served
by a local mirror (BENCH_DATASET_MIRROR, the configured base of that URL), a partial or damaged download
refused and retried, a bad one never written to the cache."""

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchlib import datasets
from benchlib.errors import DatasetError
from benchlib.settings import load_settings

from support import MBPP_PRERELEASE, ROOT

RELEASE_PATH = "/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz"


@pytest.fixture(scope="module")
def release_shaped():
    """An MBPP+ file of the release's shape and size (378 tasks), from the pre-release records."""
    if not MBPP_PRERELEASE.exists():
        pytest.skip("needs MbppPlus-prerelease-2023-11.jsonl.gz (in ../shared/datasets or ./datasets)")
    lines = gzip.decompress(MBPP_PRERELEASE.read_bytes()).decode().splitlines()[:378]
    return "\n".join(lines).encode() + b"\n"


class Mirror:
    """A release mirror: serves `answers` in turn (the last one repeated) at the release path."""

    def __init__(self, answers):
        self.answers = answers
        self.requests = []
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                mirror.requests.append(self.path)
                if self.path != RELEASE_PATH:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body, length = mirror.answers[min(len(mirror.requests), len(mirror.answers)) - 1]
                self.send_response(200)
                self.send_header("Content-Length", str(length if length is not None else len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mirror_of(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "DOWNLOAD_BACKOFF", 0.01)
    made = []

    def make(*answers):
        mirror = Mirror(list(answers))
        made.append(mirror)
        settings = load_settings(ROOT, environ={"BENCH_DATASET": "mbpp", "BENCH_DATASET_MIRROR": mirror.url,
                                                "BENCH_DATA_DIR": str(tmp_path / "empty"),
                                                "XDG_CACHE_HOME": str(tmp_path / "cache")})
        (tmp_path / "empty").mkdir(exist_ok=True)
        return mirror, settings

    yield make
    for mirror in made:
        mirror.close()


def test_a_release_download_lands_in_evalplus_cache_and_is_not_repeated(release_shaped, mirror_of, tmp_path):
    mirror, settings = mirror_of((gzip.compress(release_shaped), None))
    dataset = settings.load_dataset()
    assert len(dataset.problems) == 378 and dataset.path == tmp_path / "cache" / "evalplus" / "MbppPlus-v0.2.0.jsonl"
    assert dataset.path.read_bytes() == release_shaped and mirror.requests == [RELEASE_PATH]
    assert settings.dataset_id() == "MbppPlus-v0.2.0" and dataset.identity == "MbppPlus-v0.2.0"
    settings.load_dataset()
    assert len(mirror.requests) == 1  # the cache answers now


def test_partial_and_damaged_downloads_are_refused_and_retried(release_shaped, mirror_of, tmp_path):
    whole = gzip.compress(release_shaped)
    mirror, settings = mirror_of((whole[: len(whole) // 2], None),  # cut short, honestly sized: not gzip
                                 (whole[:1000], len(whole)))  # short of its Content-Length
    with pytest.raises(DatasetError) as info:
        settings.load_dataset()
    message = str(info.value)
    assert len(mirror.requests) == datasets.DOWNLOAD_ATTEMPTS
    assert message.splitlines()[0].startswith(f"cannot download MbppPlus-v0.2.0 from {mirror.url}{RELEASE_PATH} "
                                              f"({datasets.DOWNLOAD_ATTEMPTS} attempts; last: ")
    assert "BENCH_DATA_DIR" in info.value.tip and "MBPP_OVERRIDE_PATH" in info.value.tip
    assert not (tmp_path / "cache" / "evalplus" / "MbppPlus-v0.2.0.jsonl").exists()  # nothing half-written
    # damaged once, whole the next time: the retry gets it
    mirror, settings = mirror_of((whole[:5000], None), (whole, None))
    assert len(settings.load_dataset().problems) == 378 and len(mirror.requests) == 2


def test_a_file_that_is_not_the_release_is_refused(release_shaped, mirror_of):
    lines = release_shaped.splitlines()
    mirror, settings = mirror_of((gzip.compress(b"\n".join(lines[:377]) + b"\n"), None))
    with pytest.raises(DatasetError, match=r"last: 377 tasks, not the release's 378"):
        settings.load_dataset()
    garbage = gzip.compress(b'{"task_id": "Mbpp/2", "prompt": "x"}\n' * 378)
    mirror, settings = mirror_of((garbage, None))
    with pytest.raises(DatasetError, match=r"lacks entry_point"):
        settings.load_dataset()


def test_the_release_url_is_evalplus_own():
    """The default base is where evalplus 0.3.1 downloads from (its get_dataset_metadata)."""
    from evalplus.data.utils import get_dataset_metadata

    for key, spec in datasets.DATASETS.items():
        theirs, cache_path = get_dataset_metadata(spec.name, spec.version, spec.variant == "Mini",
                                                  spec.variant == "NoExtreme")
        assert spec.url == theirs, key
        assert cache_path.endswith("/" + spec.file_name), key
