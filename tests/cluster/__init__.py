"""Cluster and failover scenarios: each starts and stops its own private servers."""
