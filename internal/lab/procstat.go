package lab

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of utime/stime in /proc/PID/stat (USER_HZ, 100 on
// every Linux architecture the lab runs on).
const userHZ = 100

// procUsage reads resident memory (KiB) and CPU time used so far.
func procUsage(pid int) (rssKiB int, cpu time.Duration, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				rssKiB, _ = strconv.Atoi(f[1])
			}
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no command field", pid)
	}
	// After the command: state(1) ppid(2) … utime(12) stime(13), counting
	// the state as field 1.
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return rssKiB, time.Duration(ut+st) * time.Second / userHZ, nil
}

// IdleUsage is what an agent costs while nothing happens.
type IdleUsage struct {
	System     string  `json:"system"`
	Host       string  `json:"host"`
	Role       string  `json:"role"` // leader/holder, follower, witness, MASTER, BACKUP
	Pids       []int   `json:"pids"`
	RSSKiB     int     `json:"rss_kib"`
	CPUPercent float64 `json:"cpu_percent"` // of one core, over WindowS
	WindowS    float64 `json:"window_s"`
}

// measureIdle samples the processes (summed) over window.
func measureIdle(pids []int, window time.Duration) (rssKiB int, cpuPct float64, err error) {
	var cpu0 time.Duration
	for _, p := range pids {
		_, c, err := procUsage(p)
		if err != nil {
			return 0, 0, err
		}
		cpu0 += c
	}
	start := time.Now()
	time.Sleep(window)
	var cpu1 time.Duration
	for _, p := range pids {
		r, c, err := procUsage(p)
		if err != nil {
			return 0, 0, err
		}
		cpu1 += c
		rssKiB += r
	}
	el := time.Since(start)
	return rssKiB, float64(cpu1-cpu0) / float64(el) * 100, nil
}
