"""The engine's promises (no oversell, no purchase beyond the limit, no ticket lost), checked
against the servers after a run.

The tests and the bench both check them, so they live here and depend on neither: the tests
must not import the bench, nor the bench the tests. Not a service and not a contract, it is not
part of `shared/` (nor of the image); it reads Redis through `shared.contracts.redis_layout`
and Postgres by the schema in `shared/migrations`.
"""
