// Package state is the SQLite checkpoint of custsync: what custsync wrote to the platform, the journal of the
// run in progress, the SD customer mappings, the deletion log, and the lock that allows one run at a time.
//
// A state file is custsync's own: it carries ApplicationID and a schema version, and Open refuses, untouched,
// any other SQLite file. It is private (0600, and so are its -wal and -shm files). It belongs to one API URL and
// tenant, recorded by Store.Bind once the platform has accepted the client (see Open and Binding), and it
// remembers settings given once, such as the SD customer mappings URL. Writes go through a single writer
// connection; reads use a separate pool and, thanks to WAL, never wait for the writer. The checkpoint is written
// only after the platform acknowledged a write (see Store.Commit), so a crash leaves planned ops that the next run
// resumes (see Store.ResumableRun and Store.PendingOps) instead of a checkpoint that claims too much.
//
// The journals of finished runs are pruned after a retention (Store.PruneJournals); the run history, the
// checkpoint, the SD mappings and the deletion log are kept.
//
// Every write failure is wrapped with ErrWriteFailed; the engine treats it as fatal to the run.
package state
