package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/raftvip/raftvip/internal/lab"
)

// narrator prints timestamped lines: seconds since the demo began and the
// wall clock, so VIP events and client observations line up. VIP changes
// recorded by the monitor are printed before any later line, in order.
type narrator struct {
	start time.Time
	lab   *lab.Lab // set once the lab is up

	mu   sync.Mutex
	seen int // monitor events already printed
}

func (n *narrator) printLocked(t time.Time, msg string) {
	fmt.Printf("[%7.3fs %s] %s\n", t.Sub(n.start).Seconds(), t.Format("15:04:05.000"), msg)
}

func (n *narrator) flushLocked() {
	if n.lab == nil {
		return
	}
	evs := n.lab.Monitor().Events()
	for _, e := range evs[n.seen:] {
		node := n.lab.Host(e.Host).NodeID
		if e.Added {
			n.printLocked(e.Time, fmt.Sprintf("VIP %s added on %s (netlink), kernel lifetime %s", lab.VIP, node, lifetime(e.ValidLft)))
		} else {
			n.printLocked(e.Time, fmt.Sprintf("VIP %s gone from %s (netlink)", lab.VIP, node))
		}
	}
	n.seen = len(evs)
}

func (n *narrator) flush() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.flushLocked()
}

func (n *narrator) at(t time.Time, format string, a ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.flushLocked()
	n.printLocked(t, fmt.Sprintf(format, a...))
}

func (n *narrator) say(format string, a ...any) { n.at(time.Now(), format, a...) }

func (n *narrator) step(num int, title string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.flushLocked()
	fmt.Printf("\n── step %d: %s\n", num, title)
}

func (n *narrator) block(text string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		fmt.Printf("             │ %s\n", line)
	}
}

// certsWritten keeps the "wrote FILE" lines of `raftvip tls init`'s output
// (the tls {} blocks it also prints are what the lab's configs contain).
func certsWritten(out string) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "wrote ") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

type demoRow struct {
	event      string
	moved      string
	downtime   string
	twoHolders string
}

type demo struct {
	lab    *lab.Lab
	n      *narrator
	c      *lab.Client
	system lab.System
	rows   []demoRow
	data   demoData
}

func cmdDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	raftvip := fs.String("raftvip", "", "raftvip binary (make demo passes bin/raftvip)")
	system := fs.String("system", "raftvip", "VIP owner to demonstrate: raftvip, or keepalived (the seed's setup) for comparison")
	prefix := fs.String("prefix", "", "namespace prefix (default rvlab<pid>)")
	keep := fs.Bool("keep", false, "keep the lab directory (configs, logs) afterwards")
	logLevel := fs.String("log-level", "warn", "lab log level")
	fs.Parse(args)
	if err := requireRoot(); err != nil {
		return err
	}
	sys := lab.System(*system)
	if sys != lab.SystemRaftvip && sys != lab.SystemKeepalived {
		return fmt.Errorf("-system: want raftvip or keepalived, got %q", *system)
	}
	if sys == lab.SystemRaftvip && *raftvip == "" {
		return errors.New("-raftvip PATH is required (make demo builds bin/raftvip)")
	}
	n := &narrator{start: time.Now()}
	fmt.Printf("raftvip demo: the seed's keepalived failover test, replayed with %s on real hosts\n", sys)
	fmt.Println("(network namespaces on this machine, real MariaDB, a real client; times are [seconds since start  wall clock])")
	n.say("building the lab: network namespaces joined by a bridge, MariaDB on two hosts")
	l, err := lab.Up(ctx, lab.Options{Prefix: *prefix, KeepDir: *keep, RaftvipBin: *raftvip, Logger: newLogger(*logLevel)})
	if err != nil {
		return err
	}
	defer func() {
		n.say("tearing the lab down (namespaces %s-*, every process the lab started)", l.Prefix)
		if err := l.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "teardown:", err)
		}
		if *keep {
			fmt.Printf("configs and logs kept in %s\n", l.Dir)
		}
	}()
	d := &demo{lab: l, n: n, system: sys}
	err = d.run(ctx)
	if err != nil && ctx.Err() != nil {
		n.say("interrupted")
		return nil
	}
	if err != nil {
		fmt.Println()
		fmt.Println("The demo stopped on an error. What the lab saw:")
		fmt.Println(l.Report(40))
	}
	return err
}

