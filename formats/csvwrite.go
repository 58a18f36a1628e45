package formats

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
)

// csvWriter writes RFC 4180 CSV; see Create for the quoting rules.
type csvWriter struct {
	file  *atomicFile
	w     *bufio.Writer
	comma byte
	width int
	rows  int
	err   error
}

func createCSVWriter(path string, style CSVStyle) (*csvWriter, error) {
	comma := byte(',')
	switch style.Delimiter {
	case 0, ',':
	case ';', '|', '\t':
		comma = byte(style.Delimiter)
	default:
		return nil, fmt.Errorf("CSV delimiter %q: use , ; | or tab", style.Delimiter)
	}
	f, err := createAtomic(path)
	if err != nil {
		return nil, err
	}
	w := &csvWriter{file: f, w: bufio.NewWriterSize(f, 64<<10), comma: comma}
	if style.BOM {
		_, _ = w.w.WriteString("\ufeff")
	}
	return w, nil
}

func (w *csvWriter) WriteHeader(header []string) error {
	if w.err != nil {
		return w.err
	}
	if w.width != 0 {
		return errors.New("WriteHeader called twice")
	}
	if err := checkHeaderForWrite(header); err != nil {
		w.err = fmt.Errorf("writing the header: %w", err)
		return w.err
	}
	w.width = len(header)
	return w.writeRecord(header)
}

func (w *csvWriter) Write(cells []string) error {
	if w.err != nil {
		return w.err
	}
	if err := checkRow(cells, w.width, w.rows+1); err != nil {
		w.err = err
		return err
	}
	w.rows++
	return w.writeRecord(cells)
}

func (w *csvWriter) writeRecord(cells []string) error {
	for i, c := range cells {
		if i > 0 {
			w.w.WriteByte(w.comma)
		}
		if !csvNeedsQuotes(c, w.comma) {
			w.w.WriteString(c)
			continue
		}
		w.w.WriteByte('"')
		for {
			j := strings.IndexByte(c, '"')
			if j < 0 {
				break
			}
			w.w.WriteString(c[:j+1])
			w.w.WriteByte('"')
			c = c[j+1:]
		}
		w.w.WriteString(c)
		w.w.WriteByte('"')
	}
	if err := w.w.WriteByte('\n'); err != nil {
		w.err = err
	}
	return w.err
}

func csvNeedsQuotes(c string, comma byte) bool {
	if c == "" {
		return false
	}
	if strings.IndexByte(c, comma) >= 0 {
		return true
	}
	if strings.ContainsAny(c, ",\";\t\r\n") {
		return true
	}
	return c != strings.TrimSpace(c)
}

func (w *csvWriter) Close() error {
	if w.err != nil {
		_ = w.file.abort()
		return w.err
	}
	if w.width == 0 {
		_ = w.file.abort()
		return errors.New("closing a CSV writer that has no header")
	}
	if err := w.w.Flush(); err != nil {
		_ = w.file.abort()
		return fmt.Errorf("writing %s: %w", w.file.target, err)
	}
	w.err = errors.New("writer is closed")
	return w.file.commit()
}

func (w *csvWriter) Abort() error {
	if w.err == nil {
		w.err = errors.New("writer is aborted")
	}
	return w.file.abort()
}
