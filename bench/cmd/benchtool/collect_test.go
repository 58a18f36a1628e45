package main

import (
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"path/filepath"
	"testing"
)

// The suite's in-process sandbox collects as `custsync sandbox serve` does: serveGCPercent is cmd/custsync's
// defaultGCPercent, read from its source so that the two cannot drift apart.
func TestServeGCPercentMatchesCustsync(t *testing.T) {
	path := filepath.Join("..", "..", "..", "cmd", "custsync", "main.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range spec.Names {
			if name.Name != "defaultGCPercent" || i >= len(spec.Values) {
				continue
			}
			lit, ok := spec.Values[i].(*ast.BasicLit)
			if !ok {
				t.Fatalf("%s: defaultGCPercent is not a literal; read it another way", path)
			}
			v, ok := constant.Int64Val(constant.MakeFromLiteral(lit.Value, lit.Kind, 0))
			if !ok || v != serveGCPercent {
				t.Errorf("cmd/custsync's defaultGCPercent is %s, the suite's serveGCPercent %d", lit.Value, serveGCPercent)
			}
			found = true
		}
		return true
	})
	if !found {
		t.Fatalf("%s declares no defaultGCPercent", path)
	}
}
