// Package mdanchor derives the anchors GitHub gives a Markdown page's
// headings, so that tests of links into the docs agree on them.
package mdanchor

import (
	"fmt"
	"os"
	"strings"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

var parser = goldmark.New(goldmark.WithExtensions(extension.GFM))

// Headings returns the anchors GitHub gives a page's headings: the
// slug, with -1, -2, … appended to repeats.
func Headings(page string) (map[string]bool, error) {
	src, err := os.ReadFile(page)
	if err != nil {
		return nil, err
	}
	doc := parser.Parser().Parse(text.NewReader(src))
	anchors := map[string]bool{}
	seen := map[string]int{}
	err = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		h, ok := n.(*ast.Heading)
		if !ok || !entering {
			return ast.WalkContinue, nil
		}
		slug := Slug(plainText(h, src))
		if k := seen[slug]; k > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, k)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
		return ast.WalkSkipChildren, nil
	})
	return anchors, err
}

// plainText is a heading's text as rendered: code spans, emphasis and
// link texts without their markup.
func plainText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch t := c.(type) {
		case *ast.Text:
			b.Write(t.Segment.Value(src))
			if t.SoftLineBreak() || t.HardLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(t.Value)
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// Slug is the anchor GitHub derives from a heading's text: lower
// case, punctuation and symbols dropped (except - and _), each space a -.
func Slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
