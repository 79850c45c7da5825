package bench

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// GoBench is one line of `go test -bench` output.
type GoBench struct {
	Name    string
	N       string
	Metrics [][2]string // value, unit
}

// RunGoBench runs `go test -run ^$ -bench . -benchmem` in dir for pkgs,
// copying the output to log, and returns the parsed results and the raw
// output.
func RunGoBench(goBin, dir string, count int, log io.Writer, pkgs ...string) ([]GoBench, string, error) {
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", fmt.Sprintf("-count=%d", count)}, pkgs...)
	cmd := exec.Command(goBin, args...)
	cmd.Dir = dir
	// go test merges the test binary's output into its stdout; the engine
	// logs through klog while it runs, so only the benchmark lines go on
	// to the log. Its own stderr has build errors.
	var out, errOut bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, &lineFilter{w: log})
	cmd.Stderr = &errOut
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %w: %s", goBin, strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return ParseGoBench(out.String()), out.String(), err
}

// lineFilter passes on the lines of go test's own output and drops the
// rest (the code under test's logging).
type lineFilter struct {
	w   io.Writer
	buf []byte
}

func (f *lineFilter) Write(p []byte) (int, error) {
	f.buf = append(f.buf, p...)
	for {
		i := bytes.IndexByte(f.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(f.buf[:i+1])
		f.buf = f.buf[i+1:]
		for _, pre := range []string{"Benchmark", "goos:", "goarch:", "pkg:", "cpu:", "PASS", "FAIL", "ok ", "--- "} {
			if strings.HasPrefix(line, pre) {
				if _, err := io.WriteString(f.w, line); err != nil {
					return len(p), err
				}
				break
			}
		}
	}
}

// ParseGoBench extracts the benchmark lines of `go test -bench` output.
func ParseGoBench(out string) []GoBench {
	var res []GoBench
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		b := GoBench{Name: f[0], N: f[1]}
		for i := 2; i+1 < len(f); i += 2 {
			b.Metrics = append(b.Metrics, [2]string{f[i], f[i+1]})
		}
		res = append(res, b)
	}
	return res
}

// WriteGoBenchMarkdown renders the results as a Markdown table.
func WriteGoBenchMarkdown(w io.Writer, res []GoBench) {
	fmt.Fprintln(w, "| benchmark | iterations | ns/op | B/op | allocs/op |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|")
	for _, b := range res {
		m := map[string]string{}
		for _, kv := range b.Metrics {
			m[kv[1]] = kv[0]
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", b.Name, b.N, m["ns/op"], m["B/op"], m["allocs/op"])
	}
}
