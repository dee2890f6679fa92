""".env.example lists exactly the variables docker-compose.yml reads, each with its default.

(test_compose_v2.py also runs Compose with it as the env file and expects nothing to change.)
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
EXAMPLE = ROOT / ".env.example"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ...; `$$` is a literal dollar.
_REFERENCE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")


def compose_defaults() -> dict[str, set[str]]:
    """Every variable compose interpolates, with the defaults it is given."""
    found: dict[str, set[str]] = {}
    text = COMPOSE.read_text().replace("$$", "")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    for match in _REFERENCE.finditer("\n".join(lines)):
        defaults = found.setdefault(match["name"], set())
        if match["op"] in (":-", "-"):
            defaults.add(match["arg"])
    return found


def example() -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(EXAMPLE.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, equals, value = line.partition("=")
        assert equals and re.fullmatch(r"[A-Z][A-Z0-9_]*", name), f"line {number}: {line!r}"
        assert name not in values, f"{name} is listed twice"
        values[name] = value
    return values


def test_every_variable_compose_reads_is_in_the_example_and_nothing_else():
    listed, read = set(example()), set(compose_defaults())
    assert read - listed == set(), "add these to .env.example"
    assert listed - read == set(), "docker-compose.yml does not read these"


def test_the_example_gives_the_compose_defaults():
    for name, value in example().items():
        defaults = compose_defaults()[name]
        assert len(defaults) == 1, f"compose gives {name} several defaults: {defaults}"
        assert value == defaults.pop(), name


def test_every_variable_is_explained():
    # A comment right above it, or above the group of variables it belongs to.
    explained = False
    for line in EXAMPLE.read_text().splitlines():
        if not line.strip():
            explained = False
        elif line.startswith("# "):
            explained = True
        else:
            assert explained, f"{line.partition('=')[0]} has no comment above it"


def test_a_local_env_file_stays_out_of_git_and_the_image():
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in (ROOT / ".dockerignore").read_text().splitlines()
