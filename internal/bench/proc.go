package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times; it is 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// CPUSeconds returns a process's user+system CPU time.
func CPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a stat line;
// comm, field 2, may contain spaces and parentheses.
func parseStatCPU(stat []byte) (float64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad stat line")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state), so utime is f[11] and stime f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("short stat line")
	}
	u, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, err
	}
	s, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, err
	}
	return float64(u+s) / clockTicks, nil
}

// Memory is a process's resident set in bytes: now and peak.
type Memory struct{ RSS, HWM int64 }

// MemoryOf reads VmRSS and VmHWM from /proc/<pid>/status.
func MemoryOf(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	return parseStatusMemory(b)
}

func parseStatusMemory(status []byte) (Memory, error) {
	var m Memory
	var seen int
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("bad %s line %q", k, line)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return m, err
		}
		if k == "VmRSS" {
			m.RSS = n * 1024
		} else {
			m.HWM = n * 1024
		}
		seen++
	}
	if seen != 2 {
		return m, fmt.Errorf("no VmRSS/VmHWM in status")
	}
	return m, nil
}

// ResetPeak resets VmHWM to the current RSS (clear_refs value 5).
func ResetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}
