package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Options configure a lab. The zero value is usable: prefix from the pid,
// a temporary directory removed on Close.
type Options struct {
	// Prefix starts every namespace name (<prefix>-a, <prefix>-sw, …).
	// Default "rvlab<pid>".
	Prefix string
	// Dir holds configs, data directories and logs. Default: a new temp
	// directory, removed by Close unless KeepDir.
	Dir     string
	KeepDir bool
	// WithKeepalivedHost adds host k (10.99.0.14) for an extra keepalived.
	WithKeepalivedHost bool
	// RaftvipBin is the raftvip binary; needed only by StartRaftvip.
	RaftvipBin string
	// Agent tunes the generated raftvip configs; zero fields take defaults.
	Agent AgentSettings
	// ExtraVIPs are more addresses (IPs) MariaDB listens on beside the
	// host's and the VIP: the other addresses of a multi-address vip block
	// (the scaling run's, ScalingAddresses).
	ExtraVIPs []string
	// SemiSync starts both MariaDB servers with semi-synchronous
	// replication (SetSemiSync switches it later).
	SemiSync bool
	// Logger receives the lab's own log; default hclog to stderr at info.
	Logger hclog.Logger
}

// Note is one thing the lab did (a fault, a restart), kept for timelines.
type Note struct {
	Time time.Time
	Kind string // "fault", "restore", "start", "stop"
	What string
}

