"""Order service: persists every decision once and finalises its ticket."""
