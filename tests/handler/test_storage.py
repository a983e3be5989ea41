"""LocalStorage and storage_for: which folders are versions, fingerprints, and supported base paths."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ovserve.handler.errors import ConfigError
from ovserve.handler.storage import LocalStorage, storage_for


def version_folder(base: Path, name: str, model_file: str = "model.xml") -> Path:
    """A folder ``base/name`` holding a (never read) model file."""
    folder = base / name
    folder.mkdir(parents=True)
    (folder / model_file).write_text("<net/>")
    return folder


def test_numeric_folders_with_a_model_file_are_versions(tmp_path):
    version_folder(tmp_path, "1")
    version_folder(tmp_path, "2", "model.onnx")
    version_folder(tmp_path, "10", "frozen.pb")

    versions = LocalStorage(str(tmp_path)).list_versions()

    assert sorted(versions) == [1, 2, 10]
    assert all(isinstance(fingerprint, str) and fingerprint for fingerprint in versions.values())
    assert len(set(versions.values())) == 3  # each folder has its own fingerprint (different files)


def test_everything_else_is_not_a_version(tmp_path):
    version_folder(tmp_path, "1")
    version_folder(tmp_path, "notes")
    version_folder(tmp_path, "v2")
    version_folder(tmp_path, "0")
    version_folder(tmp_path, "-3")
    version_folder(tmp_path, "4.5")
    version_folder(tmp_path, "\u0665")  # ARABIC-INDIC DIGIT FIVE: a digit, but not an ASCII one
    (tmp_path / "7").write_text("a file named like a version")
    (tmp_path / "8").mkdir()
    (tmp_path / "8" / "README.txt").write_text("no model here")

    storage = LocalStorage(str(tmp_path))

    assert list(storage.list_versions()) == [1]
    assert storage.skipped() == ["8: no model file"]


def test_skipped_reflects_the_last_listing_only(tmp_path):
    empty = tmp_path / "3"
    empty.mkdir()
    storage = LocalStorage(str(tmp_path))

    assert storage.list_versions() == {}
    assert storage.skipped() == ["3: no model file"]

    (empty / "model.xml").write_text("<net/>")
    assert list(storage.list_versions()) == [3]
    assert storage.skipped() == []


def test_skipped_returns_a_copy(tmp_path):
    (tmp_path / "5").mkdir()
    storage = LocalStorage(str(tmp_path))
    storage.list_versions()

    storage.skipped().clear()

    assert storage.skipped() == ["5: no model file"]


def test_missing_base_path_lists_nothing(tmp_path):
    assert LocalStorage(str(tmp_path / "absent")).list_versions() == {}
    assert LocalStorage(str(tmp_path / "absent")).skipped() == []


def test_base_path_removed_after_a_listing_lists_nothing(tmp_path):
    base = tmp_path / "repo"
    version_folder(base, "1")
    (base / "4").mkdir()
    storage = LocalStorage(str(base))
    assert list(storage.list_versions()) == [1]
    assert storage.skipped() == ["4: no model file"]

    shutil.rmtree(base)

    assert storage.list_versions() == {}
    assert storage.skipped() == []  # the earlier report does not linger


def test_base_path_that_is_a_file_lists_nothing(tmp_path):
    path = tmp_path / "model.xml"
    path.write_text("<net/>")

    assert LocalStorage(str(path)).list_versions() == {}


def test_local_folder_is_the_version_folder_in_place(tmp_path):
    folder = version_folder(tmp_path, "12")

    assert LocalStorage(str(tmp_path)).local_folder(12) == folder


# --- fingerprints ---------------------------------------------------------------------------------


def fingerprint(base: Path, version: int = 1) -> str:
    return LocalStorage(str(base)).list_versions()[version]


@pytest.fixture
def version_one(tmp_path) -> Path:
    folder = version_folder(tmp_path, "1")
    (folder / "model.bin").write_bytes(b"\x00" * 64)
    (folder / "sub").mkdir()
    (folder / "sub" / "vocab.txt").write_text("a b c")
    return folder


def test_fingerprint_is_stable_when_nothing_changes(tmp_path, version_one):
    first = fingerprint(tmp_path)

    assert fingerprint(tmp_path) == first
    assert LocalStorage(str(tmp_path)).list_versions()[1] == first  # a new storage object agrees


def test_fingerprint_is_stable_when_a_file_is_rewritten_identically(tmp_path, version_one):
    weights = version_one / "model.bin"
    before = os.stat(weights)
    first = fingerprint(tmp_path)

    weights.write_bytes(b"\x00" * 64)
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))

    assert fingerprint(tmp_path) == first


def test_fingerprint_changes_when_a_file_changes_size(tmp_path, version_one):
    weights = version_one / "model.bin"
    before = os.stat(weights)
    first = fingerprint(tmp_path)

    weights.write_bytes(b"\x00" * 65)
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))  # only the size differs

    assert fingerprint(tmp_path) != first


def test_fingerprint_changes_when_a_file_changes_mtime(tmp_path, version_one):
    weights = version_one / "model.bin"
    before = os.stat(weights)
    first = fingerprint(tmp_path)

    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))

    assert fingerprint(tmp_path) != first


def test_fingerprint_changes_when_a_nested_file_changes(tmp_path, version_one):
    vocab = version_one / "sub" / "vocab.txt"
    before = os.stat(vocab)
    first = fingerprint(tmp_path)

    vocab.write_text("a b c d")
    os.utime(vocab, ns=(before.st_atime_ns, before.st_mtime_ns))

    assert fingerprint(tmp_path) != first


def test_fingerprint_changes_when_a_file_is_added(tmp_path, version_one):
    first = fingerprint(tmp_path)

    (version_one / "mapping_config.json").write_text("{}")

    assert fingerprint(tmp_path) != first


def test_fingerprint_changes_when_a_file_is_removed(tmp_path, version_one):
    first = fingerprint(tmp_path)

    (version_one / "sub" / "vocab.txt").unlink()

    assert fingerprint(tmp_path) != first


def test_fingerprint_of_one_version_ignores_changes_in_another(tmp_path, version_one):
    other = version_folder(tmp_path, "2")
    first = fingerprint(tmp_path, 1)

    (other / "extra.txt").write_text("new")

    assert fingerprint(tmp_path, 1) == first


# --- storage_for ------------------------------------------------------------------------------------


@pytest.mark.parametrize("base_path", ["hdfs://cluster/model", "wasbs://container/model", "ftp://host/model"])
def test_storage_for_rejects_remote_schemes(base_path):
    with pytest.raises(ConfigError) as caught:
        storage_for(base_path)

    scheme = base_path.split("://")[0]
    assert caught.value.message.startswith("base_path:")
    assert f"{scheme}://" in caught.value.message
    assert caught.value.kind == "config"


def test_storage_for_serves_plain_local_paths(tmp_path):
    version_folder(tmp_path, "1")

    storage = storage_for(str(tmp_path))

    assert isinstance(storage, LocalStorage)
    assert list(storage.list_versions()) == [1]
    assert storage.local_folder(1) == tmp_path / "1"


def test_storage_for_accepts_file_urls(tmp_path):
    version_folder(tmp_path, "3")

    storage = storage_for(f"file://{tmp_path}")

    assert isinstance(storage, LocalStorage)
    assert list(storage.list_versions()) == [3]
    assert storage.local_folder(3) == tmp_path / "3"


def test_storage_for_s3_mirrors_into_the_given_cache(tmp_path):
    from ovserve.handler.storage.s3 import S3Storage

    storage = storage_for("s3://bucket/models/resnet", str(tmp_path))
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix) == ("bucket", "models/resnet/")
    assert storage.cache.root.parent == tmp_path


def test_azure_needs_a_connection_string_and_names_it(tmp_path, monkeypatch):
    from ovserve.handler.storage.azure import AzureStorage

    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    storage = storage_for("az://container/models/resnet", str(tmp_path))
    assert isinstance(storage, AzureStorage)
    assert (storage.container, storage.prefix) == ("container", "models/resnet/")
    with pytest.raises(ConfigError, match="AZURE_STORAGE_CONNECTION_STRING: missing"):
        storage.list_versions()


# --- entries that cannot be read --------------------------------------------------------------------


def test_a_version_folder_that_is_a_symlink_loop_is_skipped_and_the_rest_are_found(tmp_path):
    version_folder(tmp_path, "1")
    (tmp_path / "5").symlink_to(tmp_path / "5")  # stat() fails: Too many levels of symbolic links
    storage = LocalStorage(str(tmp_path))

    assert list(storage.list_versions()) == [1]
    [skip] = storage.skipped()
    assert skip.startswith("5: ") and "symbolic links" in skip

    version_folder(tmp_path, "7")
    assert sorted(storage.list_versions()) == [1, 7]  # a valid version added later is still found


def test_a_symlink_loop_inside_a_version_folder_leaves_the_version_servable(tmp_path):
    folder = version_folder(tmp_path, "2")
    (folder / "loop").symlink_to(folder / "loop")

    versions = LocalStorage(str(tmp_path)).list_versions()

    assert list(versions) == [2]
