"""Contracts every service shares: messages, settings base, topology, keys, migrations."""
