package mapping_test

import (
	"errors"
	"reflect"
	"testing"

	"custsync/mapping"
)

func TestRecordBinaryRoundTrip(t *testing.T) {
	cases := []struct {
		entity      mapping.Entity
		header, row string
	}{
		{mapping.Customers, "sdCustomerNumber,firstName,lastName,middleName,active,onHold,preferredCurrency,mixins.loyalty.level,mixins.loyalty.points:number,mixins.loyalty.tags:json",
			"0042,Anna,Huber,#N/A,yes,0,chf,GOLD,12.5,\"[\"\"a\"\",1]\""},
		{mapping.Addresses, "sdCustomerNumber,addressKey,contactName,country,isDefault,tags,streetAppendix",
			"0042,A1,Anna Huber,at,true,\"BILLING, SHIPPING,\",#N/A"},
		{mapping.Companies, "companyKey,name,type,parentCompanyKey,accountLimit.value,accountLimit.currency,customerGroups,locationKeys",
			"C2,Sub,SUBSIDIARY,C1,1000.99,eur,G1,\"L1,L2\""},
		{mapping.Contacts, "companyKey,sdCustomerNumber,type,primary", "C1,0042,billing,X"},
	}
	for _, c := range cases {
		header, rows, _ := readCSVBytes(t, []byte(c.header+"\n"+c.row+"\n"), ',')
		rec, errs := mapOne(t, c.entity, header, rows[0])
		if len(errs) > 0 {
			t.Fatalf("%s: %s", c.entity, errText(errs))
		}
		rec.Pos.File = "" // the binary form keeps the line only
		b := rec.AppendBinary([]byte("prefix"))[len("prefix"):]
		b = append(b, "rest"...)
		got, rest, err := mapping.DecodeRecord(b)
		if err != nil || string(rest) != "rest" {
			t.Fatalf("%s: decode: %v, rest %q", c.entity, err, rest)
		}
		if !reflect.DeepEqual(got, rec) || got.Hash() != rec.Hash() {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", c.entity, got, rec)
		}
		for cut := 0; cut < len(b)-len("rest"); cut++ {
			if _, _, err := mapping.DecodeRecord(b[:cut]); !errors.Is(err, mapping.ErrBadRecord) {
				t.Fatalf("%s: a record cut after %d bytes decoded: %v", c.entity, cut, err)
			}
		}
	}
}
