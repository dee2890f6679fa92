"""The auth service's own metrics (HTTP metrics come from shared.runtime.metrics)."""

from prometheus_client import Counter, Gauge, Histogram

LOGINS = Counter(
    "auth_logins_total",
    "Login attempts by outcome: success, invalid_credentials, throttled (429), unavailable (503)",
    ["outcome"],
)
THROTTLED = Counter(
    "auth_login_throttled_total",
    "Logins refused with 429, by the limit that refused them: client, user (one account from"
    " one client), account (one account from all clients), in_flight (checks of that account"
    " already running)",
    ["limit"],
)
BCRYPT_WAIT = Histogram(
    "auth_bcrypt_wait_seconds",
    "Time a password check or hash waited in the bcrypt queue before a worker took it",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)
BCRYPT_QUEUE = Gauge("auth_bcrypt_queue", "Password checks and hashes waiting or running")
BCRYPT_SHED = Counter(
    "auth_bcrypt_shed_total",
    "Password checks and hashes refused with 503 because the expected wait was too long",
)

# Known label values exist from the start: a series that appears only at its first increment
# loses that increment in every rate() (Prometheus has no earlier sample to compare with).
for _outcome in ("success", "invalid_credentials", "throttled", "unavailable"):
    LOGINS.labels(_outcome)
for _limit in ("client", "user", "account", "in_flight"):
    THROTTLED.labels(_limit)
