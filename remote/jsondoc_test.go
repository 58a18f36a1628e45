package remote

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// docDecoderSeeds are answers and near-answers with the cases where a JSON decoder can go its own way.
var docDecoderSeeds = []string{
	``, ` `, `null`, `[]`, `{}`, `[null]`, `[{}]`, `[{},null,{"a":1}]`, `[1]`, `["x"]`, `[[]]`, `{"a":1}`,
	`[{"id":"C1","firstName":"Ann","active":true,"onHold":false,"b2b":{"companyRegistrationId":"HRB1"},"metadata":{"version":2},"tags":["a","b"],"x":null}]`,
	// numbers: kept as sent, grammar enforced
	`[{"n":0,"m":-0,"f":1.25,"e":1e400,"E":-2.5E-3,"big":123456789012345678901234567890}]`,
	`[{"n":01}]`, `[{"n":1.}]`, `[{"n":.5}]`, `[{"n":-}]`, `[{"n":1e}]`, `[{"n":1e+}]`, `[{"n":+1}]`, `[{"n":0x1}]`,
	// strings: escapes, surrogates, invalid UTF-8, non-ASCII, control characters
	`[{"s":"M\u00fcnchen","t":"München","q":"a\"b\\c\/d\b\f\n\r\t"}]`,
	`[{"s":"\ud83d\ude00","lone":"\ud83d","low":"\ude00x"}]`,
	"[{\"bad\":\"a\xffb\",\"sur\":\"\xed\xa0\x80\"}]",
	"[{\"ctl\":\"a\tb\"}]", `[{"esc":"\x"}]`, `[{"u":"\u12"}]`, `[{"u":"\u"}]`, `[{"open":"abc`, `[{"k\u0041":1}]`,
	// duplicates: the later member wins, whole
	`[{"a":{"x":1},"a":{"y":2},"b":1,"b":[1]}]`,
	// structure
	`[{"a":1,}]`, `[{"a":1]`, `[{"a" 1}]`, `[{a:1}]`, `[1,]`, `[,1]`, `[{"a":1}`, `[{"a":tru}]`, `[{"a":nul}]`, `[{"a":truex}]`,
	"\t\r\n [ {\"a\" : [ 1 , 2 ] } ] \n", `[{}] trailing`, `[{}]]`, `{}x`, "\xef\xbb\xbf[]", `[{"a":true}]x`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	"[" + strings.Repeat(`{"a":`, 9998) + "1" + strings.Repeat("}", 9998) + "]",
	"[" + strings.Repeat(`{"a":`, 9999) + "1" + strings.Repeat("}", 9999) + "]",
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
}

// referenceDocs decodes as remote did before docDecoder: encoding/json's Decoder with UseNumber.
func referenceDocs(data []byte) ([]Doc, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var ds []Doc
	err := dec.Decode(&ds)
	return ds, err
}

func referenceDoc(data []byte) (Doc, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var d Doc
	err := dec.Decode(&d)
	return d, err
}

func compareWithEncodingJSON(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := referenceDocs(data)
	got, err := decodeDocList(data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("list %.200q: error %v, encoding/json %v", data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("list %.200q:\n got  %#v\n want %#v", data, got, want)
	}
	wantDoc, wantErr := referenceDoc(data)
	gotDoc, err := decodeOneDoc(data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("object %.200q: error %v, encoding/json %v", data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(gotDoc, wantDoc) {
		t.Fatalf("object %.200q:\n got  %#v\n want %#v", data, gotDoc, wantDoc)
	}
}

// TestDocDecoderMatchesEncodingJSON: docDecoder makes of every seed what encoding/json makes of it, and
// accepts and refuses the same ones; so does it of the customer pages the sandbox sends.
func TestDocDecoderMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range docDecoderSeeds {
		compareWithEncodingJSON(t, []byte(s))
	}
	page, err := os.ReadFile("testdata/customers-page.json")
	if err != nil {
		t.Fatal(err)
	}
	compareWithEncodingJSON(t, page)
	if docs, err := decodeDocList(page); err != nil || len(docs) == 0 {
		t.Fatalf("the sample page decodes to %d documents: %v", len(docs), err)
	}
}

func FuzzDocDecoderMatchesEncodingJSON(f *testing.F) {
	for _, s := range docDecoderSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { compareWithEncodingJSON(t, data) })
}

// BenchmarkDecodeCustomerPage decodes a page of 200 customers (the sample page's customers repeated) the way
// remote did before (encoding/json) and the way it does now (docDecoder).
func BenchmarkDecodeCustomerPage(b *testing.B) {
	sample, err := os.ReadFile("testdata/customers-page.json")
	if err != nil {
		b.Fatal(err)
	}
	items := bytes.TrimSuffix(bytes.TrimPrefix(bytes.TrimSpace(sample), []byte("[")), []byte("]"))
	var page bytes.Buffer
	page.WriteByte('[')
	for n := 0; n < 50; n++ {
		if n > 0 {
			page.WriteByte(',')
		}
		page.Write(items)
	}
	page.WriteByte(']')
	for _, tc := range []struct {
		name   string
		decode func([]byte) ([]Doc, error)
	}{{"encoding-json", referenceDocs}, {"docDecoder", decodeDocList}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(page.Len()))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tc.decode(page.Bytes()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
