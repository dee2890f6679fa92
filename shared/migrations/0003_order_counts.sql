-- order_service owns the orders table; other services read what they need of it only through
-- views it publishes here, so the table can change without breaking them.
-- inventory_service reads how many orders each sale has (stats, rebuilding lost counters).
CREATE VIEW sale_order_counts AS
    SELECT sale_id, count(*)::integer AS orders FROM orders GROUP BY sale_id;
