-- Products with a price, sales of a product, orders paid before a deadline, payments.

-- inventory_service owns products. Money is an integer amount in the currency's minor unit.
CREATE TABLE products (
    product_id   uuid PRIMARY KEY,
    name         text NOT NULL,
    description  text,
    image_url    text,
    price_amount bigint NOT NULL CHECK (price_amount >= 0),
    currency     text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE sales
    ADD COLUMN product_id uuid REFERENCES products (product_id),
    ADD COLUMN price_amount bigint CHECK (price_amount >= 0),
    ADD COLUMN currency text CHECK (currency ~ '^[A-Z]{3}$'),
    ADD COLUMN payment_window_seconds integer NOT NULL DEFAULT 600
        CHECK (payment_window_seconds BETWEEN 5 AND 86400),
    ADD COLUMN waitlist_size integer NOT NULL DEFAULT 0 CHECK (waitlist_size >= 0);

-- Sales made before products existed sold an abstract unit for nothing: each gets a product
-- of its own name (its id the sale's, so the mapping is plain), priced 0.
INSERT INTO products (product_id, name, price_amount, currency, created_by, created_at)
    SELECT sale_id, name, 0, 'USD', created_by, created_at FROM sales;
UPDATE sales SET product_id = sale_id, price_amount = 0, currency = 'USD';
ALTER TABLE sales
    ALTER COLUMN product_id SET NOT NULL,
    ALTER COLUMN price_amount SET NOT NULL,
    ALTER COLUMN currency SET NOT NULL;
CREATE INDEX sales_product_idx ON sales (product_id);

-- order_service: an order is reserved until pay_by, then paid, or expired (its unit released
-- through the sale's line), or refunded (a payment that arrived after the deadline).
ALTER TABLE orders
    ADD COLUMN status text NOT NULL DEFAULT 'paid'
        CHECK (status IN ('awaiting_payment', 'paid', 'expired', 'refunded')),
    ADD COLUMN product_id uuid,
    ADD COLUMN price_amount bigint NOT NULL DEFAULT 0,
    ADD COLUMN currency text NOT NULL DEFAULT 'USD',
    ADD COLUMN pay_by timestamptz,
    ADD COLUMN paid_at timestamptz,
    ADD COLUMN expired_at timestamptz,
    ADD COLUMN refunded_at timestamptz;
-- Orders made before payments existed were complete when written: they count as paid (for
-- nothing), so no old order expires and releases a unit someone already has.
UPDATE orders SET product_id = sale_id, paid_at = created_at;
ALTER TABLE orders
    ALTER COLUMN status DROP DEFAULT,
    ALTER COLUMN price_amount DROP DEFAULT,
    ALTER COLUMN currency DROP DEFAULT,
    ALTER COLUMN product_id SET NOT NULL,
    ADD CHECK (status <> 'awaiting_payment' OR pay_by IS NOT NULL),
    ADD CHECK (status <> 'paid' OR paid_at IS NOT NULL),
    ADD CHECK (status NOT IN ('expired', 'refunded') OR expired_at IS NOT NULL);
-- The expiry sweep reads only the orders still waiting, oldest deadline first.
CREATE INDEX orders_expiry_idx ON orders (pay_by) WHERE status = 'awaiting_payment';

-- When a purchase was asked for: the sale report's decision latency.
ALTER TABLE tickets ADD COLUMN requested_at timestamptz;

-- A charge of one order. At most one charge per order is processing or taken: a failed one
-- may be retried with another payment.
CREATE TABLE payments (
    payment_id      uuid PRIMARY KEY,
    order_id        uuid NOT NULL REFERENCES orders (order_id),
    user_id         uuid NOT NULL,
    amount          bigint NOT NULL CHECK (amount >= 0),
    currency        text NOT NULL,
    payment_method  text NOT NULL,
    provider        text NOT NULL,
    idempotency_key text,
    status          text NOT NULL
        CHECK (status IN ('processing', 'succeeded', 'failed', 'refund_pending', 'refunded')),
    failure_code    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_id, idempotency_key)
);
CREATE UNIQUE INDEX payments_one_charge_idx ON payments (order_id) WHERE status <> 'failed';
CREATE INDEX payments_open_idx ON payments (status) WHERE status IN ('processing', 'refund_pending');

-- Every provider event handled, once: a replayed webhook changes nothing.
CREATE TABLE payment_events (
    event_id    text PRIMARY KEY,
    type        text NOT NULL,
    payment_id  uuid NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- The outbox of released units: written in the transaction that expires the order, published
-- into the sale's line until the broker confirms; the decider applies each command id once.
CREATE TABLE releases (
    order_id     uuid PRIMARY KEY REFERENCES orders (order_id),
    command_id   uuid NOT NULL UNIQUE,
    ticket_id    uuid NOT NULL,
    sale_id      uuid NOT NULL,
    user_id      uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX releases_unpublished_idx ON releases (created_at) WHERE published_at IS NULL;

-- What inventory_service reads of the orders: counts per status and the money taken.
DROP VIEW sale_order_counts;
CREATE VIEW sale_order_counts AS
    SELECT sale_id,
           count(*)::integer AS orders,
           (count(*) FILTER (WHERE status = 'awaiting_payment'))::integer AS awaiting_payment,
           (count(*) FILTER (WHERE status = 'paid'))::integer AS paid,
           (count(*) FILTER (WHERE status = 'expired'))::integer AS expired,
           (count(*) FILTER (WHERE status = 'refunded'))::integer AS refunded,
           (coalesce(sum(price_amount) FILTER (WHERE status = 'paid'), 0))::bigint AS revenue
    FROM orders GROUP BY sale_id;

-- The product of each sale as the order service shows it in an order object.
CREATE VIEW product_catalog AS
    SELECT product_id, name, description, image_url, price_amount, currency FROM products;
