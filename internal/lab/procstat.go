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
	// After the command, counting the state as field 1: utime is field
	// 12, stime 13, cutime 14, cstime 15.
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	// utime, stime, and cutime, cstime: the time of reaped children, so
	// keepalived's check scripts (forked every interval) count as its cost
	// just as raftvip's in-process check counts as raftvip's.
	var ticks int64
	for _, idx := range []int{11, 12, 13, 14} {
		v, err := strconv.ParseInt(f[idx], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/stat: bad CPU time field: %w", pid, err)
		}
		ticks += v
	}
	return rssKiB, time.Duration(ticks) * time.Second / userHZ, nil
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
