package lab

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// SetSemiSync switches semi-synchronous replication on or off on both
// servers: it rewrites each my.cnf (so a restarted server keeps the mode),
// sets the variables at run time, restarts each IO thread (the slave side
// takes effect only when the IO thread connects) and, when switching on,
// waits until each server has the other as its semi-sync slave.
func (l *Lab) SetSemiSync(ctx context.Context, on bool) error {
	onoff := "OFF"
	if on {
		onoff = "ON"
	}
	for _, h := range l.DBHosts() {
		m := l.MariaDB(h.Name)
		m.mu.Lock()
		m.cnf.SemiSync = on
		text := myCnf(m.cnf)
		m.mu.Unlock()
		if err := os.WriteFile(m.Config, []byte(text), 0o644); err != nil {
			return fmt.Errorf("mariadb %s: %w", h.NodeID, err)
		}
		q := fmt.Sprintf("SET GLOBAL rpl_semi_sync_master_timeout = %d; SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC; "+
			"SET GLOBAL rpl_semi_sync_master_wait_no_slave = OFF; "+
			"SET GLOBAL rpl_semi_sync_master_enabled = %s; SET GLOBAL rpl_semi_sync_slave_enabled = %s; "+
			"STOP SLAVE IO_THREAD; START SLAVE IO_THREAD", SemiSyncTimeout.Milliseconds(), onoff, onoff)
		if _, err := m.SQL(ctx, q); err != nil {
			return fmt.Errorf("mariadb %s: semi-sync %s: %w", h.NodeID, onoff, err)
		}
	}
	l.note("start", "semi-sync replication "+onoff)
	if !on {
		return l.WaitReplicating(ctx)
	}
	return l.WaitSemiSync(ctx)
}

// WaitSemiSync waits (at most replicationTimeout) until, on both servers,
// semi-sync is active as master with one semi-sync slave connected (the
// other server) and active as slave.
func (l *Lab) WaitSemiSync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, replicationTimeout)
	defer cancel()
	for _, h := range l.DBHosts() {
		m := l.MariaDB(h.Name)
		for {
			st, err := m.SemiSyncStatus(ctx)
			if err == nil && st.Active() {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("mariadb %s: semi-sync not active after %s: %v %v", h.NodeID, replicationTimeout, st, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// SemiSyncStatus is a server's Rpl_semi_sync_* status variables, by name.
type SemiSyncStatus map[string]string

// Active: semi-sync in effect as master (not fallen back to asynchronous)
// with a semi-sync slave connected, and as slave.
func (s SemiSyncStatus) Active() bool {
	return s["Rpl_semi_sync_master_status"] == "ON" && s["Rpl_semi_sync_master_clients"] != "0" &&
		s["Rpl_semi_sync_master_clients"] != "" && s["Rpl_semi_sync_slave_status"] == "ON"
}

// SemiSyncStatus reads the server's semi-sync status variables.
func (m *MariaDB) SemiSyncStatus(ctx context.Context) (SemiSyncStatus, error) {
	out, err := m.SQL(ctx, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_%'")
	if err != nil {
		return nil, err
	}
	st := SemiSyncStatus{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(line, "\t"); ok {
			st[k] = v
		}
	}
	return st, nil
}

// SetReplicationDelay makes each server's SQL thread apply events d after
// they were written on the other (MASTER_DELAY; 0 ends it), while the IO
// thread still receives them at once: replicas that lag, as the issue's
// measurement asks, without any network trick.
func (l *Lab) SetReplicationDelay(ctx context.Context, d time.Duration) error {
	secs := int(d.Round(time.Second) / time.Second)
	for _, h := range l.DBHosts() {
		q := fmt.Sprintf("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = %d; START SLAVE", secs)
		if _, err := l.MariaDB(h.Name).SQL(ctx, q); err != nil {
			return fmt.Errorf("mariadb %s: replication delay %ds: %w", h.NodeID, secs, err)
		}
	}
	l.note("start", "replication delay set", "seconds", secs)
	return l.WaitReplicating(ctx)
}
