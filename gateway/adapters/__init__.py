"""Adapters: the outside world (Postgres, Redis, the broker, other services) behind the ports."""
