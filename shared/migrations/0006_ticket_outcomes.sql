-- order_service publishes each ticket's persisted outcome (and its order's status) for the
-- inventory's reconciliation, which rebuilds lost Redis records from it.
CREATE VIEW ticket_outcomes AS
    SELECT t.ticket_id, t.sale_id, t.user_id, t.status, t.reason, o.order_id,
           o.status AS order_status
    FROM tickets t LEFT JOIN orders o USING (ticket_id);
