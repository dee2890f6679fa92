"""Entrypoints: parse what arrives (HTTP, messages, commands), call a handler, answer."""
