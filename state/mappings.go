package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SDMapping links a platform customer number to its ERP (SAP SD) customer number, in the shape of the
// sdCustomerMappings endpoint.
type SDMapping struct {
	CustomerNumber   string // platform
	SDCustomerNumber string // ERP
	DeletedInYaaS    bool
	Pushed           bool // sent to the remote sdCustomerMappings endpoint in its current form
	UpdatedAt        time.Time
}

// upsertMappingSQL keeps updated_at and pushed when nothing changed, so an unchanged re-run leaves the
// mapping pushed; any change marks it for pushing again.
const upsertMappingSQL = `INSERT INTO sd_mappings (customer_number, sd_customer_number, deleted_in_yaas, pushed, updated_at)
	VALUES (?1, ?2, ?3, 0, ?4)` + upsertMappingConflictSQL

// upsertMappingConflictSQL is the conflict clause of upsertMappingSQL, shared with its multi-row form. An
// unchanged mapping (every update of a customer re-states its own) is left alone by the WHERE rather than set
// to the same values: SQLite would still rewrite its row and both its index entries, three random pages of a
// large state file per update.
const upsertMappingConflictSQL = `
	ON CONFLICT (customer_number) DO UPDATE SET
		sd_customer_number = excluded.sd_customer_number,
		deleted_in_yaas = excluded.deleted_in_yaas,
		pushed = 0,
		updated_at = excluded.updated_at
	WHERE sd_customer_number IS NOT excluded.sd_customer_number OR deleted_in_yaas IS NOT excluded.deleted_in_yaas`

// PutMappings upserts mappings outside a run's commits (`mappings pull`). Pushed is ignored: a changed mapping
// is marked unpushed, an unchanged one keeps its state.
func (s *Store) PutMappings(ctx context.Context, mappings []SDMapping) error {
	for _, m := range mappings {
		if m.CustomerNumber == "" || m.SDCustomerNumber == "" {
			return fmt.Errorf("put mappings: mapping %+v needs both customer numbers", m)
		}
	}
	return s.writeTx(ctx, fmt.Sprintf("put %d mappings", len(mappings)), func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, upsertMappingSQL)
		if err != nil {
			return err
		}
		defer stmt.Close()
		now := formatTime(time.Now())
		for _, m := range mappings {
			if _, err := stmt.ExecContext(ctx, m.CustomerNumber, m.SDCustomerNumber, boolInt(m.DeletedInYaaS), now); err != nil {
				return fmt.Errorf("mapping %s: %w", m.CustomerNumber, err)
			}
		}
		return nil
	})
}

// MappingFilter selects mappings; false fields match everything.
type MappingFilter struct {
	OnlyUnpushed      bool
	OnlyDeletedInYaaS bool
}

