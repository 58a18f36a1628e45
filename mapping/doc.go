// Package mapping turns rows of ERP export cells into validated, hashed records for the sync engine.
//
// It is pure: apart from LoadMappingFile it does no I/O. A reader (package formats) hands it a header and rows
// of text cells with a Position; Resolve picks the entity (or entities) a table feeds and returns Mappers; each
// Mapper.Map call returns a Record (ERP key, deterministic remote id, references to other entities, command,
// typed field values) and the row's FieldErrors. Bad rows never stop good rows: Map reports and the caller
// moves on. Header problems are reported by Resolve (wrapping ErrHeader) before any row is mapped.
//
// # Field states
//
// Field values have three states, which is the whole point of the blank-cell rule:
//   - absent: the cell is blank, keep whatever the platform has (not in Record.Fields at all);
//   - Clear: the cell holds the clear sentinel (default "#N/A"), empty the field on the platform;
//   - Set: the cell holds a value, converted to the field's JSON type (KindString, KindBool, KindNumber,
//     KindList split on "," by default, KindDate).
//
// # Default layout
//
// Files whose header uses the default column names (Columns) need no mapping file. Columns are named after
// the API fields, dotted for nesting (legalInfo.legalName, contactDetails.city, mixins.NAME.FIELD), plus the
// key and reference columns sdCustomerNumber, addressKey, companyKey, parentCompanyKey, locationKeys,
// approvalGroup and locationKey, the optional customerNumber (explicit platform customer number), and the
// optional command (UPSERT|DELETE|IGNORE) and deleted (X/1/true/yes) columns. Mixin columns are strings
// unless a suffix says otherwise: mixins.NAME.FIELD:number, :boolean, or :json (any JSON value, also
// mixins.NAME:json for a whole mixin); metadata.mixins.NAME is a mixin's schema URL. MixinCells renders a
// platform record's mixins in these columns. Header matching ignores case and surrounding
// space; an empty header cell (a trailing delimiter) is ignored.
//
// # Mapping files
//
// A mapping file (YAML, or JSON with the same structure) renames columns, adds constants and transforms:
//
//	version: 1
//	options:                    # all optional
//	  blankCells: keep          # keep (default) | clear
//	  clearSentinel: "#N/A"     # "" disables clearing by cell
//	  decimalComma: false       # "1.234,56" style numbers
//	  dateFormat: DD.MM.YYYY    # layout of date cells (YYYY YY MM DD M D, or a Go layout)
//	  listSeparator: ","
//	  trim: true
//	  ignoreUnknownColumns: false
//	ids:                        # remote id templates (DefaultIDTemplates)
//	  customers: "{key}"
//	  addresses: "{customer}-{key}"
//	entity: customers           # one entity per file: entity + fields (+ table, ignore)
//	fields:
//	  company: NAME1                        # short form: the source column
//	  lastName: {column: [NAME2, NAME1]}    # first non-blank of several columns
//	  preferredSite: {const: main}
//	  preferredLanguage: {column: SPRAS, upper: true, map: {D: de_DE, E: en_US}, strictMap: true}
//	  legalInfo.registrationDate: {column: ERDAT, date: YYYYMMDD}
//	  accountLimit.value: {column: KLIMK, decimalComma: true}
//	  sdCustomerNumber: {column: KUNNR, pad: 10}   # SAP ALPHA: digit-only keys get their zeros back
//	  # (stripLeadingZeros: true drops them instead; otherwise zeros are kept as read)
//	  deleted: LOEVM
//	ignore: [MANDT, ERDAT]
//	mappings:                   # or several entities, e.g. one table feeding two
//	  - {entity: customers, table: KNA1, fields: {...}, ignore: [...]}
//	  - {entity: addresses, table: KNA1, fields: {...}}
//
// Per-field keys: column (or columns), const, default, trim, upper, lower, stripLeadingZeros, pad, date,
// decimalComma, map, strictMap, optional. Header columns named like one of the entity's default columns are
// mapped to it automatically unless the mapping uses them as a source, so a mapping lists only what
// differs. Unknown keys, entities and fields are errors naming the file and line (wrapping ErrMappingFile).
package mapping
