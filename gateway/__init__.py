"""Gateway: the only public entry point; turns purchases into queued intents and tickets."""
