package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/config"
)

// The config's data-safety settings reach the agent as written, and the
// defaults (no failover block) are the agent's documented ones.
func TestDataOptionsFromConfig(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "config", "testdata", "example-db.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	for _, r := range [][2]string{
		{`promote_stale      = false`, `promote_stale      = true`},
		{`on_catchup_timeout = "writable"`, `on_catchup_timeout = "stay_read_only"`},
		{`kill_sessions      = true`, `kill_sessions      = false`},
	} {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("example-db.hcl lacks %q", r[0])
		}
		s = strings.Replace(s, r[0], r[1], 1)
	}
	cfg, err := config.Parse([]byte(s), "db.hcl")
	if err != nil {
		t.Fatal(err)
	}
	want := agent.DataOptions{MaxLag: 5 * time.Second, PromoteStale: true, CatchupTimeout: 20 * time.Second,
		OnCatchupTimeout: agent.OnCatchupStayReadOnly, KillSessions: false, FenceTable: "raftvip.fence", StateDir: cfg.DataDir}
	if got := dataOptions(cfg); got != want {
		t.Errorf("dataOptions(example-db with overrides) = %+v\nwant %+v", got, want)
	}

	// The witness: no failover block, no mysql block.
	w, err := config.Load(filepath.Join("..", "..", "config", "testdata", "example-witness.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	want = agent.DataOptions{MaxLag: 10 * time.Second, CatchupTimeout: 10 * time.Second,
		OnCatchupTimeout: agent.OnCatchupWritable, KillSessions: true, StateDir: w.DataDir}
	if got := dataOptions(w); got != want {
		t.Errorf("dataOptions(witness, defaults) = %+v\nwant %+v", got, want)
	}
	if config.OnCatchupWritable != agent.OnCatchupWritable || config.OnCatchupStayReadOnly != agent.OnCatchupStayReadOnly {
		t.Errorf("config's on_catchup_timeout words %q/%q differ from the agent's %q/%q",
			config.OnCatchupWritable, config.OnCatchupStayReadOnly, agent.OnCatchupWritable, agent.OnCatchupStayReadOnly)
	}
}
