package agent

import (
	"context"
	"strings"
	"testing"
	"time"
)

// `status` right after an agent restart (case 17) shows the cluster as it
// is, not an empty state ("VIP: (nobody), epoch 0"): it waits until the node
// has applied the log up to the leader's index, or says it is catching up.
func TestStatusRightAfterRestart(t *testing.T) {
	tc := newTestCluster(t, true)
	h := tc.waitHolder(10 * time.Second)
	w := tc.nodes["witness"]
	tc.eventually("witness applied the holder", 5*time.Second, func() bool { return w.fsm.State().Holder == h })
	epoch := tc.nodes[h].fsm.State().Epoch

	tc.stop(w)
	tc.start(w)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := w.agent.ClusterStatus(ctx, 10)
	if st.Holder != h || st.Epoch != epoch {
		t.Fatalf("status right after restart: holder %q epoch %d (note %q), want %s epoch %d", st.Holder, st.Epoch, st.Note, h, epoch)
	}
	if strings.Contains(st.Note, "catching up") {
		t.Fatalf("caught-up status says %q", st.Note)
	}

	// Restarted with nobody to hear from: it says so instead of showing an
	// empty state as the truth.
	tc.stop(w)
	for _, id := range []string{"hosta", "hostb"} {
		tc.stop(tc.nodes[id])
	}
	tc.start(w)
	st = w.agent.ClusterStatus(ctx, 10)
	if !strings.Contains(st.Note, "catching up") || !strings.Contains(st.Note, "not heard from a leader") {
		t.Fatalf("status of a restarted node that hears no leader: note %q, warnings %q", st.Note, st.Warnings)
	}
	assertNoRepeats(t, st)
}

// assertNoRepeats fails when a status line says the same thing twice.
func assertNoRepeats(t *testing.T, st Status) {
	t.Helper()
	lines := append([]string{st.Note}, st.Warnings...)
	seen := map[string]bool{}
	for _, l := range lines {
		if l == "" {
			continue
		}
		if seen[l] {
			t.Fatalf("status repeats %q: note %q, warnings %q", l, st.Note, st.Warnings)
		}
		seen[l] = true
		for _, phrase := range []string{"nobody holds the VIP", "knows no leader", "no raft leader"} {
			if strings.Count(strings.Join(lines, "\n"), phrase) > 1 {
				t.Fatalf("status says %q more than once: note %q, warnings %q", phrase, st.Note, st.Warnings)
			}
		}
	}
}

// The note about nobody holding the VIP does not say it twice (the leader's
// reason already ends in it).
func TestStatusNoteSaysItOnce(t *testing.T) {
	tc := newTestCluster(t, false)
	tc.waitHolder(10 * time.Second)
	tc.nodes["hosta"].health.Set(false)
	tc.nodes["hostb"].health.Set(false)
	var st Status
	tc.eventually("leader reports no healthy db node", 10*time.Second, func() bool {
		l := tc.leader()
		if l == nil {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st = l.agent.ClusterStatus(ctx, 10)
		return st.Holder == "" && strings.Contains(st.Note, "no healthy db node")
	})
	assertNoRepeats(t, st)
}
