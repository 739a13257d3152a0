"""Azure Blob Storage through adlfs against Azurite, the official emulator (npm), on loopback.
Skipped, with the reason, where node/npm are missing."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from cloud_servers import azurite  # noqa: F401
from videokit.errors import ConfigError, InputError
from videokit.storage import StorageOptions, open_storage
from videokit.storage.options import MIB


@pytest.fixture
def container(azurite: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    import adlfs

    name = "vk" + uuid.uuid4().hex[:12]
    adlfs.AzureBlobFileSystem(connection_string=azurite, skip_instance_cache=True).mkdir(name)
    return name


# azure-core's aiohttp transport warns about the bytes body adlfs gives it; videokit cannot change that.
@pytest.mark.filterwarnings("ignore:Sending a large body directly with raw bytes:ResourceWarning")
def test_upload_download_list_on_azurite(container: str, tmp_path: Path) -> None:
    options = StorageOptions(part_size=5 * MIB, state_dir=tmp_path / "up")
    files = open_storage(f"az://{container}/lib", options)
    data = os.urandom(6 * MIB + 1)
    (tmp_path / "v.mp4").write_bytes(data)
    got = files.put(tmp_path / "v.mp4", "processed/abc/v.mp4")
    assert got.verified == "read back" and got.url == f"az://{container}/lib/processed/abc/v.mp4"
    assert [o.key for o in files.list()] == ["processed/abc/v.mp4"]  # the temporary key is gone
    back = files.get("processed/abc/v.mp4", tmp_path / "back.mp4")
    assert (tmp_path / "back.mp4").read_bytes() == data and back.sha256 == got.sha256
    with pytest.raises(InputError, match="no such object in Azure Blob Storage"):
        files.info("processed/abc/missing.mp4")


def test_a_missing_container_and_a_wrong_key(container: str, azurite: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError, match="Azure Blob Storage container 'nosuchcontainer' does not exist"):
        open_storage("az://nosuchcontainer/videos/").list()
    wrong = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU2Nzg5YWJjZGVmZ2hpams="
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING", azurite.replace(azurite.split("AccountKey=")[1].split(";")[0], wrong)
    )
    with pytest.raises(ConfigError) as e:
        open_storage(f"az://{container}/").list()
    assert "Azure Blob Storage refused the credentials" in str(e.value) and wrong not in str(e.value)
