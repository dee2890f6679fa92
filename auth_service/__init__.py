"""The auth service: accounts, passwords, and the RS256 tokens every other service verifies."""
