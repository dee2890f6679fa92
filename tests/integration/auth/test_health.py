async def test_readyz_checks_postgres_and_redis(client):
    resp = await client.get("/readyz")
    assert resp.status == 200
    assert (await resp.json())["checks"] == {"postgres": "ok", "redis": "ok"}


async def test_healthz_and_metrics(client):
    assert (await client.get("/healthz")).status == 200
    await client.post("/api/v1/auth/login", json={"username": "x", "password": "y"})
    metrics = await (await client.get("/metrics")).text()
    assert 'route="/api/v1/auth/login"' in metrics


async def test_jwks_is_public_and_short_lived(client):
    resp = await client.get("/.well-known/jwks.json")
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "public, max-age=60"
    assert resp.content_type == "application/json"
    (jwk,) = (await resp.json())["keys"]
    assert set(jwk) == {"kty", "n", "e", "kid", "alg", "use"}
