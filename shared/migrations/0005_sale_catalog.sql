-- inventory_service publishes what the order service's sale report needs of a sale (its
-- stock, window and price), so that the report does not read the sales table itself.
CREATE VIEW sale_catalog AS
    SELECT sale_id, name, stock, starts_at, ends_at, price_amount, currency FROM sales;
