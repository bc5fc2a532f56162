package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// heartbeatFile keeps, in the data dir, the largest Raft heartbeat timeout
// this node has run with or learned of. Nodes may run different
// raft.heartbeat_timeout values, and a node's own value may have been
// lowered since it last answered a leader: the start delay must cover the
// largest one any node's fence wait may have taken credit for.
const heartbeatFile = "max_heartbeat_timeout"

// RememberHeartbeatTimeout records d in dataDir if it is larger than the
// value recorded there, and returns the (new) largest value.
func RememberHeartbeatTimeout(dataDir string, d time.Duration) (time.Duration, error) {
	old, err := loadHeartbeatTimeout(dataDir)
	if err != nil {
		return 0, err
	}
	if d <= old {
		return old, nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return 0, fmt.Errorf("cluster: data_dir %s: %w", dataDir, err)
	}
	p := filepath.Join(dataDir, heartbeatFile)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(d.String()+"\n"), 0o600); err != nil {
		return 0, fmt.Errorf("cluster: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return 0, fmt.Errorf("cluster: write %s: %w", p, err)
	}
	return d, nil
}

func loadHeartbeatTimeout(dataDir string) (time.Duration, error) {
	p := filepath.Join(dataDir, heartbeatFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cluster: read %s: %w", p, err)
	}
	d, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil || d < 0 {
		return 0, fmt.Errorf("cluster: %s: %q is not a duration (delete the file; it is rewritten at the next start)", p, strings.TrimSpace(string(b)))
	}
	return d, nil
}

// StartDelay is the Config.StartDelay for a node: the largest of the
// heartbeat timeouts given (its own, those it knows of its peers) and the
// largest one recorded in dataDir by earlier runs. The result is recorded
// for the next start.
func StartDelay(dataDir string, known ...time.Duration) (time.Duration, error) {
	var max time.Duration
	for _, d := range known {
		if d > max {
			max = d
		}
	}
	return RememberHeartbeatTimeout(dataDir, max)
}
