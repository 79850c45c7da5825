package docs

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/mdanchor"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// TestRelativeLinksResolve checks README.md and docs/*.md: every relative
// link must name an existing file, and a #fragment into a Markdown page
// must name one of its headings, as GitHub renders them.
func TestRelativeLinksResolve(t *testing.T) {
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) < 5 {
		t.Fatalf("found only %d pages in docs/: %v", len(pages), pages)
	}
	pages = append([]string{"../README.md"}, pages...)
	checked := 0
	for _, p := range pages {
		problems, n, err := checkLinks(p)
		if err != nil {
			t.Fatal(err)
		}
		checked += n
		for _, pr := range problems {
			t.Error(pr)
		}
	}
	// A parser that found nothing would pass vacuously.
	if checked < 20 {
		t.Errorf("checked only %d relative links in %v", checked, pages)
	}
}

// TestCheckLinksReportsBrokenLinks keeps the checker honest: a missing
// file, a missing heading and a missing file's anchor are reported; links
// in code, absolute URLs and existing targets are not.
func TestCheckLinksReportsBrokenLinks(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("other.md", "# Other page\n\n## Exit codes: 0, 1 and `2`\n\n## Setup\n\n## Setup\n")
	write("LICENSE", "text\n")
	write("page.md", strings.Join([]string{
		"# Page",
		"",
		"[ok](other.md) [ok](other.md#exit-codes-0-1-and-2) [ok](other.md#setup-1)",
		"[ok](#page) [ok](LICENSE) [ok](./other.md#other-page) [ok](https://example.com/x.md)",
		"[ref ok][r] and [ref bad][b]",
		"",
		"| table | [bad](missing.md) |",
		"|---|---|",
		"| row | [bad](other.md#setup-2) |",
		"",
		"[bad](#nope) [bad](gone.md#x) ![bad](img.png)",
		"",
		"`[code](not-a-link.md)`",
		"",
		"```",
		"[fenced](not-a-link.md)",
		"```",
		"",
		"[r]: other.md#setup",
		"[b]: other.md#teardown",
		"",
	}, "\n"))
	problems, n, err := checkLinks(filepath.Join(dir, "page.md"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		got = append(got, strings.TrimPrefix(p, filepath.Join(dir, "page.md")+": "))
	}
	want := []string{
		`"missing.md": no such file`,
		`"other.md#setup-2": other.md has no heading with that anchor`,
		`"#nope": page.md has no heading with that anchor`,
		`"gone.md#x": no such file`,
		`"img.png": no such file`,
		`"other.md#teardown": other.md has no heading with that anchor`,
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
	if n != 13 {
		t.Errorf("checked %d relative links, want 13", n)
	}
}

var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// checkLinks parses one Markdown page and returns a line per relative link
// that does not resolve, and how many relative links it checked.
func checkLinks(page string) (problems []string, checked int, err error) {
	src, err := os.ReadFile(page)
	if err != nil {
		return nil, 0, err
	}
	doc := markdown.Parser().Parse(text.NewReader(src))
	var targets []string
	err = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch l := n.(type) {
		case *ast.Link:
			targets = append(targets, string(l.Destination))
		case *ast.Image:
			targets = append(targets, string(l.Destination))
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		return nil, 0, err
	}
	anchorCache := map[string]map[string]bool{}
	for _, target := range targets {
		u, err := url.Parse(target)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %q: %v", page, target, err))
			continue
		}
		if u.Scheme != "" || u.Host != "" {
			continue // absolute: not ours to check
		}
		checked++
		file := page
		if u.Path != "" {
			file = filepath.Join(filepath.Dir(page), filepath.FromSlash(u.Path))
			if _, err := os.Stat(file); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %q: no such file", page, target))
				continue
			}
		}
		if u.Fragment == "" || !strings.HasSuffix(file, ".md") {
			continue
		}
		anchors, ok := anchorCache[file]
		if !ok {
			if anchors, err = mdanchor.Headings(file); err != nil {
				return nil, 0, err
			}
			anchorCache[file] = anchors
		}
		if !anchors[u.Fragment] {
			problems = append(problems, fmt.Sprintf("%s: %q: %s has no heading with that anchor", page, target, filepath.Base(file)))
		}
	}
	return problems, checked, nil
}
