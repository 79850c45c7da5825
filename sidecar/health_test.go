package sidecar

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"k8s.io/klog/v2"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/memdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/dummy"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), sub)
}

// captureKlog sends klog's output to a buffer for the test's duration.
func captureKlog(t *testing.T) *syncBuffer {
	buf := &syncBuffer{}
	klog.LogToStderr(false)
	klog.SetOutputBySeverity("INFO", buf) // every severity is written to INFO too
	t.Cleanup(func() {
		klog.Flush()
		klog.SetOutput(io.Discard)
		klog.LogToStderr(true)
	})
	return buf
}

func readyz(t *testing.T, e *Engine) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	return rec.Code, rec.Body.String()
}

func TestReadyzAndChassisLogs(t *testing.T) {
	logs := captureKlog(t)
	m := newMemStack(t)
	e, _ := m.startEngine(t)

	waitFor(t, "ready", 5*time.Second, func() bool { return e.Health().Ready })
	if code, body := readyz(t, e); code != http.StatusOK || body != `primed=true ovs_connected=true sb_connected=true ovs_schema="Open_vSwitch 8.3.1" sb_schema="OVN_Southbound 20.27.0"`+"\n" {
		t.Errorf("/readyz = %d %q, want 200 and no reasons", code, body)
	}
	if n := logs.count("no chassis name"); n != 0 {
		t.Errorf("the log says %d times 'no chassis name' although system-id is set", n)
	}

	// A pass has seen the row before it goes: ready does not wait for one.
	seen := e.passes.Load()
	e.q.AddAll()
	waitFor(t, "a pass with the Chassis row", 5*time.Second, func() bool { return e.passes.Load() > seen })

	// The Chassis row goes away (ovn-controller exits) and comes back.
	memdb.Commit(t, m.sb, must[[]ovsdb.Operation](t)(m.sb.WhereCache(func(c *sb.Chassis) bool { return true }).Delete())...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", logs.b.String())
		}
	})
	waitFor(t, "the disappearance logged", 5*time.Second, func() bool { return logs.count("Chassis row disappeared") == 1 })
	code, body := readyz(t, e)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "Chassis row chassis-1 missing") {
		t.Errorf("/readyz without the Chassis row = %d %q, want 503 naming it", code, body)
	}
	// Further passes do not repeat it.
	e.q.AddAll()
	waitFor(t, "a pass", 5*time.Second, func() bool { return e.passes.Load() > 0 })
	before := e.passes.Load()
	e.q.AddAll()
	waitFor(t, "another pass", 5*time.Second, func() bool { return e.passes.Load() > before })
	if n := logs.count("Chassis row disappeared"); n != 1 {
		t.Errorf("'Chassis row disappeared' logged %d times, want once", n)
	}
	memdb.Commit(t, m.sb, must[[]ovsdb.Operation](t)(m.sb.Create(&sb.Chassis{UUID: "ch2", Name: "chassis-1", Hostname: "dpu1"}))...)
	waitFor(t, "the return logged", 5*time.Second, func() bool { return logs.count("Chassis row appeared") == 1 })
	klog.Flush()
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if !regexp.MustCompile(`(?m)^W\d{4} .*"Chassis row disappeared`).MatchString(logs.b.String()) {
		t.Error("'Chassis row disappeared' is not at warning severity")
	}
}

func TestReadyzWithoutBridge(t *testing.T) {
	m := newMemStack(t)
	reg := providers.NewRegistry(nil)
	if err := reg.Register(dummy.New()); err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{OVSRemote: "unix:" + m.ovsSock, Bridge: "br-missing", Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "primed", 10*time.Second, e.Primed)
	code, body := readyz(t, e)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "integration bridge br-missing does not exist") {
		t.Errorf("/readyz without the bridge = %d %q, want 503 naming the bridge", code, body)
	}
	h := e.Health()
	if h.Ready || h.BridgeFound || !h.OVS.Connected || !h.SB.Connected || !h.ChassisFound {
		t.Errorf("Health = %+v", h)
	}
}

