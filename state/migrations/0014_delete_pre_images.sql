-- 0014: a delete's pre-image is journaled on its op before the DELETE is sent (Store.SavePreImage). A run killed,
-- or stopped by another error, after the platform applied the delete but before the outcome was recorded left
-- the deletion unlogged; the run that takes it over found the record gone and logged it without a pre-image,
-- under its own id, so nothing could be restored. Now it logs it with this pre-image under the deleting run.
ALTER TABLE ops ADD COLUMN pre_image TEXT;
