// Package sched raises the agent's CPU priority, so that a saturated host
// (a MySQL under a connection storm on the same cores) does not starve the
// lease renewals: a renewal that comes late is no proof (docs/safety.md,
// rule 1) and the holder drops the VIP, failing over a healthy, busy
// server. keepalived offers the same as vrrp_priority / vrrp_rt_priority,
// corosync runs at real-time priority by default.
//
// Linux keeps nice values and scheduling policies per thread, and a Go
// program has several threads by the time main runs. Apply sets every
// existing thread; threads made later are cloned from one of them and
// inherit the setting.
package sched

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Priority is a cpu_priority setting.
type Priority string

const (
	// High is nice -10 in the normal scheduler: the default. It wins the
	// CPU from busy normal processes in the same scheduling group without
	// any risk of starving them.
	High Priority = "high"
	// Realtime is SCHED_RR at priority RealtimePriority: above every
	// normal process, whatever its group (systemd services and
	// autogroups weigh groups, not processes, for the normal scheduler).
	// The kernel's real-time throttling (sched_rt_runtime_us) still keeps
	// 5% of each second for others.
	Realtime Priority = "realtime"
	// Normal leaves the process as it was started.
	Normal Priority = "normal"
)

// HighNice is High's nice value.
const HighNice = -10

// RealtimePriority is Realtime's SCHED_RR priority: low among real-time
// ones (1..99), so kernel threads and other real-time daemons stay above.
const RealtimePriority = 10

// Parse checks a cpu_priority value.
func Parse(s string) (Priority, error) {
	switch p := Priority(s); p {
	case High, Realtime, Normal:
		return p, nil
	}
	return "", fmt.Errorf("%q is not a cpu priority; want high, realtime or normal", s)
}

// Apply sets p on every thread of this process. The error (for example
// EPERM without CAP_SYS_NICE) names the thread it failed on; threads set
// before it keep the setting.
func Apply(p Priority) error {
	if p == Normal {
		return nil
	}
	// Twice: a thread the runtime starts during the first pass, cloned
	// from one not yet set, is caught by the second.
	for pass := 0; pass < 2; pass++ {
		tids, err := threads()
		if err != nil {
			return err
		}
		for _, tid := range tids {
			if err := applyTo(tid, p); err != nil {
				if errors.Is(err, unix.ESRCH) {
					continue // the thread ended meanwhile
				}
				return fmt.Errorf("cpu_priority %s: thread %d: %w", p, tid, err)
			}
		}
	}
	return nil
}

// Reset puts process pid (a child this process started, e.g. a notify
// script) back to the normal scheduler at nice 0: children inherit the
// agent's priority, and a site's script has no business above MySQL.
func Reset(pid int) error {
	if err := unix.SchedSetAttr(pid, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL}, 0); err != nil {
		return err
	}
	return unix.Setpriority(unix.PRIO_PROCESS, pid, 0)
}

func applyTo(tid int, p Priority) error {
	switch p {
	case High:
		return unix.Setpriority(unix.PRIO_PROCESS, tid, HighNice)
	case Realtime:
		return unix.SchedSetAttr(tid, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: RealtimePriority}, 0)
	}
	return nil
}

func threads() ([]int, error) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, err
	}
	var tids []int
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}
