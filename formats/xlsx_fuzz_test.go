package formats

import (
	"bytes"
	"encoding/xml"
	"io"
	"testing"
)

// readSheetPart runs the sheet reader over a worksheet part, with a shared
// string table of three strings and style 1 formatted 00000. rootEnd is the
// offset just after the root element's end (-1 if it never closed).
func readSheetPart(data []byte) (rows int, rootEnd int64, err error) {
	sst, err := parseSharedStrings(bytes.NewReader([]byte(sstXML("<t>a</t>", "<t>b_x000D_</t>", "<r><t>c</t></r>"))))
	if err != nil {
		panic(err)
	}
	defer sst.close()
	sc := newXMLScanner(bytes.NewReader(data))
	r := newSheetReader(sc, sst.reader(), numberStyles{pads: []*zeroPadFormat{nil, {width: 5, sections: 1}}})
	for {
		ok, err := r.nextRow()
		if err != nil || !ok {
			rootEnd = -1
			if sc.rootDone {
				rootEnd = sc.rootEnd
			}
			return rows, rootEnd, err
		}
		rows++
	}
}

// wellFormedStdlib reports whether encoding/xml reads the whole document.
func wellFormedStdlib(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	for {
		if _, err := d.Token(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// The tokenizer and sheet reader never panic, accept nothing encoding/xml
// rejects, and never accept a document cut before its root element ends.
func FuzzXLSXSheetXML(f *testing.F) {
	valid := sheetXML("A1:C4", `<row r="1">`+inline("A1", "id")+inline("B1", "name")+inline("C1", "n")+`</row>`+
		`<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v>2</v></c><c r="C2" s="1"><v>42</v></c></row>`+
		`<row><c t="e"><v>#N/A</v></c><c t="inlineStr"><is><r><t>x &amp; y&#10;</t></r><rPh><t>p</t></rPh></is></c><c t="str"><f>A1</f><v>z</v></c></row>`+
		`<row r="4"><c r="C4" t="b"><v>1</v></c></row>`)
	seeds := []string{
		valid,
		valid[:len(valid)/2],
		valid[:len(valid)-1],
		bytes.NewBuffer(bytes.Replace([]byte(valid), []byte("x &amp; y"), []byte("x & y"), 1)).String(),
		`<worksheet><sheetData><row r="1"><c r="A1"><v>1</v></c></row></sheetData></worksheet>`,
		`<x:worksheet xmlns:x="urn:x"><x:sheetData><x:row><x:c><x:v>1</x:v></x:c></x:row></x:sheetData></x:worksheet>`,
		"\xEF\xBB\xBF<worksheet><!-- c --><?pi x?><sheetData><row><c t=\"inlineStr\"><is><t><![CDATA[a<b]]></t></is></c></row></sheetData></worksheet>\n",
		`<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY e "x">]><worksheet/>`,
		`<worksheet><sheetData><row r="2"/><row r="1"/></sheetData></worksheet>`,
		`<worksheet><dimension ref="A1:A9"/><sheetData><row r="1"><c><v>1</v></c></row></sheetData></worksheet>`,
		"<worksheet><sheetData><row><c t=\"inlineStr\"><is><t>a\r\nb\xff</t></is></c></row></sheetData></worksheet>",
		`<worksheet><sheetData><row><c t="s"><v>7</v></c></row></sheetData></worksheet>`,
		`<worksheet a='1' b="&lt;"><sheetData></sheetData ></worksheet>`,
		`<chartsheet/>`,
		`<worksheet></worksheet><worksheet/>`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, rootEnd, err := readSheetPart(data)
		if err != nil {
			return
		}
		if serr := wellFormedStdlib(data); serr != nil {
			t.Fatalf("accepted a document encoding/xml rejects (%v): %q", serr, data)
		}
		if rootEnd < 0 {
			t.Fatalf("accepted a document whose root never ended: %q", data)
		}
		for _, cut := range []int64{rootEnd - 1, rootEnd * 2 / 3, rootEnd / 3} {
			if cut <= 0 {
				continue
			}
			if _, _, err := readSheetPart(data[:cut]); err == nil {
				t.Fatalf("accepted the document cut at byte %d of %d: %q", cut, len(data), data[:cut])
			}
		}
	})
}

// The shared-string parser never panics and never accepts a cut-off table.
func FuzzXLSXSharedStrings(f *testing.F) {
	for _, s := range []string{
		sstXML("<t>a</t>", `<r><rPr><b/></rPr><t xml:space="preserve"> b </t></r><rPh><t>x</t></rPh>`, "<t/>", "<t>_x000D__xD800_</t>"),
		sstXML("<t>a & b</t>"),
		sstXML("<t>a</t>")[:40],
		`<sst><si><t>a</t></si></sst>`,
		`<other/>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sst, err := parseSharedStrings(bytes.NewReader(data))
		if err != nil {
			return
		}
		defer sst.close()
		r := sst.reader()
		for i := 0; i < sst.count; i++ {
			if _, ok, err := r.appendString(nil, i); !ok || err != nil {
				t.Fatalf("string %d of %d: %v %v", i, sst.count, ok, err)
			}
		}
		if serr := wellFormedStdlib(data); serr != nil {
			t.Fatalf("accepted a table encoding/xml rejects (%v): %q", serr, data)
		}
		// Whatever the last '>' ends (the root, or a comment after it), a
		// document cut before it is incomplete.
		if end := bytes.LastIndexByte(data, '>'); end >= 0 {
			if cut, err := parseSharedStrings(bytes.NewReader(data[:end])); err == nil {
				_ = cut.close()
				t.Fatalf("accepted the table cut before its last '>': %q", data[:end])
			}
		}
	})
}
