// Package state is the SQLite checkpoint of custsync: what custsync wrote to the platform, the journal of the
// run in progress, the SD customer mappings, the deletion log, and the lock that allows one run at a time.
//
// A state file belongs to one API URL and tenant (see Open and Binding). Writes go through a single writer
// connection; reads use a separate pool and, thanks to WAL, never wait for the writer. The checkpoint is written
// only after the platform acknowledged a write (see Store.Commit), so a crash leaves planned ops that the next run
// resumes (see Store.ResumableRun and Store.PendingOps) instead of a checkpoint that claims too much.
//
// Every write failure is wrapped with ErrWriteFailed; the engine treats it as fatal to the run.
package state
