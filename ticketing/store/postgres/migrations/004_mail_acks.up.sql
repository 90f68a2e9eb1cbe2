-- Acknowledgements granted to each address, for the per-sender hourly
-- limit of the mail channel (so that two auto-responders cannot loop).
-- One row per acknowledgement job; rows older than the window are pruned.
CREATE TABLE mail_ack_grants (
    job_id     bigint PRIMARY KEY,
    address    text NOT NULL,
    granted_at timestamptz NOT NULL
);
CREATE INDEX mail_ack_grants_address ON mail_ack_grants (address, granted_at);
