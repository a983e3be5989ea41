"""model.tar.gz sources: safe extraction, and the layouts SageMaker artifacts come in."""

from __future__ import annotations

import asyncio
import io
import tarfile

import numpy as np
import pytest

from ovserve.handler.errors import ModelLoadError, StorageError
from ovserve.handler.repository import Repository
from ovserve.handler.settings.config import ModelConfig
from ovserve.handler.storage.archives import extract_safely, version_folders
from tests import models


def add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def archive_of(path, members: dict[str, bytes], extra=None):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            add_file(tar, name, data)
        if extra:
            extra(tar)
    return path


def model_files(tmp_path, value=1.0) -> dict[str, bytes]:
    folder = models.write_version(tmp_path / f"src{value}", 1, models.add_one(value=value))
    return {name: (folder / name).read_bytes() for name in ("model.xml", "model.bin")}


def symlink(tar: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("1/evil")
    info.type = tarfile.SYMTYPE
    info.linkname = "/etc/passwd"
    tar.addfile(info)


@pytest.mark.parametrize(
    ("members", "extra", "limit", "reason"),
    [
        ({"../outside.txt": b"x"}, None, 10**6, "outside the model folder"),
        ({"/abs/model.xml": b"x"}, None, 10**6, "outside the model folder"),
        ({"1/model.xml": b"x"}, symlink, 10**6, "link or special file"),
        ({"1/model.bin": b"\0" * 5000}, None, 1000, "more than 1000 bytes"),
    ],
)
def test_dangerous_archives_are_refused_and_write_nothing(tmp_path, members, extra, limit, reason):
    archive = archive_of(tmp_path / "model.tar.gz", members, extra)
    target = tmp_path / "cache" / "extracted"
    with pytest.raises(ModelLoadError, match=reason):
        extract_safely(archive, target, limit)
    assert not (tmp_path / "outside.txt").exists()
    assert not target.exists()
    assert not target.with_name(target.name + ".part").exists()


def test_garbage_is_not_an_archive(tmp_path):
    (tmp_path / "model.tar.gz").write_bytes(b"not a tarball at all")
    with pytest.raises(ModelLoadError, match="not a readable tar archive"):
        extract_safely(tmp_path / "model.tar.gz", tmp_path / "out", 10**6)


def test_layouts_version_tree_single_model_and_one_top_folder(tmp_path):
    files = model_files(tmp_path)
    tree = tmp_path / "tree"
    extract_safely(archive_of(tmp_path / "a.tar.gz", {f"{v}/{n}": d for v in (1, 3) for n, d in files.items()}), tree, 10**8)
    assert sorted(version_folders(tree)) == [1, 3]
    single = tmp_path / "single"
    extract_safely(archive_of(tmp_path / "b.tar.gz", files), single, 10**8)
    assert version_folders(single) == {1: single}
    nested = tmp_path / "nested"
    extract_safely(archive_of(tmp_path / "c.tar.gz", {f"resnet/{n}": d for n, d in files.items()}), nested, 10**8)
    assert version_folders(nested) == {1: nested / "resnet"}


def test_repository_serves_a_local_archive_and_refuses_a_bad_one(tmp_path):
    good = archive_of(tmp_path / "model.tar.gz", model_files(tmp_path, value=5.0))
    bad = archive_of(tmp_path / "bad.tar.gz", {"../x": b"x"})

    async def scenario():
        config = ModelConfig(name="m", base_path=str(good), plugin_config=dict(models.F32))
        repository = Repository([config], storage_cache_dir=str(tmp_path / "cache"))
        await repository.refresh_all(strict=True)
        async with repository.get("m").use(None) as served:
            out = await served.infer({"x": np.zeros((1, 10), np.float32)})
        broken = Repository([ModelConfig(name="b", base_path=str(bad))], storage_cache_dir=str(tmp_path / "cache"))
        with pytest.raises(StorageError, match="outside the model folder"):
            await broken.refresh_all(strict=True)
        return float(out["y"][0, 0])

    assert asyncio.run(scenario()) == 5.0
    assert not (tmp_path / "x").exists()


def test_the_configured_archive_limit_reaches_extraction(tmp_path):
    archive = archive_of(tmp_path / "model.tar.gz", model_files(tmp_path))

    async def scenario(limit: int) -> None:
        config = ModelConfig(name="m", base_path=str(archive), plugin_config=dict(models.F32), max_archive_bytes=limit)
        await Repository([config], storage_cache_dir=str(tmp_path / f"cache{limit}")).refresh_all(strict=True)

    with pytest.raises(StorageError, match="more than 1000 bytes"):
        asyncio.run(scenario(1000))
    asyncio.run(scenario(10**8))
