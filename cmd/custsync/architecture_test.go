package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/urfave/cli/v2"
)

// repoRoot is where ARCHITECTURE.md and the packages it names live, seen from this package's directory.
const repoRoot = "../.."

// TestArchitectureReferences keeps ARCHITECTURE.md true: every `file.go Function` reference names a function
// defined in that file, the code map's import rules hold for every non-test file, and the flag table has one
// row for every flag of every command, naming a field that exists and a function that mentions it.
func TestArchitectureReferences(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	src := &goSource{files: map[string]*parsedFile{}}

	t.Run("references name existing functions", func(t *testing.T) {
		refs := codeRefPattern.FindAllStringSubmatch(doc, -1)
		if len(refs) < 20 {
			t.Fatalf("found only %d `file.go Function` references; did the format change?", len(refs))
		}
		for _, m := range refs {
			if _, err := src.funcBody(m[1], m[2]); err != nil {
				t.Errorf("`%s %s`: %v", m[1], m[2], err)
			}
		}
	})

	t.Run("imports follow the code map", func(t *testing.T) {
		allowed := codeMap(t, doc)
		err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if name := d.Name(); p != repoRoot && (strings.HasPrefix(name, ".") || name == "testdata") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			rel, _ := filepath.Rel(repoRoot, p)
			rel = filepath.ToSlash(rel)
			owner := ownerPackage(allowed, path.Dir(rel))
			if owner == "" {
				t.Errorf("%s: its package is in no row of the code map", rel)
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			for _, imp := range f.Imports {
				target, ok := strings.CutPrefix(strings.Trim(imp.Path.Value, `"`), "custsync/")
				if !ok || ownerPackage(allowed, target) == owner {
					continue // not ours, or within the same package tree
				}
				if !slices.Contains(allowed[owner], ownerPackage(allowed, target)) {
					t.Errorf("%s imports custsync/%s; the code map lets %s import only %v", rel, target, owner, allowed[owner])
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("every flag has its row", func(t *testing.T) {
		rows := flagRows(t, doc)
		defined := definedFlags(NewApp(Streams{}))
		used := make([]bool, len(rows))
		for _, df := range defined {
			var specific, general []int
			for i, r := range rows {
				if r.flag != df.flag {
					continue
				}
				switch {
				case slices.Contains(r.commands, df.command):
					specific = append(specific, i)
				case df.command != globalCommand && slices.Equal(r.commands, []string{"*"}):
					general = append(general, i)
				}
			}
			match := specific
			if len(match) == 0 {
				match = general
			}
			if len(match) != 1 {
				t.Errorf("--%s of %s: %d rows of the flag table apply, want 1", df.flag, df.command, len(match))
				continue
			}
			used[match[0]] = true
		}
		for i, r := range rows {
			if !used[i] {
				t.Errorf("the row of --%s for %v applies to no command that has the flag", r.flag, r.commands)
			}
			var fields []string
			if r.option != "-" {
				for _, o := range strings.Split(r.option, ",") {
					o = strings.TrimSpace(o)
					if err := src.structField(o); err != nil {
						t.Errorf("--%s: option %s: %v", r.flag, o, err)
					}
					fields = append(fields, o[strings.LastIndex(o, ".")+1:])
				}
				if !src.cmdMentions(fields) {
					t.Errorf("--%s: no file of cmd/custsync sets %v", r.flag, fields)
				}
			}
			m := codeRefPattern.FindStringSubmatch("`" + r.effect + "`")
			if m == nil {
				t.Errorf("--%s: %q is not `file.go Function`", r.flag, r.effect)
				continue
			}
			body, err := src.funcBody(m[1], m[2])
			if err != nil {
				t.Errorf("--%s: %v", r.flag, err)
				continue
			}
			if !mentionsAny(body, append(fields, r.flag)) {
				t.Errorf("--%s: %s %s mentions neither the flag nor %v", r.flag, m[1], m[2], fields)
			}
		}
	})
}

// codeRefPattern matches a reference `dir/file.go Function` or `dir/file.go Type.Method`.
var codeRefPattern = regexp.MustCompile("`([a-z][a-z0-9_]*/[a-z0-9_/]*\\.go) ([A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)?)`")

// globalCommand names the app's own flags in definedFlags and in the flag table.
const globalCommand = "(global)"

type definedFlag struct{ command, flag string }

// definedFlags lists every flag of the app by its primary name, with the full name of its command.
func definedFlags(app *cli.App) []definedFlag {
	var out []definedFlag
	for _, f := range app.Flags {
		out = append(out, definedFlag{globalCommand, f.Names()[0]})
	}
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			for _, f := range c.Flags {
				out = append(out, definedFlag{prefix + c.Name, f.Names()[0]})
			}
			walk(prefix+c.Name+" ", c.Subcommands)
		}
	}
	walk("", app.Commands)
	return out
}

type flagRow struct {
	flag     string
	commands []string
	option   string
	effect   string
}

// flagRows reads the table between <!-- flags --> and <!-- /flags -->.
func flagRows(t *testing.T, doc string) []flagRow {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "<!-- flags -->")
	table, _, ok2 := strings.Cut(rest, "<!-- /flags -->")
	if !ok || !ok2 {
		t.Fatal("ARCHITECTURE.md has no <!-- flags --> ... <!-- /flags --> table")
	}
	var rows []flagRow
	for _, cells := range tableRows(table) {
		if len(cells) != 4 {
			t.Fatalf("flag table row %q: want 4 cells", cells)
		}
		r := flagRow{flag: strings.TrimPrefix(cells[0], "--"), option: cells[2], effect: cells[3]}
		for _, c := range strings.Split(cells[1], ",") {
			r.commands = append(r.commands, strings.TrimSpace(c))
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		t.Fatal("the flag table has no rows")
	}
	return rows
}

// codeMap reads the "Code map" table: package -> the packages it may import.
func codeMap(t *testing.T, doc string) map[string][]string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "## Code map")
	section, _, _ := strings.Cut(rest, "\n## ")
	if !ok {
		t.Fatal("ARCHITECTURE.md has no Code map section")
	}
	out := map[string][]string{}
	for _, cells := range tableRows(section) {
		if len(cells) != 3 {
			continue
		}
		var may []string
		for _, p := range strings.Split(cells[2], ",") {
			if p = strings.TrimSpace(p); p != "none" {
				may = append(may, p)
			}
		}
		out[cells[0]] = may
	}
	if len(out) < 5 {
		t.Fatalf("the code map has %d packages; did its format change?", len(out))
	}
	return out
}

// tableRows returns the cells of a Markdown table's data rows, without backticks.
func tableRows(s string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") {
			continue
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
			cells = append(cells, strings.TrimSpace(strings.ReplaceAll(c, "`", "")))
		}
		rows = append(rows, cells)
	}
	if len(rows) > 0 {
		rows = rows[1:] // the header
	}
	return rows
}

