"""Inventory service: owns sales and decides purchase intents, one FIFO line per partition."""
