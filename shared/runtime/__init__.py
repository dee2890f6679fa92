"""Plumbing every process runs on: the app frame, middleware, logs, metrics, connections,
consumers."""
