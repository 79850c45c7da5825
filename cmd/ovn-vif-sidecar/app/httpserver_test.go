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
