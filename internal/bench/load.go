package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LoadSampler records the 1-minute load average and the machine's CPU
// busy fraction while the benchmark runs, to say how loaded the machine
// was (other work on it competes with both sides alike).
type LoadSampler struct {
	mu    sync.Mutex
	loads []float64
	busy0 [2]uint64 // busy, total jiffies at start
	stop  chan struct{}
	done  chan struct{}
}

// StartLoadSampler samples every interval until Stop.
func StartLoadSampler(interval time.Duration) *LoadSampler {
	s := &LoadSampler{stop: make(chan struct{}), done: make(chan struct{})}
	s.busy0, _ = cpuJiffies()
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if l, err := loadAvg1(); err == nil {
				s.mu.Lock()
				s.loads = append(s.loads, l)
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends sampling and summarises it.
func (s *LoadSampler) Stop() string {
	close(s.stop)
	<-s.done
	busy1, err := cpuJiffies()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.loads) == 0 {
		return "no load samples"
	}
	lo, hi, sum := s.loads[0], s.loads[0], 0.0
	for _, l := range s.loads {
		lo, hi, sum = min(lo, l), max(hi, l), sum+l
	}
	out := fmt.Sprintf("1-min load average min %.2f, mean %.2f, max %.2f over %d samples", lo, sum/float64(len(s.loads)), hi, len(s.loads))
	if err == nil && busy1[1] > s.busy0[1] {
		out += fmt.Sprintf("; all CPUs %.0f%% busy on average (this benchmark included)",
			100*float64(busy1[0]-s.busy0[0])/float64(busy1[1]-s.busy0[1]))
	}
	return out
}

func loadAvg1() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("empty /proc/loadavg")
	}
	return strconv.ParseFloat(f[0], 64)
}

// cpuJiffies returns busy and total jiffies of all CPUs from /proc/stat.
func cpuJiffies() ([2]uint64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return [2]uint64{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseCPULine(line)
}

func parseCPULine(line string) ([2]uint64, error) {
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return [2]uint64{}, fmt.Errorf("bad /proc/stat line %q", line)
	}
	var total, idle uint64
	for i, x := range f[1:] {
		n, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			return [2]uint64{}, err
		}
		if i >= 8 { // guest time is already counted in user time
			break
		}
		total += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return [2]uint64{total - idle, total}, nil
}