// ownerPackage is the code map row a package directory belongs to: itself or its nearest listed ancestor.
func ownerPackage(rows map[string][]string, dir string) string {
	for d := dir; d != "." && d != "/" && d != ""; d = path.Dir(d) {
		if _, ok := rows[d]; ok {
			return d
		}
	}
	return ""
}

// mentionsAny reports whether text names one of the words, ignoring case and dashes (a flag's name as well
// as the Go identifier of its field: max-delete, MaxDelete).
func mentionsAny(text string, words []string) bool {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "-", "")) }
	text = norm(text)
	for _, w := range words {
		if strings.Contains(text, norm(w)) {
			return true
		}
	}
	return false
}

// goSource parses the repository's Go files on demand.
type goSource struct {
	mu    sync.Mutex
	files map[string]*parsedFile
}

type parsedFile struct {
	fset *token.FileSet
	file *ast.File
	text []byte
}

func (s *goSource) parse(rel string) (*parsedFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pf, ok := s.files[rel]; ok {
		return pf, nil
	}
	text, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, rel, text, 0)
	if err != nil {
		return nil, err
	}
	pf := &parsedFile{fset: fset, file: f, text: text}
	s.files[rel] = pf
	return pf, nil
}

// funcBody returns the source of function name ("Func" or "Type.Method") defined in file rel.
func (s *goSource) funcBody(rel, name string) (string, error) {
	pf, err := s.parse(rel)
	if err != nil {
		return "", err
	}
	recv, fn, isMethod := strings.Cut(name, ".")
	if !isMethod {
		recv, fn = "", name
	}
	for _, d := range pf.file.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name != fn || (fd.Recv != nil) != isMethod {
			continue
		}
		if isMethod && receiverName(fd.Recv.List[0].Type) != recv {
			continue
		}
		return string(pf.text[pf.fset.Position(fd.Pos()).Offset:pf.fset.Position(fd.End()).Offset]), nil
	}
	return "", &refError{what: "no function " + name + " in " + rel}
}

func receiverName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return receiverName(x.X)
	case *ast.IndexExpr:
		return receiverName(x.X)
	case *ast.Ident:
		return x.Name
	}
	return ""
}

// structField checks that "pkg.Type.Field" names a field of a struct type of package pkg (a top-level
// package directory, or cmd/custsync for "main").
func (s *goSource) structField(ref string) error {
	parts := strings.Split(ref, ".")
	if len(parts) != 3 {
		return &refError{what: strconv.Quote(ref) + " is not pkg.Type.Field"}
	}
	entries, err := os.ReadDir(filepath.Join(repoRoot, parts[0]))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		pf, err := s.parse(parts[0] + "/" + e.Name())
		if err != nil {
			return err
		}
		for _, d := range pf.file.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				st, ok := ts.Type.(*ast.StructType)
				if !ok || ts.Name.Name != parts[1] {
					continue
				}
				for _, f := range st.Fields.List {
					for _, n := range f.Names {
						if n.Name == parts[2] {
							return nil
						}
					}
				}
				return &refError{what: "struct " + parts[0] + "." + parts[1] + " has no field " + parts[2]}
			}
		}
	}
	return &refError{what: "no struct type " + parts[1] + " in " + parts[0]}
}

// cmdMentions reports whether a non-test file of this package names one of fields (the command sets it).
func (s *goSource) cmdMentions(fields []string) bool {
	entries, err := os.ReadDir(".")
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		text, err := os.ReadFile(e.Name())
		if err != nil {
			return false
		}
		for _, f := range fields {
			if regexp.MustCompile(`\b` + regexp.QuoteMeta(f) + `\b`).Match(text) {
				return true
			}
		}
	}
	return false
}

type refError struct{ what string }

func (e *refError) Error() string { return e.what }
