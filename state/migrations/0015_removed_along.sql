-- 0015: a delete removes the checkpoint rows of what the platform deleted with its record (a customer's
-- addresses and contact assignments, a company's assignments) and keeps no deletion log entry of them; a
-- restore that creates the record again with them (a customer's addresses, from its pre-image) needs their ERP
-- keys to record them in the checkpoint again. The delete's op keeps them (JSON: kind, erpKey, remoteId).
ALTER TABLE ops ADD COLUMN removed_along TEXT;