// Lab is a running lab network. Methods are safe for use by one test or
// command at a time; the monitor and client run concurrently inside.
type Lab struct {
	Prefix   string
	Dir      string
	SwitchNS string

	opts    Options
	log     hclog.Logger
	hosts   []*Host
	byName  map[string]*Host
	ownDir  bool
	monitor *Monitor

	mu         sync.Mutex
	namespaces []string // created, in order
	mariadb    map[string]*MariaDB
	agents     map[string]*Agent
	keepalived map[string]*Keepalived
	clients    []*Client
	notes      []Note
	dataRuns   int // data-safety runs so far (RunDataSafety numbers them)
	closed     bool
}

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9]{1,15}$`)

// Up builds the lab: namespaces, bridge, addresses, the VIP monitor, and
// MariaDB running in a and b. Agents are started separately
// (StartRaftvip, StartKeepalived). On error everything built so far is
// removed.
func Up(ctx context.Context, opts Options) (*Lab, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("lab: needs root (network namespaces, bridges)")
	}
	if err := CheckPrerequisites(); err != nil {
		return nil, err
	}
	if opts.Prefix == "" {
		opts.Prefix = "rvlab" + strconv.Itoa(os.Getpid())
	}
	if !prefixRE.MatchString(opts.Prefix) {
		return nil, fmt.Errorf("lab: prefix %q: want %s", opts.Prefix, prefixRE)
	}
	if opts.Logger == nil {
		opts.Logger = hclog.New(&hclog.LoggerOptions{Name: "raftvip-lab", Level: hclog.Info})
	}
	opts.Agent = opts.Agent.withDefaults()
	for _, suf := range hostSuffixes {
		if _, err := os.Stat("/run/netns/" + opts.Prefix + "-" + suf); err == nil {
			return nil, fmt.Errorf("lab: namespace %s-%s already exists (leftover lab? run: raftvip-lab down -prefix %s)", opts.Prefix, suf, opts.Prefix)
		}
	}
	l := planLab(opts)
	if opts.Dir == "" {
		d, err := os.MkdirTemp("", opts.Prefix+"-")
		if err != nil {
			return nil, fmt.Errorf("lab: temp dir: %w", err)
		}
		opts.Dir, l.ownDir = d, !opts.KeepDir
	}
	l.Dir = opts.Dir
	if err := l.up(ctx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// planLab lays out a lab (hosts, names) without creating anything.
func planLab(opts Options) *Lab {
	l := &Lab{
		Prefix:     opts.Prefix,
		SwitchNS:   opts.Prefix + "-sw",
		opts:       opts,
		log:        opts.Logger.Named("lab"),
		byName:     map[string]*Host{},
		mariadb:    map[string]*MariaDB{},
		agents:     map[string]*Agent{},
		keepalived: map[string]*Keepalived{},
	}
	l.hosts = hostPlan(opts.Prefix, opts.WithKeepalivedHost)
	for _, h := range l.hosts {
		l.byName[h.Name] = h
		l.byName[h.NodeID] = h
	}
	return l
}

func (l *Lab) up(ctx context.Context) error {
	start := time.Now()
	if err := l.buildTopology(ctx); err != nil {
		return err
	}
	nss := map[string]string{}
	for _, h := range l.hosts {
		if h.Role != RoleClient {
			nss[h.Name] = h.NS
		}
	}
	m, err := StartMonitor(nss, VIP, l.log)
	if err != nil {
		return err
	}
	l.monitor = m
	l.log.Debug("network up", "prefix", l.Prefix, "took", time.Since(start))
	if err := l.startMariaDBs(ctx); err != nil {
		return err
	}
	l.log.Info("lab up", "prefix", l.Prefix, "dir", l.Dir, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// Close stops everything the lab started (clients, agents, keepalived,
// MariaDB, monitor), deletes its namespaces, and removes its directory if
// the lab created it. Safe to call more than once.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	clients := append([]*Client(nil), l.clients...)
	var procs []*Process
	for _, a := range l.agents {
		if a.proc != nil {
			procs = append(procs, a.proc)
		}
	}
	for _, k := range l.keepalived {
		if k.proc != nil {
			procs = append(procs, k.proc)
		}
	}
	var dbs []*Process
	for _, m := range l.mariadb {
		if m.proc != nil {
			dbs = append(dbs, m.proc)
		}
	}
	nss := append([]string(nil), l.namespaces...)
	l.mu.Unlock()

	for _, c := range clients {
		c.Stop()
	}
	var errs []error
	stopAll := func(ps []*Process, grace time.Duration) {
		var wg sync.WaitGroup
		var emu sync.Mutex
		for _, p := range ps {
			wg.Add(1)
			go func(p *Process) {
				defer wg.Done()
				if err := p.Stop(grace); err != nil {
					emu.Lock()
					errs = append(errs, err)
					emu.Unlock()
				}
			}(p)
		}
		wg.Wait()
	}
	stopAll(procs, 6*time.Second)
	stopAll(dbs, 15*time.Second)
	if l.monitor != nil {
		l.monitor.Close()
	}
	if err := deleteNamespaces(nss); err != nil {
		errs = append(errs, err)
	}
	if l.ownDir {
		if err := os.RemoveAll(l.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", l.Dir, err))
		}
	}
	l.log.Info("lab down", "prefix", l.Prefix)
	return errors.Join(errs...)
}

// Down removes a leftover lab by prefix: it terminates the processes that
// run inside that lab's namespaces (they were started by a lab) and deletes
// the namespaces <prefix>-{sw,a,b,w,c,k}, and its temp directory. It returns
// what it removed.
func Down(prefix string) ([]string, error) {
	if !prefixRE.MatchString(prefix) {
		return nil, fmt.Errorf("down: prefix %q: want %s", prefix, prefixRE)
	}
	var present []string
	for _, suf := range hostSuffixes {
		n := prefix + "-" + suf
		if _, err := os.Stat("/run/netns/" + n); err == nil {
			present = append(present, n)
		}
	}
	for _, n := range present {
		out, err := run(context.Background(), "ip", "netns", "pids", n)
		if err != nil {
			continue
		}
		var pids []int
		for _, f := range strings.Fields(out) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
				_ = syscall.Kill(pid, syscall.SIGCONT)
				_ = syscall.Kill(pid, syscall.SIGTERM)
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for _, pid := range pids {
			for alive(pid) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if alive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	err := deleteNamespaces(present)
	// The lab's own temp directory (configs, data, logs) is named after the
	// prefix; remove it only if it looks like a lab directory.
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"-*"))
	for _, d := range dirs {
		if _, serr := os.Stat(filepath.Join(d, "mariadb-template")); serr == nil {
			if rerr := os.RemoveAll(d); rerr != nil {
				err = errors.Join(err, rerr)
			} else {
				present = append(present, d)
			}
		}
	}
	return present, err
}

// Host returns a host by short name (a, b, w, c, k) or node id (hosta, …).
func (l *Lab) Host(name string) *Host { return l.byName[name] }

func (l *Lab) lookup(name string) (*Host, error) {
	h := l.byName[name]
	if h == nil {
		return nil, fmt.Errorf("lab: no host %q", name)
	}
	return h, nil
}

// Hosts lists the lab's hosts in a fixed order (a, b, w, c[, k]).
func (l *Lab) Hosts() []*Host { return append([]*Host(nil), l.hosts...) }

// DBHosts are a and b.
func (l *Lab) DBHosts() []*Host { return []*Host{l.byName["a"], l.byName["b"]} }

// Other returns the other DB host ("a" <-> "b"), by short name.
func (l *Lab) Other(host string) string {
	if h := l.byName[host]; h != nil && h.Name == "a" {
		return "b"
	}
	return "a"
}

// Monitor is the VIP monitor started by Up.
func (l *Lab) Monitor() *Monitor { return l.monitor }

// Namespaces lists the namespaces the lab created.
func (l *Lab) Namespaces() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.namespaces...)
}

func (l *Lab) note(kind, what string, kv ...any) {
	parts := []string{what}
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, fmt.Sprintf("%v=%v", kv[i], kv[i+1]))
	}
	l.mu.Lock()
	l.notes = append(l.notes, Note{Time: time.Now(), Kind: kind, What: strings.Join(parts, " ")})
	l.mu.Unlock()
	l.log.Debug(what, append([]any{"kind", kind}, kv...)...)
}

// Notes returns what the lab did, in order.
func (l *Lab) Notes() []Note {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Note(nil), l.notes...)
}

// LogFiles lists every per-process log of the lab, keyed by "what@host".
func (l *Lab) LogFiles() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]string{}
	for h, m := range l.mariadb {
		out["mariadbd@"+h] = m.LogPath
	}
	for h, a := range l.agents {
		out["raftvip@"+h] = a.LogPath
	}
	for h, k := range l.keepalived {
		out["keepalived@"+h] = k.LogPath
	}
	return out
}

// Report is a text dump for failure reports: the lab's notes, the VIP
// timeline, and the tail of every log.
func (l *Lab) Report(tailLines int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "=== lab %s (%s) ===\n", l.Prefix, l.Dir)
	for _, n := range l.Notes() {
		fmt.Fprintf(&b, "%s %-7s %s\n", n.Time.Format(timeFmt), n.Kind, n.What)
	}
	if l.monitor != nil {
		b.WriteString("--- VIP timeline ---\n")
		b.WriteString(l.monitor.Timeline())
	}
	if st, err := l.AnyStatus(context.Background()); err == nil {
		fmt.Fprintf(&b, "--- raftvip status -json ---\n%s\n", strings.TrimSpace(string(st.Raw)))
	} else if len(l.ownerProcs()) > 0 {
		fmt.Fprintf(&b, "--- raftvip status: %v\n", err)
	}
	logs := l.LogFiles()
	keys := make([]string, 0, len(logs))
	for k := range logs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "--- %s: %s (last %d lines) ---\n%s\n", k, logs[k], tailLines, TailFile(logs[k], tailLines))
	}
	return b.String()
}

func (l *Lab) hostDir(host, sub string) (string, error) {
	d := filepath.Join(l.Dir, host, sub)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", fmt.Errorf("lab: mkdir %s: %w", d, err)
	}
	return d, nil
}
