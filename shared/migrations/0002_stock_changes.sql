-- inventory_service: every stock top-up, once (its command id), so that sales.stock is the
-- durable total and a redelivered top-up cannot add twice.
CREATE TABLE stock_changes (
    command_id uuid PRIMARY KEY,
    sale_id    uuid NOT NULL REFERENCES sales (sale_id),
    quantity   integer NOT NULL CHECK (quantity >= 1),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_changes_sale_idx ON stock_changes (sale_id);
