package fleet

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestAccepts(t *testing.T) {
	log := filepath.Join(t.TempDir(), "relay.log")
	lines := "" +
		"2026-11-30T04:00:00.100Z|00001|reconnect|DBG|unix#3: connected\n" +
		"2026-11-30T04:00:00.200Z|00002|reconnect|DBG|unix#3: entering ACTIVE\n" +
		"2026-11-30T04:00:00.300Z|00003|reconnect|DBG|unix#4: connected\n" +
		// The relay's own connection to its source is not a client.
		"2026-11-30T04:00:00.400Z|00004|reconnect|DBG|unix:/tmp/x/sb1.sock: connected\n" +
		"2026-11-30T04:00:01.500Z|00005|reconnect|DBG|unix#5: connected\n" +
		"2026-11-30T04:00:09.000Z|00006|reconnect|DBG|unix#6: connected\n"
	if err := os.WriteFile(log, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	ts, err := accepts(log)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 4 {
		t.Fatalf("%d accepts, want 4 (the unix#N connected lines): %v", len(ts), ts)
	}
	from := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
	st := countAccepts(ts, from, from.Add(2*time.Second))
	if st.Total != 3 || st.PeakPerSec != 2 || st.PerSec != 1.5 {
		t.Fatalf("window stats %+v, want total 3, peak 2/s, 1.5/s", st)
	}
}

// A fake server answers get_schema and monitor_cond_since; the proxy must
// count the bytes by method and read the resume fields.
func TestCountingProxy(t *testing.T) {
	dir := t.TempDir()
	srvSock := filepath.Join(dir, "srv.sock")
	l, err := net.Listen("unix", srvSock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		dec := json.NewDecoder(c)
		for {
			var req struct {
				ID     any    `json:"id"`
				Method string `json:"method"`
			}
			if dec.Decode(&req) != nil {
				return
			}
			var res any = "a-schema"
			if req.Method == "monitor_cond_since" {
				res = []any{true, "txn-2", map[string]any{}}
			}
			b, _ := json.Marshal(map[string]any{"id": req.ID, "result": res, "error": nil})
			_, _ = c.Write(b)
		}
	}()
	p, remotes, err := newCountingProxy(dir, "probe", []string{"unix:" + srvSock})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("unix", remotes[0][len("unix:"):])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dec := json.NewDecoder(c)
	var replies []json.RawMessage
	for i, req := range []string{
		`{"id":1,"method":"get_schema","params":["OVN_Southbound"]}`,
		`{"id":2,"method":"monitor_cond_since","params":["OVN_Southbound","cookie",{},"txn-1"]}`,
	} {
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		var r json.RawMessage
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		replies = append(replies, r)
	}
	conns := p.Since(time.Time{})
	if len(conns) != 1 {
		t.Fatalf("%d connections recorded, want 1", len(conns))
	}
	got := conns[0].Startup()
	if got["get_schema"] != int64(len(replies[0])) || got["monitor_cond_since"] != int64(len(replies[1])) {
		t.Fatalf("bytes by method %v, want get_schema %d and monitor_cond_since %d", got, len(replies[0]), len(replies[1]))
	}
	tr := summarize(conns)
	if tr.CondSince != 1 || tr.Resumes != 1 || tr.Found != 1 || tr.Schema != int64(len(replies[0])) || tr.Dump != int64(len(replies[1])) {
		t.Fatalf("summary %+v", tr)
	}
	if conns[0].DB != "OVN_Southbound" {
		t.Fatalf("monitored database %q", conns[0].DB)
	}
}
