package fleet

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/bench"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// acceptLine is what an ovsdb-server started with -vreconnect:file:dbg
// logs for every client connection it accepts on a punix remote
// ("unix#N"); its own connections to a source or to raft peers are named
// after their target instead.
var acceptLine = regexp.MustCompile(`^(\S+)\|\d+\|reconnect\|DBG\|unix#\d+: connected$`)

const logTime = "2006-01-02T15:04:05.000Z"

// accepts returns the times of the client connections a server accepted,
// read from its log file.
func accepts(logPath string) ([]time.Time, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		m := acceptLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if t, err := time.Parse(logTime, m[1]); err == nil {
			out = append(out, t)
		}
	}
	return out, sc.Err()
}

// acceptStats summarises connection attempts seen by servers in [from, to).
type acceptStats struct {
	Total int
	// PeakPerSec is the most accepted in one whole second.
	PeakPerSec int
	// PerSec is Total over the window.
	PerSec float64
}

func countAccepts(times []time.Time, from, to time.Time) acceptStats {
	var st acceptStats
	perSec := map[int64]int{}
	for _, t := range times {
		if t.Before(from) || !t.Before(to) {
			continue
		}
		st.Total++
		perSec[t.Unix()]++
	}
	for _, n := range perSec {
		st.PeakPerSec = max(st.PeakPerSec, n)
	}
	if d := to.Sub(from).Seconds(); d > 0 {
		st.PerSec = float64(st.Total) / d
	}
	return st
}

// usage is a process's CPU seconds and resident set at one moment.
type usage struct {
	PID int
	CPU float64
	RSS int64
}

func sample(p *stack.Proc) usage {
	pid := p.PID()
	if pid == 0 || !p.Running() {
		return usage{}
	}
	u := usage{PID: pid}
	u.CPU, _ = bench.CPUSeconds(pid)
	if m, err := bench.MemoryOf(pid); err == nil {
		u.RSS = m.RSS
	}
	return u
}

// cpuBetween is the CPU a process used between two samples, if both are
// of the same process (a restart resets the counter).
func cpuBetween(a, b usage) (float64, bool) {
	if a.PID == 0 || a.PID != b.PID {
		return 0, false
	}
	return b.CPU - a.CPU, true
}

// sessions reads the number of client sessions from ovsdb-server's
// memory/show ("... sessions:N ..."); 0 when it lists none.
func sessions(s *stack.Stack, p *stack.Proc) int {
	if !p.Running() {
		return 0
	}
	out, err := s.Run("ovs-appctl", "--timeout=5", "--target="+p.CtlPath(), "memory/show")
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(out) {
		if v, ok := strings.CutPrefix(f, "sessions:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}
