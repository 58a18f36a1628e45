package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"custsync/formats"
	"custsync/mapping"
	"custsync/state"
)

// seedBatch is the number of outcomes per checkpoint transaction when seeding.
const seedBatch = 20_000

// SeedState records every row of a customer file in the checkpoint at statePath (bound to apiURL and tenant)
// as if an import had just synced it, without talking to the platform: the same ERP key, remote id, row hash,
// snapshot and SD mapping that sync.Import records after a successful create. It returns the number of rows
// seeded. An import of the same file afterwards must find every row unchanged and send nothing, which is how
// the no-op benchmark checks that the seeding is faithful.
func SeedState(ctx context.Context, csvPath, statePath, apiURL, tenant string) (int, error) {
	st, err := state.Open(ctx, statePath, state.Binding{APIURL: apiURL, Tenant: tenant})
	if err != nil {
		return 0, fmt.Errorf("open state %s: %w", statePath, err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = st.Close()
		}
	}()
	// As after the import it stands for, which the platform accepted.
	if err := st.Bind(ctx); err != nil {
		return 0, err
	}
	tables, err := formats.Open(csvPath, formats.Options{})
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", csvPath, err)
	}
	defer func() { _ = formats.CloseAll(tables) }()
	if len(tables) != 1 {
		return 0, fmt.Errorf("%s: want one table, got %d", csvPath, len(tables))
	}
	t := tables[0]
	mappers, err := mapping.Resolve(nil, mapping.Table{File: csvPath}, t.Header())
	if err != nil {
		return 0, fmt.Errorf("resolve columns of %s: %w", csvPath, err)
	}
	if len(mappers) != 1 || mappers[0].Entity() != mapping.Customers {
		return 0, fmt.Errorf("%s: not a customers file", csvPath)
	}
	m := mappers[0]
	batch := make([]state.Outcome, 0, seedBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := st.Commit(ctx, batch); err != nil {
			return fmt.Errorf("commit seeded outcomes: %w", err)
		}
		batch = batch[:0]
		return nil
	}
	n := 0
	for {
		row, err := t.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("read %s: %w", csvPath, err)
		}
		rec, ferrs := m.Map(formats.Position{File: row.Pos.File, Sheet: row.Pos.Sheet, Line: row.Pos.Line}, row.Cells)
		if len(ferrs) > 0 {
			return n, fmt.Errorf("%s line %d: %v", csvPath, row.Pos.Line, ferrs[0].Error())
		}
		// The engine's snapshot of a create is the record applied to an empty remote document.
		snap, err := json.Marshal(rec.ApplyTo(map[string]any{}))
		if err != nil {
			return n, fmt.Errorf("encode snapshot of %q: %w", rec.Key, err)
		}
		o := state.Outcome{Kind: string(mapping.Customers), ERPKey: rec.Key, Action: state.ActionCreate,
			RemoteID: rec.RemoteID, RowHash: rec.Hash(), RawHash: m.RawHash(row.Cells), Snapshot: snap}
		if sd, ok := mapping.SDMappingFor(rec); ok {
			o.Mapping = &state.SDMapping{CustomerNumber: sd.CustomerNumber, SDCustomerNumber: sd.SDCustomerNumber}
		}
		batch = append(batch, o)
		n++
		if len(batch) == seedBatch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := flush(); err != nil {
		return n, err
	}
	closed = true
	if err := st.Close(); err != nil {
		return n, fmt.Errorf("close state %s: %w", statePath, err)
	}
	return n, nil
}
