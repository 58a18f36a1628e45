// Package formats reads and writes the tabular files custsync exchanges with an
// ERP: CSV and XLSX.
//
// Readers stream. A CSV file is one [Table]; an XLSX workbook is one table per
// worksheet, each read through excelize's row iterator so that memory stays
// bounded however many rows a sheet holds. Every cell is text: ERP numbers
// keep their leading zeros, and numeric XLSX cells come back as the string
// stored in the file, never re-formatted.
//
// Writers are atomic: output goes to a temporary file in the target's
// directory, is synced, and only replaces the target when the writer is
// closed. A failed or aborted export never leaves a half-written file behind.
//
// Anything a writer produces reads back through [Open] cell for cell, with two
// documented exceptions: a CR LF pair inside a CSV cell reads back as LF, and
// rows whose cells are all blank are skipped by the readers. Writers are not
// safe for concurrent use.
package formats
