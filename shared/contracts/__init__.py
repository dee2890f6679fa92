"""What the services agree on: messages, Redis layout, AMQP topology, tokens, errors, settings."""
