package providers_test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const providersDoc = "../docs/providers.md"

// engineOnly are exported names of package providers that the engine and
// the binary use and a provider never needs; the reference leaves them out.
var engineOnly = []string{
	"Registry", "NewRegistry", "Instance", "Status", "Select", "Compiled", "CompiledFactory",
	"DestroyGrace", "ErrExists", "ErrUnknown", "NewConfig",
	"Init", "Destroy", "Finish", "CtxDestroy", "RunOnce", "Health",
}

// TestReferenceMatchesCode: the reference section of docs/providers.md
// holds, for each package a provider uses, the exported declarations of
// the code as gofmt prints them (without comments), so the documented API
// cannot drift from the real one.
func TestReferenceMatchesCode(t *testing.T) {
	data, err := os.ReadFile(providersDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, pkg := range []struct {
		name, dir string
		skip      []string
	}{{"providers", ".", engineOnly}, {"providertest", "providertest", nil}} {
		want := "```go\n" + apiText(t, pkg.dir, pkg.skip) + "```\n"
		heading := "### package " + pkg.name + "\n"
		i := strings.Index(doc, heading)
		if i < 0 {
			t.Errorf("%s has no %q section; it should hold:\n%s", providersDoc, strings.TrimSpace(heading), want)
			continue
		}
		block := doc[i+len(heading):]
		start := strings.Index(block, "```go\n")
		end := strings.Index(block[max(start, 0):], "\n```\n")
		if start < 0 || end < 0 {
			t.Errorf("%s: %q has no ```go block", providersDoc, strings.TrimSpace(heading))
			continue
		}
		if got := block[start : start+end+5]; got != want {
			t.Errorf("%s: the reference of package %s differs from the code; it should read:\n%s", providersDoc, pkg.name, want)
		}
	}
}

// apiText prints the exported declarations of the package in dir but
// those named in skip (and their methods), in file and source order,
// without comments or unexported fields.
func apiText(t *testing.T, dir string, skip []string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	fset := token.NewFileSet()
	var b bytes.Buffer
	prevFunc := false
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if d = exported(d, skip); d == nil {
				continue
			}
			// Functions and methods in a row stay together.
			_, isFunc := d.(*ast.FuncDecl)
			if b.Len() > 0 && !(isFunc && prevFunc) {
				b.WriteString("\n")
			}
			prevFunc = isFunc
			if err := gofmt.Fprint(&b, token.NewFileSet(), d); err != nil {
				t.Fatal(err)
			}
			b.WriteString("\n")
		}
	}
	return strings.ReplaceAll(b.String(), " struct {\n}", " struct{ /* unexported fields */ }")
}

// gofmt prints as gofmt does.
var gofmt = printer.Config{Mode: printer.UseSpaces | printer.TabIndent, Tabwidth: 8}

// exported returns the exported part of a declaration, or nil.
func exported(d ast.Decl, skip []string) ast.Decl {
	switch d := d.(type) {
	case *ast.FuncDecl:
		if !d.Name.IsExported() || slices.Contains(skip, d.Name.Name) {
			return nil
		}
		if d.Recv != nil {
			recv := d.Recv.List[0].Type
			if s, ok := recv.(*ast.StarExpr); ok {
				recv = s.X
			}
			if id, ok := recv.(*ast.Ident); !ok || !id.IsExported() || slices.Contains(skip, id.Name) {
				return nil
			}
		}
		return &ast.FuncDecl{Recv: stripFields(d.Recv, false), Name: ast.NewIdent(d.Name.Name), Type: stripFunc(d.Type)}
	case *ast.GenDecl:
		if d.Tok == token.IMPORT {
			return nil
		}
		var specs []ast.Spec
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				if s.Name.IsExported() && !slices.Contains(skip, s.Name.Name) {
					specs = append(specs, &ast.TypeSpec{Name: ast.NewIdent(s.Name.Name), TypeParams: s.TypeParams, Assign: s.Assign, Type: stripType(s.Type)})
				}
			case *ast.ValueSpec:
				var names []*ast.Ident
				for _, n := range s.Names {
					if n.IsExported() && !slices.Contains(skip, n.Name) {
						names = append(names, ast.NewIdent(n.Name))
					}
				}
				if len(names) == len(s.Names) {
					specs = append(specs, &ast.ValueSpec{Names: names, Type: s.Type, Values: s.Values})
				}
			}
		}
		if len(specs) == 0 {
			return nil
		}
		g := &ast.GenDecl{Tok: d.Tok, Specs: specs}
		if len(specs) > 1 {
			g.Lparen = 1 // any valid position: print the parentheses
		}
		return g
	}
	return nil
}

// stripType drops comments, positions and unexported fields and methods.
func stripType(e ast.Expr) ast.Expr {
	switch e := e.(type) {
	case *ast.StructType:
		return &ast.StructType{Fields: stripFields(e.Fields, true)}
	case *ast.InterfaceType:
		return &ast.InterfaceType{Methods: stripFields(e.Methods, true)}
	case *ast.FuncType:
		return stripFunc(e)
	}
	return e
}

func stripFunc(f *ast.FuncType) *ast.FuncType {
	return &ast.FuncType{TypeParams: f.TypeParams, Params: stripFields(f.Params, false), Results: stripFields(f.Results, false)}
}

// stripFields copies a field list without comments or positions; members
// drops the unexported fields of a struct or methods of an interface.
func stripFields(l *ast.FieldList, members bool) *ast.FieldList {
	if l == nil {
		return nil
	}
	out := &ast.FieldList{}
	for _, f := range l.List {
		var names []*ast.Ident
		for _, n := range f.Names {
			if !members || n.IsExported() {
				names = append(names, ast.NewIdent(n.Name))
			}
		}
		if members && len(f.Names) > 0 && len(names) == 0 {
			continue
		}
		out.List = append(out.List, &ast.Field{Names: names, Type: stripType(f.Type)})
	}
	return out
}
