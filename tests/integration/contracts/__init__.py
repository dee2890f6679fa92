"""Contract tests: each port's in-memory fake and its real adapter, held to the same checks."""