// ScanMappings calls fn for each mapping that matches filter, in customer number order.
func (s *Store) ScanMappings(ctx context.Context, filter MappingFilter, fn func(SDMapping) error) error {
	rows, err := s.reader.QueryContext(ctx, `SELECT customer_number, sd_customer_number, deleted_in_yaas, pushed, updated_at
		FROM sd_mappings WHERE (?1 = 0 OR pushed = 0) AND (?2 = 0 OR deleted_in_yaas = 1) ORDER BY customer_number`,
		boolInt(filter.OnlyUnpushed), boolInt(filter.OnlyDeletedInYaaS))
	if err != nil {
		return fmt.Errorf("read mappings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMapping(rows)
		if err != nil {
			return fmt.Errorf("read mappings: %w", err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read mappings: %w", err)
	}
	return nil
}

// ListMappings returns the mappings that match filter, in customer number order.
func (s *Store) ListMappings(ctx context.Context, filter MappingFilter) ([]SDMapping, error) {
	var out []SDMapping
	err := s.ScanMappings(ctx, filter, func(m SDMapping) error {
		out = append(out, m)
		return nil
	})
	return out, err
}

func scanMapping(row interface{ Scan(...any) error }) (SDMapping, error) {
	var (
		m       SDMapping
		updated sql.NullString
	)
	if err := row.Scan(&m.CustomerNumber, &m.SDCustomerNumber, &m.DeletedInYaaS, &m.Pushed, &updated); err != nil {
		return SDMapping{}, err
	}
	var err error
	m.UpdatedAt, err = parseTime(updated)
	return m, err
}

// GetMapping returns the mapping of a platform customer number; ok is false if there is none.
func (s *Store) GetMapping(ctx context.Context, customerNumber string) (m SDMapping, ok bool, err error) {
	m, err = scanMapping(s.reader.QueryRowContext(ctx, `SELECT customer_number, sd_customer_number, deleted_in_yaas,
		pushed, updated_at FROM sd_mappings WHERE customer_number = ?`, customerNumber))
	if errors.Is(err, sql.ErrNoRows) {
		return SDMapping{}, false, nil
	}
	if err != nil {
		return SDMapping{}, false, fmt.Errorf("read mapping %s: %w", customerNumber, err)
	}
	return m, true, nil
}

// MappingsBySDNumber returns the mappings of an ERP customer number (normally at most one).
func (s *Store) MappingsBySDNumber(ctx context.Context, sdCustomerNumber string) ([]SDMapping, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT customer_number, sd_customer_number, deleted_in_yaas, pushed, updated_at
		FROM sd_mappings WHERE sd_customer_number = ? ORDER BY customer_number`, sdCustomerNumber)
	if err != nil {
		return nil, fmt.Errorf("read mappings of %s: %w", sdCustomerNumber, err)
	}
	defer rows.Close()
	var out []SDMapping
	for rows.Next() {
		m, err := scanMapping(rows)
		if err != nil {
			return nil, fmt.Errorf("read mappings of %s: %w", sdCustomerNumber, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read mappings of %s: %w", sdCustomerNumber, err)
	}
	return out, nil
}

// MarkMappingsPushed marks mappings as sent to the remote endpoint. Only a mapping still equal to what was sent
// (same SD number and deleted flag) is marked, so a change made meanwhile is pushed again later. Returns how
// many were marked.
func (s *Store) MarkMappingsPushed(ctx context.Context, sent []SDMapping) (int64, error) {
	return s.eachMapping(ctx, "mark mappings pushed", `UPDATE sd_mappings SET pushed = 1
		WHERE customer_number = ? AND sd_customer_number = ? AND deleted_in_yaas = ?`, len(sent),
		func(i int) []any {
			return []any{sent[i].CustomerNumber, sent[i].SDCustomerNumber, boolInt(sent[i].DeletedInYaaS)}
		})
}

// MarkMappingsDeleted sets deletedInYaaS on the mappings of the given platform customer numbers (and marks them
// for pushing). Returns how many changed.
func (s *Store) MarkMappingsDeleted(ctx context.Context, customerNumbers []string) (int64, error) {
	return s.eachMapping(ctx, "mark mappings deleted", `UPDATE sd_mappings SET deleted_in_yaas = 1, pushed = 0, updated_at = ?
		WHERE customer_number = ? AND deleted_in_yaas = 0`, len(customerNumbers),
		func(i int) []any { return []any{formatTime(time.Now()), customerNumbers[i]} })
}

// DeleteMappings removes the mappings of the given platform customer numbers (the ERP acknowledged them).
// Returns how many were removed.
func (s *Store) DeleteMappings(ctx context.Context, customerNumbers []string) (int64, error) {
	return s.eachMapping(ctx, "delete mappings", `DELETE FROM sd_mappings WHERE customer_number = ?`, len(customerNumbers),
		func(i int) []any { return []any{customerNumbers[i]} })
}

// eachMapping runs one statement n times in one transaction and sums the affected rows.
func (s *Store) eachMapping(ctx context.Context, what, query string, n int, args func(int) []any) (int64, error) {
	var total int64
	err := s.writeTx(ctx, what, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, query)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i := 0; i < n; i++ {
			res, err := stmt.ExecContext(ctx, args(i)...)
			if err != nil {
				return err
			}
			affected, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += affected
		}
		return nil
	})
	return total, err
}

// MappingCounts summarises the mappings for `state show`.
type MappingCounts struct {
	Total, DeletedInYaaS, Unpushed int64
}

// CountMappings summarises the mappings.
func (s *Store) CountMappings(ctx context.Context) (MappingCounts, error) {
	var c MappingCounts
	err := s.reader.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(deleted_in_yaas), 0), COALESCE(SUM(1 - pushed), 0)
		FROM sd_mappings`).Scan(&c.Total, &c.DeletedInYaaS, &c.Unpushed)
	if err != nil {
		return MappingCounts{}, fmt.Errorf("count mappings: %w", err)
	}
	return c, nil
}

// ScanMappedNumbers calls fn with the customer number and SD customer number of every mapping, in no
// particular order, or with onlyRenamed of those whose SD customer number is not the customer number itself.
// It reads nothing else, for joins over every mapping.
func (s *Store) ScanMappedNumbers(ctx context.Context, onlyRenamed bool, fn func(customerNumber, sdCustomerNumber string) error) error {
	rows, err := s.reader.QueryContext(ctx, `SELECT customer_number, sd_customer_number FROM sd_mappings
		WHERE ?1 = 0 OR sd_customer_number <> customer_number`, boolInt(onlyRenamed))
	if err != nil {
		return fmt.Errorf("read mappings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var number, sdNumber string
		if err := rows.Scan(&number, &sdNumber); err != nil {
			return fmt.Errorf("read mappings: %w", err)
		}
		if err := fn(number, sdNumber); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read mappings: %w", err)
	}
	return nil
}
