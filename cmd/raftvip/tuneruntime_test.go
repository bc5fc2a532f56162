package main

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// restoreRuntime puts GOMAXPROCS and GOGC back as they were before the test.
func restoreRuntime(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	gc := debug.SetGCPercent(100)
	debug.SetGCPercent(gc)
	t.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		debug.SetGCPercent(gc)
	})
}

func TestTuneRuntimeDefaults(t *testing.T) {
	restoreRuntime(t)
	t.Setenv("GOMAXPROCS", "")
	t.Setenv("GOGC", "")
	runtime.GOMAXPROCS(4)
	debug.SetGCPercent(100)
	tuneRuntime()
	if got := runtime.GOMAXPROCS(0); got != agentMaxProcs {
		t.Errorf("GOMAXPROCS = %d after tuneRuntime, want %d", got, agentMaxProcs)
	}
	if got := debug.SetGCPercent(100); got != agentGCPercent {
		t.Errorf("GOGC = %d after tuneRuntime, want %d", got, agentGCPercent)
	}
}

func TestTuneRuntimeLeavesTheEnvironmentsChoice(t *testing.T) {
	restoreRuntime(t)
	t.Setenv("GOMAXPROCS", "3")
	t.Setenv("GOGC", "80")
	runtime.GOMAXPROCS(3)
	debug.SetGCPercent(80)
	tuneRuntime()
	if got := runtime.GOMAXPROCS(0); got != 3 {
		t.Errorf("GOMAXPROCS = %d after tuneRuntime with GOMAXPROCS=3 set, want 3", got)
	}
	if got := debug.SetGCPercent(100); got != 80 {
		t.Errorf("GOGC = %d after tuneRuntime with GOGC=80 set, want 80", got)
	}
}
