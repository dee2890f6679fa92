import multiprocessing
import stat
from concurrent.futures import ProcessPoolExecutor

import pytest

from auth_service.adapters.key_files import (
    DEFAULT_KEY_FILE,
    create_key_file,
    load_key_ring,
    load_public_keys,
)
from auth_service.signing_keys import KeyConfigError, SigningKey
from tests.integration.auth.helpers import running


async def fetch_jwks(client):
    resp = await client.get("/.well-known/jwks.json")
    assert resp.status == 200
    return resp, await resp.json()


async def test_key_file_is_generated_once_and_reused(make_settings, start, key_file):
    assert not key_file.exists()
    first = await start()
    _, document = await fetch_jwks(first)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    content = key_file.read_bytes()
    await first.close()

    again = await start()
    _, document_again = await fetch_jwks(again)
    assert key_file.read_bytes() == content
    assert document_again == document
    assert document["keys"][0]["kid"] == SigningKey.from_pem(content).kid


async def test_default_key_path_is_under_the_working_directory(
    make_settings, start, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    client = await start(jwt_private_key_file=None)
    _, document = await fetch_jwks(client)
    path = tmp_path / DEFAULT_KEY_FILE
    assert SigningKey.from_pem(path.read_bytes()).kid == document["keys"][0]["kid"]


def test_concurrent_creators_agree_on_one_key(tmp_path):
    path = tmp_path / "race" / "key.pem"
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(create_key_file, [path] * 8))
    assert len({content for content, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert [p.name for p in path.parent.iterdir()] == ["key.pem"]  # no temp files left


def test_production_never_generates(make_settings, tmp_path):
    missing = tmp_path / "nope.pem"
    settings = make_settings(app_env="production", jwt_private_key_file=missing)
    with pytest.raises(KeyConfigError, match="does not exist"):
        load_key_ring(settings)
    assert not missing.exists()


async def test_production_start_fails_clearly(make_settings, tmp_path):
    settings = make_settings(app_env="production", jwt_private_key_file=tmp_path / "nope.pem")
    with pytest.raises(KeyConfigError):
        async with running(settings):
            pass


async def test_key_from_the_environment(make_settings, start, key_file):
    key = SigningKey.generate()
    one_line = key.private_pem().decode().replace("\n", "\\n")
    for pem in (key.private_pem().decode(), one_line):
        client = await start(jwt_private_key_file=None, jwt_private_key=pem)
        resp, document = await fetch_jwks(client)
        assert [k["kid"] for k in document["keys"]] == [key.kid]
        assert resp.headers["Cache-Control"] == "public, max-age=60"
        await client.close()
    assert not key_file.exists()


def test_retired_bundle_holds_public_keys_only(tmp_path):
    a, b = SigningKey.generate(), SigningKey.generate()
    bundle = tmp_path / "retired.pem"
    bundle.write_bytes(a.public_pem() + b"\n" + b.public_pem())
    assert [k.public_numbers() for k in load_public_keys(bundle)] == [
        a.public_key.public_numbers(),
        b.public_key.public_numbers(),
    ]
    bundle.write_bytes(a.private_pem())
    with pytest.raises(KeyConfigError, match="public keys only"):
        load_public_keys(bundle)
    bundle.write_bytes(b"")
    with pytest.raises(KeyConfigError, match="no PEM"):
        load_public_keys(bundle)
