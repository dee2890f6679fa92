"""`python -m bench.tokens [CHECKOUT ...]`: CPU per fresh token in the gateway's verifier.

In a flash sale most purchases carry a token the gateway has not verified yet, so the cost
of one uncached verification is part of every purchase. This times `TokenVerifier.verify`
(keys already fetched, every token new) in one process per checkout, so a worktree of an
older commit can be compared with this one in the same run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

TOKENS = 5_000
ROUNDS = 5

_MEASURE = f"""
import asyncio, statistics, time, uuid
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
try:
    from shared.runtime.token_verifier import TokenVerifier
except ImportError:  # a checkout from before shared/ was split
    from shared.tokens import TokenVerifier

async def main():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = dict(role="user", exp=now + 900, iat=now, iss="bench", aud="bench")
    tokens = [
        jwt.encode({{**claims, "sub": str(uuid.uuid4()), "name": f"u{{i}}"}}, key,
                   algorithm="RS256", headers={{"kid": "k"}})
        for i in range({TOKENS})
    ]
    rounds = []
    for _ in range({ROUNDS}):
        verifier = TokenVerifier(None, "", issuer="bench", audience="bench")
        verifier._keys = {{"k": key.public_key()}}  # as if the JWKS had been fetched
        started = time.process_time()
        for token in tokens:
            await verifier.verify(token)
        rounds.append((time.process_time() - started) / len(tokens) * 1e6)
    print(f"{{statistics.median(rounds):.1f}}")

asyncio.run(main())
"""


def measure(checkout: Path) -> float:
    """Median CPU µs per fresh token with the verifier of `checkout`."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tokens",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("checkouts", nargs="*", type=Path, help="default: this checkout")
    checkouts = parser.parse_args().checkouts or [Path(__file__).resolve().parent.parent]
    for checkout in checkouts:
        print(
            f"{checkout}: {measure(checkout):.1f} µs CPU per fresh token "
            f"(median of {ROUNDS} rounds of {TOKENS:,})"
        )


if __name__ == "__main__":
    main()
