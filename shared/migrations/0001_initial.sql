-- auth_service owns users.
CREATE TABLE users (
    user_id       uuid PRIMARY KEY,
    username      text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Usernames are unique regardless of case: "Alice" and "alice" are the same account.
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

-- inventory_service owns sale definitions; the hot counters live in Redis.
CREATE TABLE sales (
    sale_id        uuid PRIMARY KEY,
    name           text NOT NULL,
    stock          integer NOT NULL CHECK (stock >= 1),
    starts_at      timestamptz NOT NULL,
    ends_at        timestamptz NOT NULL,
    per_user_limit integer NOT NULL DEFAULT 1 CHECK (per_user_limit >= 1),
    created_by     uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);

-- order_service owns the outcome of every ticket and the orders.
CREATE TABLE tickets (
    ticket_id    uuid PRIMARY KEY,
    sale_id      uuid NOT NULL,
    user_id      uuid NOT NULL,
    status       text NOT NULL CHECK (status IN ('confirmed', 'rejected')),
    reason       text,
    decided_at   timestamptz NOT NULL,
    persisted_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'rejected') = (reason IS NOT NULL))
);
CREATE INDEX tickets_sale_idx ON tickets (sale_id, status);

CREATE TABLE orders (
    order_id   uuid PRIMARY KEY,
    ticket_id  uuid NOT NULL UNIQUE REFERENCES tickets (ticket_id),
    sale_id    uuid NOT NULL,
    user_id    uuid NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX orders_user_idx ON orders (user_id, created_at DESC);
CREATE INDEX orders_sale_idx ON orders (sale_id);
