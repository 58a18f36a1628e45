-- 0009: the journal of a finished run (its ops and update images) can be pruned after a retention (custsync
-- state prune, and every import that completes), while its row in the run history stays. journal_pruned_at
-- records when, so that `state runs` and `restore` can say that the run's changes can no longer be put back
-- instead of taking the missing journal for a run that changed nothing.
ALTER TABLE runs ADD COLUMN journal_pruned_at TEXT;