func (d *demo) run(ctx context.Context) error {
	l, n := d.lab, d.n
	for _, h := range l.Hosts() {
		what := ""
		switch h.Role {
		case lab.RoleDB:
			what = fmt.Sprintf("MariaDB (server_id %d) + %s", h.ServerID, d.system)
		case lab.RoleWitness:
			what = "raftvip witness: votes in Raft, never holds the VIP"
			if d.system == lab.SystemKeepalived {
				what = "idle (keepalived has no witness)"
			}
		case lab.RoleClient:
			what = fmt.Sprintf("the client: SELECT @@server_id through the VIP %s every 20 ms; the application's writes", lab.VIP)
		}
		n.block(fmt.Sprintf("%-8s %-12s MAC %s  %s", h.NodeID, h.IP, h.MAC, what))
	}
	if err := d.setupData(ctx); err != nil {
		return err
	}
	stopWatch := d.watchVIP()
	defer stopWatch()

	d.n.step(1, "cluster up: the VIP goes to one database host")
	if d.system == lab.SystemRaftvip {
		n.say("making the cluster's certificates: a CA and one certificate per node, as the README's quick start does")
		cmd, out, err := l.MakeCerts()
		if err != nil {
			return err
		}
		n.block("$ " + cmd + "\n" + certsWritten(out))
		n.say("starting three raftvip agents (hosta, hostb, witness); they form a Raft group over mutual TLS on port %d (a connection without a certificate of this CA naming a member is refused), the leader takes the VIP if its MySQL is healthy", lab.RaftPort)
		if err := l.StartRaftvip(ctx); err != nil {
			return err
		}
	} else {
		n.say("starting keepalived on hosta (priority 101) and hostb (priority 99), both state BACKUP, nopreempt")
		if err := l.StartKeepalived(ctx); err != nil {
			return err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	holder, err := l.WaitStableHolder(wctx, 2*time.Second)
	cancel()
	if err != nil {
		return err
	}
	other := l.Other(holder)
	n.say("the VIP is on %s, and only there", l.Host(holder).NodeID)
	if d.system == lab.SystemRaftvip {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		_, err := l.WaitAllHealthy(sctx)
		cancel()
		if err != nil {
			return err
		}
		if txt, err := l.Agent(holder).StatusText(ctx, false); err == nil {
			n.say("`raftvip status` on %s:", l.Host(holder).NodeID)
			n.block(txt)
		} else {
			n.say("raftvip status failed: %v", err)
		}
	} else if err := l.WaitKeepalivedState(ctx, other, "BACKUP"); err != nil {
		return err
	}

	d.n.step(2, "the client reads through the VIP; the application writes a row")
	c, err := l.StartClient(lab.ClientOptions{})
	if err != nil {
		return err
	}
	d.c = c
	if _, err := c.WaitGood(ctx, l.Host(holder).ServerID, time.Now()); err != nil {
		return err
	}
	from := time.Now()
	if err := d.writeBeforeKill(ctx, holder, 1); err != nil {
		return err
	}
	if err := sleep(ctx, 2*time.Second-time.Since(from)); err != nil {
		return err
	}
	d.describeReads(from, time.Now())
	d.describeNeighbor(ctx, holder)

	d.n.step(3, fmt.Sprintf("MySQL on %s is killed", l.Host(holder).NodeID))
	pid := l.MariaDB(holder).Process().Pid()
	t0 := time.Now()
	n.at(t0, "kill -9 mariadbd (pid %d) on %s", pid, l.Host(holder).NodeID)
	if err := l.KillMySQL(holder); err != nil {
		return err
	}
	if err := d.waitFailover(ctx, fmt.Sprintf("MySQL killed on %s", l.Host(holder).NodeID), t0, holder, other); err != nil {
		return err
	}
	d.afterFailover(ctx, t0, holder, other, 2)

	d.n.step(4, fmt.Sprintf("MySQL on %s is started again: the VIP stays on %s (nopreempt); %s replicates from it", l.Host(holder).NodeID, l.Host(other).NodeID, l.Host(holder).NodeID))
	t1 := time.Now()
	if err := l.RestartMySQL(ctx, holder); err != nil {
		return err
	}
	n.say("mariadbd on %s answers again (pid %d)", l.Host(holder).NodeID, l.MariaDB(holder).Process().Pid())
	if d.system == lab.SystemRaftvip {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		_, err := l.WaitAllHealthy(sctx)
		cancel()
		if err != nil {
			return err
		}
		n.say("raftvip reports %s healthy again; a recovered node takes nothing back", l.Host(holder).NodeID)
	} else {
		if err := l.WaitKeepalivedState(ctx, holder, "BACKUP"); err != nil {
			return err
		}
		n.say("keepalived on %s left FAULT and is BACKUP again", l.Host(holder).NodeID)
	}
	watchFrom := time.Now()
	d.oldHolderBack(ctx, holder, other, 3)
	if d.system == lab.SystemRaftvip {
		d.showDataStatus(ctx, holder, other)
	}
	if err := sleep(ctx, 5*time.Second-time.Since(watchFrom)); err != nil {
		return err
	}
	if h := l.Monitor().Holders(); len(h) == 1 && h[0] == other && len(l.Monitor().Acquisitions(holder, t1)) == 0 {
		n.say("5 s later the VIP is still on %s only", l.Host(other).NodeID)
	} else {
		n.say("unexpected: VIP holders now %v", h)
	}
	d.describeReads(watchFrom, time.Now())

	holder, other = other, holder
	d.n.step(5, fmt.Sprintf("%s's network cable is pulled", l.Host(holder).NodeID))
	t2 := time.Now()
	n.at(t2, "bridge port of %s down: it can no longer reach anyone, and nobody reaches it", l.Host(holder).NodeID)
	if err := l.PullCable(ctx, holder); err != nil {
		return err
	}
	if d.system == lab.SystemRaftvip {
		n.say("(%s keeps running; without a Raft quorum it stops renewing its VIP lease, so the kernel drops the address)", l.Host(holder).NodeID)
	}
	if err := d.waitFailover(ctx, fmt.Sprintf("cable pulled on %s", l.Host(holder).NodeID), t2, holder, other); err != nil {
		return err
	}
	if err := sleep(ctx, 2*time.Second); err != nil {
		return err
	}
	d.n.step(6, fmt.Sprintf("the cable goes back into %s", l.Host(holder).NodeID))
	t3 := time.Now()
	if err := l.RestoreCable(ctx, holder); err != nil {
		return err
	}
	n.say("bridge port of %s up again", l.Host(holder).NodeID)
	if err := sleep(ctx, 5*time.Second); err != nil {
		return err
	}
	max, _, _ := l.Monitor().HolderCountsBetween(t3, time.Now())
	n.say("5 s later: VIP on %s; at most %d holder(s) at once since the cable came back", strings.Join(names(l, l.Monitor().Holders()), ", "), max)
	d.describeReads(t3, time.Now())
	stopWatch()

	fmt.Println()
	fmt.Println("── summary")
	fmt.Printf("  %-28s %-18s %-18s %s\n", "event", "VIP moved", "client downtime", "two VIP holders at once")
	for _, r := range d.rows {
		fmt.Printf("  %-28s %-18s %-18s %s\n", r.event, r.moved, r.downtime, r.twoHolders)
	}
	fmt.Println("  client downtime = last answer before the fault -> first answer from the other server")
	fmt.Println()
	dd := d.data
	fmt.Printf("  data, MySQL killed on %s: row %d (acknowledged before the kill) served by the new holder: %s;\n", l.Host(other).NodeID, dd.beforeKill, orNone(dd.rowServed))
	fmt.Printf("  first write through the VIP after the kill: %s; %s back: %s\n", orNone(dd.firstWrite), l.Host(other).NodeID, orNone(dd.oldBack))
	if d.system == lab.SystemRaftvip {
		fmt.Println("  next: `make bench` runs the same faults against keepalived for comparison")
	}
	fmt.Println()
	if len(d.data.unexpected) > 0 {
		return fmt.Errorf("the data steps saw %d unexpected results: %s", len(d.data.unexpected), strings.Join(d.data.unexpected, "; "))
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "not measured"
	}
	return s
}

// waitFailover waits for the client to be served by `to` after a fault on
// `from`, then reports the downtime and the client's neighbour entry.
func (d *demo) waitFailover(ctx context.Context, event string, t0 time.Time, from, to string) error {
	l, n := d.lab, d.n
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	r, err := d.c.WaitGood(wctx, l.Host(to).ServerID, t0)
	cancel()
	if err != nil {
		return err
	}
	out, _ := d.c.Downtime(t0, l.Host(to).ServerID)
	failed := d.c.SummaryBetween(out.LastGood.End, r.End).Failed
	n.at(r.End, "client: first answer from server_id %d (%s); no answer for %.3f s before it (%d failed reads)",
		r.ServerID, l.Host(to).NodeID, out.Duration.Seconds(), failed)
	d.describeNeighbor(ctx, to)
	max, _, _ := l.Monitor().HolderCountsBetween(t0, time.Now())
	two := "never"
	if max > 1 {
		two = "YES"
	}
	d.rows = append(d.rows, demoRow{event: event, moved: l.Host(from).NodeID + " -> " + l.Host(to).NodeID,
		downtime: fmt.Sprintf("%.3f s", out.Duration.Seconds()), twoHolders: two})
	return nil
}

func (d *demo) describeReads(from, to time.Time) {
	s := d.c.SummaryBetween(from, to)
	var parts []string
	ids := make([]int, 0, len(s.ByServer))
	for id := range s.ByServer {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		parts = append(parts, fmt.Sprintf("%d from server_id %d", s.ByServer[id], id))
	}
	d.n.say("client, last %.1f s: %d reads, %d ok (%s), %d failed", to.Sub(from).Seconds(), s.Total, s.OK, strings.Join(parts, ", "), s.Failed)
}

// describeNeighbor shows which MAC the client now sends VIP traffic to:
// the new holder's gratuitous ARP should have updated it.
func (d *demo) describeNeighbor(ctx context.Context, want string) {
	l := d.lab
	deadline := time.Now().Add(10 * time.Second)
	for {
		mac, err := l.ClientVIPMAC()
		if err == nil && (mac == l.Host(want).MAC || time.Now().After(deadline)) {
			who := l.HostByMAC(mac)
			if who != "" {
				who = l.Host(who).NodeID
			}
			d.n.say("client's neighbour table: %s -> %s (%s)", lab.VIP, mac, who)
			return
		}
		if err != nil || ctx.Err() != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// watchVIP prints VIP changes as the monitor records them, also while the
// demo is waiting for something else.
func (d *demo) watchVIP() (stop func()) {
	d.n.mu.Lock()
	d.n.lab = d.lab
	d.n.mu.Unlock()
	done := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			d.n.flush()
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}

func lifetime(s int) string {
	if s < 0 || uint32(s) == 0xffffffff {
		return "forever"
	}
	return fmt.Sprintf("%d s", s)
}

func names(l *lab.Lab, hosts []string) []string {
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		out = append(out, l.Host(h).NodeID)
	}
	if len(out) == 0 {
		out = append(out, "no host")
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
