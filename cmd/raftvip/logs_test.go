package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/config"
)

// syncBuffer is a log sink several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines returns the log lines from byte offset from on that contain all of
// words.
func (s *syncBuffer) lines(from int, words ...string) []string {
	all := s.String()
	if from > len(all) {
		from = len(all)
	}
	var out []string
	for _, l := range strings.Split(all[from:], "\n") {
		ok := l != ""
		for _, w := range words {
			ok = ok && strings.Contains(l, w)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// trio is three agents on loopback, each a witness in its own config (the
// other two are listed as db peers, so the configs are valid): a real Raft
// group over TCP with the agent's real logging, no root, MySQL or VIP.
type trio struct {
	t     *testing.T
	ids   []string
	cfgs  map[string]*config.Config
	logs  map[string]*syncBuffer
	stops map[string]context.CancelFunc
	done  map[string]chan error
}

func newTrio(t *testing.T) *trio {
	dir := t.TempDir()
	ids := []string{"hosta", "hostb", "witness"}
	ports := map[string]int{}
	for _, id := range ids {
		ports[id] = freePort(t)
	}
	tr := &trio{t: t, ids: ids, cfgs: map[string]*config.Config{}, logs: map[string]*syncBuffer{},
		stops: map[string]context.CancelFunc{}, done: map[string]chan error{}}
	for _, id := range ids {
		var peers strings.Builder
		for _, p := range ids {
			role := "db"
			if p == id {
				role = "witness"
			}
			fmt.Fprintf(&peers, "peer %q {\n  address = \"127.0.0.1:%d\"\n  role = %q\n}\n", p, ports[p], role)
		}
		src := fmt.Sprintf("node_id = %q\nrole = \"witness\"\ninsecure_plaintext = true\ndata_dir = %q\nbind = \"127.0.0.1:%d\"\nadmin = %q\n%s",
			id, filepath.Join(dir, id), ports[id], filepath.Join(dir, id+".sock"), peers.String())
		path := filepath.Join(dir, id+".hcl")
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		tr.cfgs[id] = cfg
		tr.logs[id] = &syncBuffer{}
	}
	t.Cleanup(func() {
		for _, id := range ids {
			tr.stop(id)
		}
		if t.Failed() {
			for _, id := range ids {
				t.Logf("log of %s:\n%s", id, tr.logs[id].String())
			}
		}
	})
	return tr
}

func (tr *trio) start(id string) {
	log := hclog.New(&hclog.LoggerOptions{Name: "raftvip", Output: tr.logs[id], Level: hclog.Info}).With("node", id)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveAgent(ctx, tr.cfgs[id], log, false) }()
	tr.stops[id], tr.done[id] = cancel, done
}

// stop is SIGTERM: the agent's context ends, it shuts down and returns.
func (tr *trio) stop(id string) {
	if tr.stops[id] == nil {
		return
	}
	tr.stops[id]()
	if err := <-tr.done[id]; err != nil {
		tr.t.Errorf("%s: serveAgent returned %v", id, err)
	}
	tr.stops[id] = nil
}

func (tr *trio) leader() string {
	for _, id := range tr.ids {
		if tr.stops[id] == nil {
			continue
		}
		code, out, _ := runCLI("status", "-admin", tr.cfgs[id].Admin, "-json")
		if code == exitOK && strings.Contains(out, `"raft_state": "Leader"`) {
			var st struct {
				Leader string `json:"leader"`
			}
			_ = jsonUnmarshal(out, &st)
			return st.Leader
		}
	}
	return ""
}

func (tr *trio) waitLeader(timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if l := tr.leader(); l != "" {
			return l
		}
		time.Sleep(100 * time.Millisecond)
	}
	tr.t.Fatalf("no leader within %s", timeout)
	return ""
}

// A routine restart of a peer (case 16) is not a flood of ERROR lines on
// the others, and a clean SIGTERM logs no ERROR on the node that stops.
func TestPeerRestartAndCleanShutdownLogNoErrors(t *testing.T) {
	tr := newTrio(t)
	for _, id := range tr.ids {
		tr.start(id)
	}
	leader := tr.waitLeader(15 * time.Second)
	// Restart a follower, as a package upgrade or a service manager does.
	peer := "hosta"
	if leader == peer {
		peer = "hostb"
	}
	from := map[string]int{}
	for _, id := range tr.ids {
		from[id] = len(tr.logs[id].String())
	}
	tr.stop(peer)
	time.Sleep(3 * time.Second)
	tr.start(peer)
	tr.waitLeader(15 * time.Second)
	time.Sleep(time.Second)
	for _, id := range tr.ids {
		if errs := tr.logs[id].lines(from[id], "[ERROR]"); len(errs) > 0 {
			t.Errorf("%s logged %d ERROR lines while %s restarted; first: %s", id, len(errs), peer, errs[0])
		}
		if id != peer {
			if warns := tr.logs[id].lines(from[id], "[WARN]"); len(warns) > 10 {
				t.Errorf("%s logged %d WARN lines while %s restarted, want a handful; e.g.:\n%s", id, len(warns), peer, strings.Join(warns[:10], "\n"))
			}
		}
	}
	// Every node stops with SIGTERM, the leader last: no ERROR anywhere,
	// from the first start to the last stop.
	for _, id := range tr.ids {
		if id != leader {
			tr.stop(id)
		}
	}
	tr.stop(leader)
	for _, id := range tr.ids {
		if errs := tr.logs[id].lines(0, "[ERROR]"); len(errs) > 0 {
			t.Errorf("%s logged %d ERROR lines in a run of clean starts and stops; first: %s", id, len(errs), errs[0])
		}
		if l := tr.logs[id].lines(0, `msg="stopped"`); len(l) == 0 && len(tr.logs[id].lines(0, "stopped:")) == 0 {
			t.Errorf("%s did not log its stop", id)
		}
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
