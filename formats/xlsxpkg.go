package formats

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// xlsxPackage is the zip archive of a workbook, its parts indexed by name
// (OPC part names are case-insensitive).
type xlsxPackage struct {
	file  *os.File
	zr    *zip.Reader
	parts map[string]*zip.File
}

// xlsxMaxMetaPart bounds the parts read whole into memory (relationships,
// the workbook, styles); the sheets and shared strings are streamed.
const xlsxMaxMetaPart = 64 << 20

func partKey(name string) string {
	return strings.ToLower(strings.TrimPrefix(strings.ReplaceAll(name, "\\", "/"), "/"))
}

func openPackage(filePath string) (*xlsxPackage, error) {
	f, err := os.Open(filePath)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil {
		var zr *zip.Reader
		if zr, err = zip.NewReader(f, st.Size()); err == nil {
			p := &xlsxPackage{file: f, zr: zr, parts: make(map[string]*zip.File, len(zr.File))}
			for _, zf := range zr.File {
				key := partKey(zf.Name)
				if _, dup := p.parts[key]; dup {
					_ = f.Close()
					return nil, fmt.Errorf("the archive holds %s twice", zf.Name)
				}
				p.parts[key] = zf
			}
			return p, nil
		}
	}
	_ = f.Close()
	return nil, fmt.Errorf("not a readable XLSX workbook: %w", err)
}

func (p *xlsxPackage) close() error { return p.file.Close() }

func (p *xlsxPackage) part(name string) *zip.File { return p.parts[partKey(name)] }

// read returns a small part whole; a missing part is nil, nil.
func (p *xlsxPackage) read(name string) ([]byte, error) {
	zf := p.part(name)
	if zf == nil {
		return nil, nil
	}
	if zf.UncompressedSize64 > xlsxMaxMetaPart {
		return nil, fmt.Errorf("%s is %d MiB, more than the %d MiB this reader accepts for it", zf.Name, zf.UncompressedSize64>>20, xlsxMaxMetaPart>>20)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, memberError(zf.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc) // to EOF: the checksum is verified
	if err != nil {
		return nil, memberError(zf.Name, err)
	}
	return b, nil
}

// memberError describes a zip member that cannot be inflated or whose
// checksum does not match.
func memberError(name string, err error) error {
	switch {
	case errors.Is(err, zip.ErrChecksum):
		return fmt.Errorf("the zip member %s is damaged: its checksum does not match its content", name)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("the zip member %s is damaged: its compressed data ends early", name)
	case errors.Is(err, zip.ErrFormat):
		return fmt.Errorf("the zip member %s is damaged: it inflates to more than its declared size", name)
	}
	return fmt.Errorf("the zip member %s is damaged: %w", name, err)
}

// xlsxRel is one relationship of a part.
type xlsxRel struct {
	Type   string // the relationship type's last path element, e.g. "worksheet"
	Target string // the part it points to, resolved to a part name
}

// relationships reads the relationships of the part named source, by id.
func (p *xlsxPackage) relationships(source string) (map[string]xlsxRel, error) {
	dir, base := path.Split(source)
	relsName := dir + "_rels/" + base + ".rels"
	b, err := p.read(relsName)
	if err != nil || b == nil {
		return nil, err
	}
	var doc struct {
		Rels []struct {
			ID         string `xml:"Id,attr"`
			Type       string `xml:"Type,attr"`
			Target     string `xml:"Target,attr"`
			TargetMode string `xml:"TargetMode,attr"`
		} `xml:"Relationship"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s is not well-formed: %w", relsName, err)
	}
	rels := make(map[string]xlsxRel, len(doc.Rels))
	for _, r := range doc.Rels {
		if strings.EqualFold(r.TargetMode, "External") {
			continue
		}
		target := strings.ReplaceAll(r.Target, "\\", "/")
		if strings.HasPrefix(target, "/") {
			target = path.Clean(target)[1:]
		} else {
			target = strings.TrimPrefix(path.Clean("/"+dir+target), "/")
		}
		rels[r.ID] = xlsxRel{Type: path.Base(r.Type), Target: target}
	}
	return rels, nil
}

// workbookPart finds the workbook part through the package relationships.
func (p *xlsxPackage) workbookPart() (string, error) {
	rels, err := p.relationships("")
	if err != nil {
		return "", err
	}
	for _, r := range rels {
		if r.Type == "officeDocument" {
			return r.Target, nil
		}
	}
	return "xl/workbook.xml", nil
}

// metadataPackage copies the parts excelize needs to describe the workbook
// (the package and workbook relationships, the workbook, the styles) into a
// new archive, compressed bytes as they are. excelize inflates every part of
// the archive it opens, the sheets too (to temporary files when large):
// given only these, it opens a workbook of any size in milliseconds, and
// reading the sheets and shared strings is left to the streaming reader.
// Each part is first checked here, because excelize ignores a checksum that
// does not match and does not say which part is not well-formed.
func (p *xlsxPackage) metadataPackage(workbook string) ([]byte, error) {
	dir, base := path.Split(workbook)
	names := []string{"[Content_Types].xml", "_rels/.rels", workbook, dir + "_rels/" + base + ".rels", "xl/styles.xml"}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range names {
		zf := p.part(name)
		if zf == nil {
			continue
		}
		if zf.UncompressedSize64 > xlsxMaxMetaPart {
			return nil, fmt.Errorf("%s is %d MiB, more than the %d MiB this reader accepts for it", zf.Name, zf.UncompressedSize64>>20, xlsxMaxMetaPart>>20)
		}
		if err := checkPart(zf); err != nil {
			return nil, err
		}
		raw, err := zf.OpenRaw()
		if err != nil {
			return nil, memberError(zf.Name, err)
		}
		fh := zf.FileHeader
		w, err := zw.CreateRaw(&fh)
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(w, raw); err != nil {
			return nil, memberError(zf.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// checkPart reads an XML part to its end: it must inflate, match its
// checksum and be well-formed.
func checkPart(zf *zip.File) error {
	rc, err := zf.Open()
	if err != nil {
		return memberError(zf.Name, err)
	}
	defer rc.Close()
	sc := newXMLScanner(rc)
	for {
		tok, err := sc.next()
		if err != nil {
			return partError("the part "+zf.Name, zf.Name, err)
		}
		if tok == tokEOF {
			return nil
		}
	}
}
