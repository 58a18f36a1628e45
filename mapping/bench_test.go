package mapping_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	"custsync/formats"
	"custsync/mapping"
)

// BenchmarkMapCustomers maps rows of the customers sample with the default layout (rows/s = 1e9 / ns/op).
func BenchmarkMapCustomers(b *testing.B) {
	h, rows, _ := readCSVFile(b, filepath.Join(samplesDir, "customers.csv"), ',')
	ms, err := mapping.Resolve(nil, mapping.Table{File: "customers.csv"}, h)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec, errs := ms[0].Map(formats.Position{Line: i}, rows[i%len(rows)])
		if len(errs) > 0 {
			b.Fatal(errs)
		}
		_ = rec.Hash()
	}
}

// BenchmarkMapSAP maps KNA1 rows into a customer and an address each.
func BenchmarkMapSAP(b *testing.B) {
	spec, err := mapping.LoadMappingFile(filepath.Join(samplesDir, "mappings", "sap-sd.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	h, rows, _ := readCSVFile(b, filepath.Join(samplesDir, "sap", "KNA1.csv"), ';')
	ms, err := mapping.Resolve(spec, mapping.Table{File: "KNA1.csv"}, h)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, m := range ms {
			rec, _ := m.Map(formats.Position{Line: i}, rows[i%len(rows)])
			_ = rec.Hash()
		}
	}
}

// BenchmarkKeySet1M adds a million distinct keys and reports the heap they occupy.
func BenchmarkKeySet1M(b *testing.B) {
	const n = 1_000_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%010d", i)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := mapping.NewKeySet(0)
		for j, k := range keys {
			if _, dup := s.Add(mapping.Customers, k, formats.Position{File: "c.csv", Line: j + 2}); dup {
				b.Fatal("false duplicate")
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heapB/key")
		runtime.KeepAlive(s)
	}
}

// BenchmarkCustomerBody encodes the create body of the customers sample's rows (without the account flags) two
// ways: the payload map through json.Marshal, and AppendPayloadJSON into a reused buffer; then the create's
// checkpoint snapshot, ApplyTo through json.Marshal and AppendAppliedJSON. Both give the same bytes
// (TestPayloadJSONIsMarshalOfPayload).
func BenchmarkCustomerBody(b *testing.B) {
	recs := sampleCustomers(b)
	var err error
	b.Run("payload/map+Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			p := recs[i%len(recs)].Payload()
			delete(p, "active")
			delete(p, "onHold")
			if _, err := json.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("payload/AppendPayloadJSON", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for i := 0; b.Loop(); i++ {
			if buf, err = recs[i%len(recs)].AppendPayloadJSON(buf[:0], "active", "onHold"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("snapshot/ApplyTo+Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := json.Marshal(recs[i%len(recs)].ApplyTo(nil)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("snapshot/AppendAppliedJSON", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for i := 0; b.Loop(); i++ {
			if buf, err = recs[i%len(recs)].AppendAppliedJSON(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeRecord decodes the binary form of the customers sample's rows, as the apply phase of a
// streamed import reads each journaled op's record back.
func BenchmarkDecodeRecord(b *testing.B) {
	recs := sampleCustomers(b)
	bins := make([][]byte, len(recs))
	for i, rec := range recs {
		bins[i] = rec.AppendBinary(nil)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, _, err := mapping.DecodeRecord(bins[i%len(bins)]); err != nil {
			b.Fatal(err)
		}
	}
}

// sampleCustomers maps the rows of the customers sample with the default layout.
func sampleCustomers(b *testing.B) []mapping.Record {
	h, rows, _ := readCSVFile(b, filepath.Join(samplesDir, "customers.csv"), ',')
	ms, err := mapping.Resolve(nil, mapping.Table{File: "customers.csv"}, h)
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]mapping.Record, len(rows))
	for i, row := range rows {
		var errs []mapping.FieldError
		if recs[i], errs = ms[0].Map(formats.Position{Line: i + 2}, row); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
	return recs
}
