package app

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// serve runs newHTTPServer on a real loopback listener.
func serve(t *testing.T, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(h)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// rawRequest writes req on a new connection and returns the status line.
func rawRequest(t *testing.T, addr, req string) string {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	// The server may answer and close before reading everything.
	go func() { _, _ = io.WriteString(c, req) }()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return strings.TrimSpace(line)
}

func TestHTTPServerHardening(t *testing.T) {
	readBody := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	addr := serve(t, readBody)

	if got := rawRequest(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); got != "HTTP/1.1 200 OK" {
		t.Errorf("GET: %s", got)
	}
	if got := rawRequest(t, addr, "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); got != "HTTP/1.1 200 OK" {
		t.Errorf("HEAD: %s", got)
	}
	huge := strings.Repeat("a", 1<<20)
	if got := rawRequest(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "+huge+"\r\n\r\n"); got != "HTTP/1.1 431 Request Header Fields Too Large" {
		t.Errorf("1 MiB header: %s, want 431", got)
	}
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		if got := rawRequest(t, addr, m+" /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"); got != "HTTP/1.1 405 Method Not Allowed" {
			t.Errorf("%s: %s, want 405", m, got)
		}
	}
	body := strings.Repeat("b", 1<<20)
	if got := rawRequest(t, addr, fmt.Sprintf("GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)); got != "HTTP/1.1 413 Request Entity Too Large" {
		t.Errorf("GET with a 1 MiB body: %s, want the body cut off (413)", got)
	}

	srv := newHTTPServer(readBody)
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Errorf("timeouts must all be set: %+v", srv)
	}
}

// get fetches path, asking for gzip as Prometheus does, and returns the
// status, Content-Encoding and body.
func get(t *testing.T, addr, path string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	tr := &http.Transport{DisableCompression: true} // show the raw encoding
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Encoding"), string(b)
}

func TestDaemonMuxMetricsAndPprof(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	engine := http.NotFoundHandler()

	off := serve(t, daemonMux(reg, engine, false))
	code, enc, body := get(t, off, "/metrics")
	if code != http.StatusOK || enc != "" || !strings.Contains(body, "go_goroutines ") {
		t.Errorf("/metrics: %d, Content-Encoding %q, want 200 uncompressed text with go_goroutines", code, enc)
	}
	if code, _, _ := get(t, off, "/debug/pprof/heap"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/heap without --debug-pprof: %d, want 404", code)
	}

	on := serve(t, daemonMux(reg, engine, true))
	if code, _, body := get(t, on, "/debug/pprof/heap?debug=1"); code != http.StatusOK || !strings.Contains(body, "# HeapInuse = ") {
		t.Errorf("/debug/pprof/heap?debug=1 with --debug-pprof: %d, want 200 with the memory statistics", code)
	}
	if code, _, body := get(t, on, "/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/ with --debug-pprof: %d, want the index", code)
	}
	if code, _, _ := get(t, on, "/healthz"); code != http.StatusNotFound {
		t.Errorf("other paths must reach the engine's handler: %d", code)
	}
}
