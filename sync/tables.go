package sync

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gocarina/gocsv"
)

// The tables whose columns custsync itself defines (the SD mappings and deletion log exports, the
// `deletions ack` file and the CSV check report) are read and written with gocarina/gocsv: a row type's csv
// tags are the table's header, so the schema is kept in one place. The mapped ERP tables are not: their
// columns are dynamic (see ARCHITECTURE.md). gocsv works here only through readers and writers passed to each
// call (formats' CSV and XLSX writers, the input stage's tables), never through its process-wide settings.

// mappingRow is one row of a mappings export.
type mappingRow struct {
	CustomerNumber   string  `csv:"customerNumber"`
	SDCustomerNumber string  `csv:"sdCustomerNumber"`
	DeletedInYaaS    bool    `csv:"deletedInYaaS"`
	Pushed           bool    `csv:"pushed"`
	UpdatedAt        csvTime `csv:"updatedAt"`
}

// deletionRow is one row of a deletions export.
type deletionRow struct {
	Kind      string  `csv:"kind"`
	ERPKey    string  `csv:"erpKey"`
	RemoteID  string  `csv:"remoteId"`
	Reason    string  `csv:"reason"`
	RunID     runID   `csv:"runId"`
	CreatedAt csvTime `csv:"createdAt"`
	AckedAt   csvTime `csv:"ackedAt"`
	PreImage  string  `csv:"preImage"`
}

// ackRow is one row of a `deletions ack` file: a deletions export, or any table with a kind and an ERP key
// column. Header names match in any case (ackRows lower-cases them); the tags list the names accepted.
type ackRow struct {
	Kind   string `csv:"kind,entity"`
	ERPKey string `csv:"erpkey,erp_key,key"`
}

// checkReportRow is one row of a CSV check report: the verdict for one key.
type checkReportRow struct {
	Entity   string `csv:"entity"`
	Key      string `csv:"key"`
	RemoteID string `csv:"remoteId"`
	Status   string `csv:"status"`
	Fields   string `csv:"fields"`
	Detail   string `csv:"detail"`
}

// MappingColumns, DeletionColumns and CheckColumns are the headers of the mappings and deletions exports and
// of the CSV check report. A deletions export (or any file with the kind and erpKey columns) is what
// `deletions ack FILE` reads back.
var (
	MappingColumns  = tableHeader[mappingRow]()
	DeletionColumns = tableHeader[deletionRow]()
	CheckColumns    = tableHeader[checkReportRow]()
)

// csvTime is a timestamp cell: RFC 3339 in UTC, blank for the zero time.
type csvTime time.Time

// MarshalCSV renders the cell.
func (t csvTime) MarshalCSV() (string, error) {
	if time.Time(t).IsZero() {
		return "", nil
	}
	return time.Time(t).UTC().Format(time.RFC3339), nil
}

// runID is a run number cell, blank for entries no run wrote.
type runID int64

// MarshalCSV renders the cell.
func (id runID) MarshalCSV() (string, error) {
	if id == 0 {
		return "", nil
	}
	return strconv.FormatInt(int64(id), 10), nil
}

// tableHeader is the header gocsv writes for rows of type T.
func tableHeader[T any]() []string {
	var h headerOnly
	if err := gocsv.MarshalCSV([]T{}, &h); err != nil {
		panic(fmt.Sprintf("header of %T: %v", *new(T), err)) // a row type without csv tags: a programming error
	}
	return h.header
}

type headerOnly struct{ header []string }

func (h *headerOnly) Write(row []string) error { h.header = slices.Clone(row); return nil }
func (h *headerOnly) Flush()                   {}
func (h *headerOnly) Error() error             { return nil }

// tableWriter writes rows of type T, one gocsv call per row, to a CSV file or XLSX sheet of formats whose
// header has been written.
type tableWriter[T any] struct{ w rowWriter }

// Write writes one row.
func (tw tableWriter[T]) Write(row T) error {
	return gocsv.MarshalCSVWithoutHeaders([]T{row}, gocsvWriter{tw.w})
}

// gocsvWriter lets gocsv write through one of formats' writers, which do their own buffering and flushing.
type gocsvWriter struct{ rowWriter }

func (gocsvWriter) Flush()       {}
func (gocsvWriter) Error() error { return nil }

// readFixedTable reads every row of an input stage table into rows of type T: gocsv matches the table's header,
// lower-cased, against T's csv tags. A row the reader could not split is an input error, naming its place.
func readFixedTable[T any](t *InputTable) ([]T, error) {
	var rows []T
	if err := gocsv.UnmarshalCSV(&inputRows{t: t}, &rows); err != nil {
		return nil, err
	}
	return rows, nil
}

// missingColumns lists, for each field of T that no header column names, the first name its tag accepts.
func missingColumns[T any](header []string) []string {
	have := map[string]bool{}
	for _, h := range header {
		have[strings.ToLower(strings.TrimSpace(h))] = true
	}
	var missing []string
	rt := reflect.TypeFor[T]()
	for i := range rt.NumField() {
		names := strings.Split(rt.Field(i).Tag.Get("csv"), ",")
		if !slices.ContainsFunc(names, func(n string) bool { return have[n] }) {
			missing = append(missing, names[0])
		}
	}
	return missing
}

// inputRows is an input stage table as a gocsv.CSVReader: the header, lower-cased, then the data rows.
type inputRows struct {
	t      *InputTable
	header bool
}

// Read returns the next row, io.EOF after the last.
func (r *inputRows) Read() ([]string, error) {
	if !r.header {
		r.header = true
		out := make([]string, len(r.t.Header))
		for i, h := range r.t.Header {
			out[i] = strings.ToLower(strings.TrimSpace(h))
		}
		return out, nil
	}
	row, err := r.t.Next()
	if err != nil {
		return nil, err
	}
	if row.ReadErr != "" {
		return nil, fmt.Errorf("%w: %s: %s", ErrInput, row.Pos.Words(), row.ReadErr)
	}
	return row.Cells, nil
}

// ReadAll returns the rows that are left.
func (r *inputRows) ReadAll() ([][]string, error) {
	var out [][]string
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, row)
	}
}
