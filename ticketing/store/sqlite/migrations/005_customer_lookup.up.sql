-- A customer's phones and e-mails are loaded by customer on every match
-- (the primary keys lead with the phone or e-mail, so they cannot serve
-- that lookup, and it fell back to a scan of the whole table).
CREATE INDEX customer_phones_customer ON customer_phones (customer_id);
CREATE INDEX customer_emails_customer ON customer_emails (customer_id);
