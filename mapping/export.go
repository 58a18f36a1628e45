package mapping

import (
	"strconv"
	"strings"
)

// ExportRow renders a remote record (decoded from the platform's JSON) as cells in Columns(e) order, the
// inverse of Map with the default layout: mapping the row again gives a record with the same Hash as the
// row that produced the remote record (for the fields in Columns; mixins are not exported).
//
// keys supplies the ERP key columns by column name (sdCustomerNumber, addressKey, companyKey, locationKey;
// for contacts the keys come from the references). refKey translates a referenced remote id to that
// entity's ERP key (e.g. from the checkpoint or the SD mappings); nil means the remote id is the key, which
// holds for the default id templates of companies and locations and of customers without an explicit
// customerNumber. The customerNumber column is the remote "id"; the command and deleted columns stay blank.
// Lists are joined with sep ("" means DefaultListSeparator).
func ExportRow(e Entity, remote map[string]any, keys map[string]string, refKey func(Entity, string) string, sep string) []string {
	sc, err := schemaOf(e)
	if err != nil {
		return nil
	}
	if sep == "" {
		sep = DefaultListSeparator
	}
	if refKey == nil {
		refKey = func(_ Entity, id string) string { return id }
	}
	cols := Columns(e)
	out := make([]string, len(cols))
	for i, col := range cols {
		def := sc.byColumn[strings.ToLower(col)]
		if def == nil {
			continue
		}
		switch def.role {
		case roleCommand, roleDeleted:
			continue
		case roleRemoteID:
			if id, ok := remote["id"].(string); ok {
				out[i] = id
			}
			continue
		case roleKey, roleRef:
			if def.refPath == "" {
				out[i] = keys[col]
				continue
			}
			v, _ := getPath(remote, def.refPath)
			if ids, ok := listItems(v); ok {
				ks := make([]string, 0, len(ids))
				for _, id := range ids {
					if id != "" {
						ks = append(ks, refKey(def.refEntity, id))
					}
				}
				out[i] = strings.Join(ks, sep)
			} else if id, ok := v.(string); ok && id != "" {
				out[i] = refKey(def.refEntity, id)
			} else if def.role == roleKey {
				out[i] = keys[col]
			}
			continue
		}
		v, ok := getPath(remote, col)
		if !ok || v == nil {
			continue
		}
		out[i] = cellText(v, sep)
	}
	return out
}

// cellText renders one JSON value as a cell.
func cellText(v any, sep string) string {
	if items, ok := listItems(v); ok {
		return strings.Join(items, sep)
	}
	if f, ok := number(v); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	switch t := v.(type) {
	case string:
		return t
	case bool:
		return strconv.FormatBool(t)
	}
	return ""
}
