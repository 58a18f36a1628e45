-- 0016: an import that takes over the pending ops of an interrupted run records which run it resumed
-- (Store.TakeOverRun), so that `restore --run last` puts back the interrupted run together with the run that
-- finished it. Runs from before: from the report a finished run recorded; a resuming run that was itself killed
-- recorded none, and is restored on its own.
ALTER TABLE runs ADD COLUMN resumed_run INTEGER;
UPDATE runs SET resumed_run = json_extract(stats, '$.resumedRun')
	WHERE kind = 'import' AND json_valid(stats) AND json_type(stats, '$.resumedRun') = 'integer';
