"""Load-test accounts and their tokens: `python -m auth_service issue-tokens`, fenced off.

The bench needs thousands of signed-in users at once, which registration and login cannot
give it (bcrypt). This package makes such accounts in bulk, with a password hash that no
password matches, and signs a token for each. Nothing of the service imports it (only
`__main__` wires the command): its ports, handlers and user store know real accounts only.
"""
