-- A fair start (issue 14): a waiting room before the sale, a window after its start whose
-- purchases are drawn in a random order, and a proof-of-work difficulty. The draw's seed and
-- time are recorded once, for audit.
ALTER TABLE sales
    ADD COLUMN waiting_room_opens_at timestamptz,
    ADD COLUMN fair_window_seconds integer NOT NULL DEFAULT 0
        CHECK (fair_window_seconds BETWEEN 0 AND 300),
    ADD COLUMN pow_difficulty integer NOT NULL DEFAULT 0 CHECK (pow_difficulty BETWEEN 0 AND 26),
    ADD COLUMN draw_seed text,
    ADD COLUMN drawn_at timestamptz,
    ADD COLUMN drawn_tickets integer;
