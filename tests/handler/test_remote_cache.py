"""The local mirror of remote versions: complete files only, nothing outside the cache, no needless downloads."""

from __future__ import annotations

import json

import pytest

from ovserve.handler.errors import ModelLoadError
from ovserve.handler.storage.remote_cache import MANIFEST, RemoteFile, RemoteVersionCache, fingerprint, safe_relative

CONTENT = {"k/1/model.xml": b"<xml/>", "k/1/model.bin": b"\x00" * 8, "k/1/sub/extra.txt": b"hello"}


def files(content=CONTENT, etag="e1") -> list[RemoteFile]:
    return [RemoteFile(key.split("/", 2)[2], key, etag, len(data)) for key, data in content.items()]


class Store:
    """Stands in for a bucket: counts downloads and can truncate one object."""

    def __init__(self, content=CONTENT) -> None:
        self.content = dict(content)
        self.downloads: list[str] = []
        self.truncate: str | None = None

    def download(self, key: str, target) -> None:
        self.downloads.append(key)
        data = self.content[key]
        target.write_bytes(data[:-1] if key == self.truncate else data)


def test_fetch_writes_every_file_and_a_manifest(tmp_path):
    store = Store()
    folder = RemoteVersionCache(tmp_path).fetch(1, files(), store.download)
    assert (folder / "model.xml").read_bytes() == b"<xml/>"
    assert (folder / "sub" / "extra.txt").read_bytes() == b"hello"
    assert set(json.loads((folder / MANIFEST).read_text())) == {"model.xml", "model.bin", "sub/extra.txt"}
    assert not list(folder.rglob("*.part"))


def test_unchanged_files_are_not_downloaded_again_and_changed_ones_are(tmp_path):
    cache, store = RemoteVersionCache(tmp_path), Store()
    cache.fetch(1, files(), store.download)
    store.downloads.clear()
    cache.fetch(1, files(), store.download)
    assert store.downloads == []
    changed = files()
    changed[0] = RemoteFile(changed[0].path, changed[0].key, "e2", changed[0].size)
    cache.fetch(1, changed, store.download)
    assert store.downloads == [changed[0].key]


def test_files_removed_remotely_are_removed_locally(tmp_path):
    cache, store = RemoteVersionCache(tmp_path), Store()
    folder = cache.fetch(1, files(), store.download)
    cache.fetch(1, [f for f in files() if f.path != "sub/extra.txt"], store.download)
    assert not (folder / "sub" / "extra.txt").exists()


def test_an_incomplete_download_is_refused_and_never_renamed_into_place(tmp_path):
    store = Store()
    store.truncate = "k/1/model.bin"
    with pytest.raises(ModelLoadError, match="incomplete"):
        RemoteVersionCache(tmp_path).fetch(1, files(), store.download)
    assert not (tmp_path / "1" / "model.bin").exists()
    assert not (tmp_path / "1" / MANIFEST).exists()


@pytest.mark.parametrize("path", ["../escape.bin", "/abs/model.xml", "a/../../b", "", "a\\..\\b"])
def test_paths_leaving_the_folder_are_refused_before_writing(tmp_path, path):
    assert safe_relative(path) is None
    bad = [RemoteFile(path, f"k/1/{path}", "e", 1)]
    with pytest.raises(ModelLoadError, match="leaves the version folder"):
        RemoteVersionCache(tmp_path / "cache").fetch(1, bad, Store({f"k/1/{path}": b"x"}).download)
    assert not (tmp_path / "escape.bin").exists()


def test_fingerprint_follows_etags_not_order():
    assert fingerprint(files()) == fingerprint(list(reversed(files())))
    assert fingerprint(files()) != fingerprint(files(etag="e2"))


def test_concurrent_fetches_of_one_version_download_once(tmp_path):
    import threading

    cache, store = RemoteVersionCache(tmp_path), Store()
    gate = threading.Barrier(4)

    def fetch():
        gate.wait()
        cache.fetch(1, files(), store.download)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(store.downloads) == sorted(CONTENT)  # each object once, whoever came first


# --- objects the file system cannot hold ------------------------------------------------------------


def test_a_key_under_another_keys_file_fails_with_the_file_system_reason(tmp_path):
    content = {"k/1/model.xml": b"<xml/>", "k/1/model.bin": b"\x00", "k/1/model.bin/x": b"x"}
    with pytest.raises(ModelLoadError, match=r"cannot write 'model.bin/x' into the model cache: File exists"):
        RemoteVersionCache(tmp_path).fetch(1, files(content), Store(content).download)
    assert not (tmp_path / "1" / MANIFEST).exists()


def test_a_name_too_long_for_the_file_system_fails_with_the_reason_and_a_shortened_name(tmp_path):
    long_key = f"k/1/{'n' * 300}.txt"
    content = {"k/1/model.xml": b"<xml/>", long_key: b"x"}
    with pytest.raises(ModelLoadError) as caught:
        RemoteVersionCache(tmp_path).fetch(1, files(content), Store(content).download)
    assert caught.value.message.endswith("into the model cache: File name too long")
    assert len(caught.value.message) < 250  # the name is cut short, not echoed whole


@pytest.mark.parametrize(
    ("before", "after"),
    [({"k/1/model.bin": b"\x00"}, {"k/1/model.bin/x": b"x"}), ({"k/1/model.bin/x": b"x"}, {"k/1/model.bin": b"\x00"})],
    ids=["file-becomes-folder", "folder-becomes-file"],
)
def test_a_path_freed_by_a_removed_object_can_be_taken_by_a_new_one(tmp_path, before, after):
    cache = RemoteVersionCache(tmp_path)
    first = {"k/1/model.xml": b"<xml/>", **before}
    cache.fetch(1, files(first), Store(first).download)
    second = {"k/1/model.xml": b"<xml/>", **after}

    folder = cache.fetch(1, files(second, etag="e2"), Store(second).download)

    for key, data in after.items():
        assert (folder / key.split("/", 2)[2]).read_bytes() == data
    assert set(json.loads((folder / MANIFEST).read_text())) == {"model.xml", *(k.split("/", 2)[2] for k in after)}
