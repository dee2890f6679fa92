"""The conventional design the engine is compared with: one transaction per purchase."""