// failingInit is a provider whose Init fails.
type failingInit struct{ dummy.Provider }

func (*failingInit) Type() string             { return "broken" }
func (*failingInit) Init(providers.Env) error { return errors.New("no hardware") }

// /health lists each provider, up or with why not, and a provider that
// is down does not make the daemon unready by itself.
func TestHealthProviders(t *testing.T) {
	reg := providers.NewRegistry(nil)
	if err := reg.Register(dummy.New()); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(&failingInit{}); err == nil {
		t.Fatal("Init error lost")
	}
	e, err := New(Config{OVSRemote: "unix:/nonexistent", Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	got := e.Health().Providers
	want := []ProviderHealth{{Type: "broken", Error: "no hardware"}, {Type: "dummy", Up: true}}
	if !slices.Equal(got, want) {
		t.Fatalf("Providers = %+v, want %+v", got, want)
	}
	for _, r := range e.Health().Reasons {
		if strings.Contains(r, "broken") {
			t.Fatalf("a provider made the daemon unready: %q", r)
		}
	}
}

// TestSBLossShowsCause: while a lost SB connection is down, its cause is
// in /readyz and /health and logged at warning severity each time it
// changes, and it is cleared once the connection is back. libovsdb's
// reconnect keeps its errors to itself, so the cause comes from the
// sidecar's own attempt after each of libovsdb's that failed: if a
// libovsdb upgrade stops reporting those through the backoff, this fails.
func TestSBLossShowsCause(t *testing.T) {
	logs := captureKlog(t)
	t.Cleanup(func() {
		if t.Failed() {
			logs.mu.Lock()
			t.Logf("log:\n%s", logs.b.String())
			logs.mu.Unlock()
		}
	})
	m := newMemStack(t)
	pxSock := filepath.Join(t.TempDir(), "px.sock")
	px := newDropProxy(t, pxSock, m.sbSock)
	e, _ := m.startEngineWith(t, Config{SBRemote: "unix:" + pxSock}, dummy.New())
	waitFor(t, "ready", 10*time.Second, func() bool { return e.Health().Ready })

	// The server goes away: the socket is gone.
	px.stop()
	waitFor(t, "the dial error in /readyz", 20*time.Second, func() bool {
		code, body := readyz(t, e)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "sb database not connected: ") &&
			strings.Contains(body, "no such file or directory")
	})
	if h := e.Health(); h.SB.Connected || !strings.Contains(h.SB.LastError, "no such file or directory") {
		t.Errorf("/health's sb = %+v, want not connected with the dial error", h.SB)
	}
	downLine := regexp.MustCompile(`(?m)^W\d{4} .*"OVSDB reconnect failed; retrying" db="sb" err=".*no such file or directory`)
	waitFor(t, "the dial error logged", 10*time.Second, func() bool {
		klog.Flush()
		logs.mu.Lock()
		defer logs.mu.Unlock()
		return downLine.MatchString(logs.b.String())
	})

	// Something else listens there now and hangs up at once: a new cause.
	l, err := net.Listen("unix", pxSock)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	waitFor(t, "the changed cause in /health", 20*time.Second, func() bool {
		h := e.Health()
		return !h.SB.Connected && h.SB.LastError != "" && !strings.Contains(h.SB.LastError, "no such file or directory")
	})
	cause := e.Health().SB.LastError
	waitFor(t, "the changed cause logged", 10*time.Second, func() bool {
		klog.Flush()
		return logs.count(`"OVSDB reconnect failed; retrying" db="sb"`) >= 2
	})
	_ = l.Close()

	// The server is back: connected, and no cause any more.
	px.start(t)
	waitFor(t, "ready again", 30*time.Second, func() bool { return e.Health().Ready })
	if h := e.Health(); !h.SB.Connected || h.SB.LastError != "" {
		t.Errorf("/health's sb after the reconnect = %+v (the cause was %q)", h.SB, cause)
	}
	if code, body := readyz(t, e); code != http.StatusOK {
		t.Errorf("/readyz after the reconnect = %d %q", code, body)
	}
}
