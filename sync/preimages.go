package sync

import (
	"context"
	"encoding/json"
	"fmt"
	stdsync "sync"

	"custsync/state"
)

// preImageJournal journals the pre-images of a run's deletes in group commits. Each delete's pre-image must be
// durable before its DELETE is sent, and a commit of its own per delete (an fsync each) halved the rate of a
// delete-only run: writers hand their pre-images to one goroutine, which commits what has queued while the
// previous commit ran in one transaction and then releases every writer of the batch.
type preImageJournal struct {
	st    *state.Store
	runID int64
	reqs  chan preImageRequest
	wg    stdsync.WaitGroup
}

type preImageRequest struct {
	image state.PreImage
	done  chan error
}

// maxPreImageBatch bounds one commit: the writers in flight bound it anyway; this keeps a transaction short
// if many writers are configured.
const maxPreImageBatch = 256

// startPreImageJournal starts the goroutine; ctx is not cancelled by a signal (the committer's), so a delete
// whose pre-image was handed over is answered either way.
func startPreImageJournal(ctx context.Context, st *state.Store, runID int64) *preImageJournal {
	j := &preImageJournal{st: st, runID: runID, reqs: make(chan preImageRequest, maxPreImageBatch)}
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		batch := make([]preImageRequest, 0, maxPreImageBatch)
		images := make([]state.PreImage, 0, maxPreImageBatch)
		for first := range j.reqs {
			batch = append(batch[:0], first)
		queued:
			for len(batch) < maxPreImageBatch {
				select {
				case r, ok := <-j.reqs:
					if !ok {
						break queued
					}
					batch = append(batch, r)
				default:
					break queued
				}
			}
			images = images[:0]
			for _, r := range batch {
				images = append(images, r.image)
			}
			err := st.SavePreImages(ctx, runID, images)
			for _, r := range batch {
				r.done <- err
			}
		}
	}()
	return j
}

// save journals the pre-image of the delete op seq and returns once it is durable.
func (j *preImageJournal) save(seq int64, pre json.RawMessage) error {
	done := make(chan error, 1)
	j.reqs <- preImageRequest{image: state.PreImage{Seq: seq, Image: pre}, done: done}
	if err := <-done; err != nil {
		return fmt.Errorf("journal the pre-image of op %d of run %d: %w", seq, j.runID, err)
	}
	return nil
}

// stop ends the goroutine once every handed-over pre-image is answered; no save may follow.
func (j *preImageJournal) stop() {
	close(j.reqs)
	j.wg.Wait()
}
