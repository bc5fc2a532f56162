package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/admin"
	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/arpwatch"
	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/config"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/mtls"
	"github.com/raftvip/raftvip/internal/sched"
	"github.com/raftvip/raftvip/internal/sdnotify"
	"github.com/raftvip/raftvip/mysqlcheck"
	"github.com/raftvip/raftvip/notify"
	"github.com/raftvip/raftvip/vip"
	"github.com/raftvip/raftvip/vrrpcompat"
	"golang.org/x/sys/unix"
)

// shutdownBudget: SIGTERM to exit must stay under 5 s; the VIP goes first.
const shutdownBudget = 4 * time.Second

func runAgent(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("agent", stderr)
	path := fs.String("config", defaultConfig, "config file")
	join := fs.Bool("join", false, "first start of a node added to a running cluster: don't bootstrap, wait for 'raftvip peers add'")
	words, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	if c := noWords(fs, words, stderr); c >= 0 {
		return c
	}
	cfg, ok := loadConfig(*path, stderr)
	if !ok {
		return exitUsage
	}
	log := hclog.New(&hclog.LoggerOptions{
		Name:            "raftvip",
		Level:           hclog.LevelFromString(cfg.LogLevel),
		JSONFormat:      cfg.LogJSON,
		Output:          stderr,
		TimeFormat:      "2006-01-02T15:04:05.000Z07:00",
		IncludeLocation: false,
	}).With("node", cfg.NodeID)
	for _, w := range cfg.Warnings {
		log.Warn("config: "+w.Msg, "at", fmt.Sprintf("%s:%d:%d", w.File, w.Line, w.Column))
	}
	// Before the cluster and the checker start their threads (they
	// inherit it anyway, see internal/sched).
	if err := sched.Apply(sched.Priority(cfg.CPUPriority)); err != nil {
		log.Warn("could not raise the agent's CPU priority; running as started (a saturated host may starve lease renewals)", "cpu_priority", cfg.CPUPriority, "error", err)
	} else if cfg.CPUPriority != string(sched.Normal) {
		log.Debug("cpu priority raised", "cpu_priority", cfg.CPUPriority)
	}
	tuneRuntime()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serveAgent(ctx, cfg, log, *join); err != nil {
		log.Error("agent failed", "error", err)
		return exitFailure
	}
	return exitOK
}

func serveAgent(ctx context.Context, cfg *config.Config, log hclog.Logger, join bool) error {
	log.Info("starting", "version", version, "role", cfg.Role, "bind", cfg.Bind, "data_dir", cfg.DataDir, "config", cfg.File)

	var (
		addr    vip.Addresser
		ann     vip.Announcer
		checker *mysqlcheck.Checker
		lease   = config.DefaultLease
		refresh time.Duration
		// leftovers: the interface is missing at start, so a predecessor's
		// VIP may live on under another name; see Agent.AssumeLeftovers.
		leftovers bool
	)
	if cfg.Role == config.RoleDB {
		vc := vip.Config{Interface: cfg.VIP.Interface, Addresses: cfg.VIP.Addresses, GARPCount: cfg.VIP.GARPCount, GARPInterval: cfg.VIP.GARPInterval}
		nl, err := vip.NewNetlink(vc, log.Named("vip"))
		if err != nil {
			return err
		}
		gone, err := releaseAtStart(cfg.VRRP.Mode, nl, vc.Interface, log)
		if err != nil {
			return err
		}
		leftovers = gone
		addr = nl
		if vc.GARPCount > 0 {
			g, err := vip.NewGARP(vc, log.Named("garp"))
			if err != nil {
				return err
			}
			ann = g
		}
		lease, refresh = cfg.VIP.Lease, cfg.VIP.GARPRefresh
		checker, err = mysqlcheck.New(mysqlcheck.Config{DSN: cfg.MySQL.DSN, Query: cfg.MySQL.Query, Interval: cfg.MySQL.Interval,
			Timeout: cfg.MySQL.Timeout, Fall: cfg.MySQL.Fall, Rise: cfg.MySQL.Rise, FailAfter: cfg.MySQL.FailAfter, Expect: cfg.MySQL.Expect, ReplicationInterval: cfg.MySQL.ReplicationInterval}, log)
		if err != nil {
			return err
		}
	}

	checkCtx, stopChecks := context.WithCancel(context.Background())
	defer stopChecks()
	if checker != nil {
		go checker.Run(checkCtx)
	}

	// systemd (Type=notify, dist/raftvip.service): READY=1 after the
	// loop's first pass, watchdog pings from its passes, STOPPING=1 at
	// shutdown; nothing when NOTIFY_SOCKET is unset.
	sd, err := sdnotify.FromEnv()
	if err != nil {
		log.Warn("systemd notify", "error", err)
	}
	sdLoop := sd.Loop()
	if sd != nil {
		log.Info("systemd notify: READY after the first loop pass", "watchdog", sd.Watchdog())
		failed := false // the loop's goroutine only
		sdLoop.OnError = func(err error) {
			if !failed {
				failed = true
				log.Warn("systemd notify failed (logged once)", "error", err)
			}
		}
	}

	f := fsm.New()
	// The RPC server starts inside cluster.Open, before the agent exists;
	// until it does, requests are answered with "starting".
	var ag atomic.Pointer[agent.Agent]
	handler := func(ctx context.Context, req cluster.Request) cluster.Response {
		if a := ag.Load(); a != nil {
			return a.HandleRPC(ctx, req)
		}
		return cluster.Response{Err: "agent starting"}
	}
	var peers []cluster.Peer
	var apeers []agent.Peer
	for _, p := range cfg.Peers {
		peers = append(peers, cluster.Peer{ID: p.ID, Address: p.Address})
		apeers = append(apeers, agent.Peer{ID: p.ID, Address: p.Address, Role: p.Role})
	}
	timing := cluster.Timing{
		HeartbeatTimeout: cfg.Raft.HeartbeatTimeout, ElectionTimeout: cfg.Raft.ElectionTimeout,
		LeaderLeaseTimeout: cfg.Raft.LeaderLeaseTimeout, HeartbeatPace: cfg.Raft.HeartbeatInterval, CommitTimeout: cfg.Raft.CommitTimeout,
		SnapshotInterval: cfg.Raft.SnapshotInterval, SnapshotThreshold: cfg.Raft.SnapshotThreshold, TrailingLogs: cfg.Raft.TrailingLogs,
	}
	// A restarted voter stays out of Raft for the largest heartbeat timeout
	// known (its own, and any larger one recorded in the data dir), so it
	// cannot vote for a new leader within that long of its last contact
	// with the old one (docs/safety.md, rule 3).
	startDelay, err := cluster.StartDelay(cfg.DataDir, cfg.Raft.HeartbeatTimeout)
	if err != nil {
		return err
	}
	var certs *mtls.Store
	if cfg.TLS != nil {
		certs, err = mtls.NewStore(mtls.Files{CA: cfg.TLS.CAFile, Cert: cfg.TLS.CertFile, Key: cfg.TLS.KeyFile})
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		m := certs.Current()
		log.Info("cluster port: mutual TLS", "identity", m.ID, "cert_file", cfg.TLS.CertFile, "not_after", m.Cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	cl, err := cluster.Open(cluster.Config{NodeID: cfg.NodeID, Bind: cfg.Bind, DataDir: cfg.DataDir, Peers: peers,
		Timing: timing, Logger: log.Named("cluster"), Join: join, StartDelay: startDelay, TLS: certs}, f, handler)
	if err != nil {
		return err
	}

	opt := agent.Options{NodeID: cfg.NodeID, Role: cfg.Role, Peers: apeers, Lease: lease, GARPRefresh: refresh,
		Preempt: cfg.Failover.Preempt, Preferred: cfg.Failover.Preferred,
		HeartbeatTimeout: cfg.Raft.HeartbeatTimeout, Version: version, VRRPMode: cfg.VRRP.Mode,
		SecurityWarnings: securityWarnings(certs, cfg.Bind), Data: dataOptions(cfg)}
	if cfg.VIP != nil {
		opt.VIPMAC = agent.InterfaceMAC(cfg.VIP.Interface)
	}
	if cfg.MySQL != nil {
		// A quiet db node still judges every replication reading
		// (agent/idle.go): it looks again once per check.
		opt.IdleTick = min(cfg.MySQL.Interval, time.Second)
	}
	if sdLoop != nil {
		opt.AfterPass = func(v agent.View) { sdLoop.Pass(time.Now(), systemdStatus(v)) }
	}
	var health agent.Health
	if checker != nil {
		health = checker
	}
	a := agent.New(opt, cl, f, addr, ann, health, log)
	nf := newNotifier(cfg, log)
	if nf != nil {
		a.SetNotifier(nf.Notify)
	}
	// The server behind the VIP (issue 10): kept read_only unless this node
	// holds the VIP, writable only after the catch-up. Not while VRRP is on
	// (a migration from keepalived): keepalived may serve the VIP then
	// (observe mode; in active mode as the safety net, and after a
	// rollback), and it would serve a server raftvip made read-only.
	var sdb *serverDB
	if cfg.Role == config.RoleDB && cfg.MySQL != nil && cfg.VRRP.Mode == config.VRRPOff {
		sdb, err = newServerDB(cfg.MySQL.DSN, log)
		if err != nil {
			cl.Close()
			return err
		}
		defer sdb.Close() // after Shutdown's last fence
		a.SetDB(sdb, sdb.Remote)
		d := opt.Data
		log.Info("data safety: read_only fencing and catch-up on", "max_lag", d.MaxLag, "promote_stale", d.PromoteStale,
			"catchup_timeout", d.CatchupTimeout, "on_catchup_timeout", d.OnCatchupTimeout, "kill_sessions", d.KillSessions, "fence_table", d.FenceTable)
	} else if cfg.Role == config.RoleDB {
		log.Info("data safety: read_only fencing and catch-up off while vrrp.mode is not \"off\" (keepalived may serve the VIP and would serve a server raftvip made read-only); stale standbys are still not promoted", "vrrp_mode", cfg.VRRP.Mode)
	}
	if leftovers {
		log.Warn("VIP interface is missing: a VIP left by a previous agent may live on under another name; holding off until its lifetime has surely ended",
			"interface", cfg.VIP.Interface, "wait", opt.WithDefaults().Terms().Exposure())
		a.AssumeLeftovers()
	}
	if cfg.Role == config.RoleDB && cfg.VRRP.Mode != config.VRRPOff {
		sp, err := openVRRP(cfg, log)
		if err != nil {
			cl.Close()
			return capHint(err, "CAP_NET_RAW", "send and receive VRRP")
		}
		defer sp.Close()
		go func() {
			if err := sp.Run(checkCtx); err != nil {
				log.Error("VRRP receiver stopped", "error", err)
			}
		}()
		a.SetVRRP(localOwnerAware{sp, addr.(*vip.Netlink)})
		log.Info("VRRP coexistence", "mode", cfg.VRRP.Mode, "version", cfg.VRRP.Version, "vrid", cfg.VRRP.VRID,
			"priority", cfg.VRRP.Priority, "advert_int", cfg.VRRP.AdvertInt, "unicast_peers", len(cfg.VRRP.UnicastPeers), "listen_window", sp.ListenWindow(),
			"trusted_routers", cfg.VRRP.TrustedRouters)
		if len(cfg.VRRP.TrustedRouters) == 0 {
			log.Warn("vrrp.trusted_routers is empty: any host on the link can forge a VRRP master (the VRRPv2 password travels in clear text) and keep raftvip from the VIP for up to vrrp.untrusted_block_max at a time; list the keepalived routers' addresses in vrrp.trusted_routers",
				"untrusted_block_max", cfg.VRRP.UntrustedBlockMax)
		}
	}
	if err := startARPWatch(checkCtx, cfg, a, log); err != nil {
		cl.Close()
		return err
	}
	ag.Store(a)
	log.Info("fencing bound", "lease", lease, "heartbeat_timeout", cfg.Raft.HeartbeatTimeout, "fence_wait", opt.WithDefaults().FenceWait())

	adm, err := admin.ServeOptions(admin.Options{Path: cfg.Admin, Group: cfg.AdminGroup}, a, log.Named("admin"))
	if err != nil {
		cl.Close()
		return err
	}

	web, err := serveMetrics(cfg, a, ann, checker, nf, log)
	if err != nil {
		adm.Close()
		cl.Close()
		return err
	}

	// SIGHUP is caught before the loop runs: its first pass sends READY=1,
	// and from then on systemctl reload may send one (uncaught, it would
	// end the process).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	loopCtx, stopLoop := context.WithCancel(context.Background())
	loopDone := make(chan struct{})
	go func() { defer close(loopDone); a.Run(loopCtx) }()

	rl := &reloader{path: cfg.File, cur: cfg, log: log, checker: checker, agent: a, certs: certs, db: sdb}
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-hup:
			log.Info("SIGHUP: reloading config", "file", cfg.File)
			_, _, _ = rl.reload()
		}
	}
	start := time.Now()
	log.Info("shutting down")
	if err := sdLoop.Stop(); err != nil {
		log.Warn("systemd notify", "error", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	stopLoop()
	select {
	case <-loopDone:
	case <-sctx.Done():
	}
	a.Shutdown(sctx)
	closeNotifier(nf, sctx)
	adm.Close()
	if web != nil {
		web.Close()
	}
	closed := make(chan error, 1)
	go func() { closed <- cl.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			log.Warn("raft shutdown", "error", err)
		}
	case <-sctx.Done():
		log.Warn("raft did not shut down in time; exiting anyway")
	}
	stopChecks()
	log.Info("stopped", "took", time.Since(start).Round(time.Millisecond))
	_ = os.Stderr.Sync()
	return nil
}

// systemdStatus is the STATUS= line systemctl status shows: coarse, so it
// changes only when the node's part does.
func systemdStatus(v agent.View) string {
	switch {
	case v.Serving:
		return fmt.Sprintf("holds the VIP, epoch %d", v.Epoch)
	case v.LeaderReady:
		return "raft leader, VIP not held here (" + v.Decision.Action.String() + ")"
	default:
		return "raft follower, VIP not held here"
	}
}

// serveMetrics starts the metrics_addr listener (nil when unset): metrics,
// health endpoints and the status page. Listening happens here, so a busy
// or foreign address fails the start instead of going unnoticed.
func serveMetrics(cfg *config.Config, a *agent.Agent, ann vip.Announcer, checker *mysqlcheck.Checker, nf *notify.Notifier, log hclog.Logger) (*http.Server, error) {
	if cfg.MetricsAddr == "" {
		return nil, nil
	}
	opt := agent.MetricsOptions{}
	if cfg.VIP != nil {
		opt.Addresses = cfg.VIP.Addresses
	}
	if g, ok := ann.(*vip.GARP); ok {
		opt.GARPSent = g.Sent
	}
	if nf != nil {
		opt.NotifyCounts = nf.ScriptCounts
	}
	m := agent.NewMetrics(a, opt)
	if checker != nil {
		checker.SetObserver(m.ObserveCheck)
	}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("metrics_addr: %w", err)
	}
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second,
		ErrorLog: log.Named("http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "error", err)
		}
	}()
	log.Info("metrics and status page", "address", "http://"+ln.Addr().String()+"/", "metrics", "/metrics")
	return srv, nil
}

// startARPWatch starts the watch of who answers ARP for the VIP
// (vip.arp_watch; docs/arpwatch.md), on a witness with a vip block too. It
// runs until ctx ends.
func startARPWatch(ctx context.Context, cfg *config.Config, a *agent.Agent, log hclog.Logger) error {
	aw := cfg.ARPWatch
	if aw == nil {
		if cfg.Role == config.RoleWitness {
			log.Info("ARP watch off: this witness's config has no vip block (copy the db nodes' vip block here to watch who answers ARP for the VIP)")
		} else {
			log.Info("ARP watch off (vip.arp_watch = false)")
		}
		return nil
	}
	addrs := make([]netip.Addr, len(aw.Addresses))
	for i, p := range aw.Addresses {
		addrs[i] = p.Addr()
	}
	w, err := arpwatch.New(arpwatch.Config{Interface: aw.Interface, Addresses: addrs, Interval: aw.Interval,
		Open: arpwatch.Open(aw.Interface, addrs), Expect: a.ARPExpectation, Log: log.Named("arpwatch")})
	if err != nil {
		return err
	}
	a.SetARPWatch(w.Report)
	go w.Run(ctx)
	log.Info("ARP watch: asking who answers ARP for the VIP", "interface", aw.Interface, "addresses", fmt.Sprint(addrs), "interval", aw.Interval,
		"window", arpwatch.DefaultWindow, "confirm_rounds", arpwatch.DefaultConfirm)
	return nil
}

// securityWarnings are the status lines about this node's cluster port.
func securityWarnings(certs *mtls.Store, bind string) func(time.Time) []string {
	if certs == nil {
		return func(time.Time) []string {
			return []string{fmt.Sprintf("INSECURE: the cluster port %s runs in plaintext (insecure_plaintext = true): anyone who can reach it can command the cluster; use a tls block", bind)}
		}
	}
	return certs.Warnings
}

// releaseAtStart removes what a crashed predecessor left: it is not ours, we
// hold nothing until the cluster says so. In VRRP observe mode keepalived
// owns the VIP on this host: leave it alone. It is also the agent's first
// netlink change, so a missing capability shows here, before the cluster
// counts on this node. interfaceGone: the interface is missing, so a
// predecessor's VIP may live on under another name (Agent.AssumeLeftovers).
func releaseAtStart(mode string, nl *vip.Netlink, iface string, log hclog.Logger) (interfaceGone bool, err error) {
	switch mode {
	case config.VRRPObserve:
		log.Info("VRRP observe mode: the VIP is never touched by this agent")
	case config.VRRPActive:
		// A keepalived may run beside us (a migration): its VIP has an
		// infinite lifetime and is not ours to remove; ours always
		// carries the lease.
		kept, err := nl.ReleaseLeftovers()
		if errors.Is(err, vip.ErrInterfaceGone) {
			return true, nil
		} else if err != nil {
			return false, fmt.Errorf("remove leftover VIP: %w", capHint(err, "CAP_NET_ADMIN", "add and remove the VIP"))
		}
		if len(kept) > 0 {
			log.Info("VIP present with an infinite lifetime: another owner's (keepalived?), left alone", "addrs", fmt.Sprint(kept))
		}
	default:
		if held, _ := nl.Held(); held {
			log.Warn("removing a VIP left on the interface (crash leftover)", "interface", iface)
		}
		if err := nl.Release(); errors.Is(err, vip.ErrInterfaceGone) {
			return true, nil
		} else if err != nil {
			return false, fmt.Errorf("remove leftover VIP: %w", capHint(err, "CAP_NET_ADMIN", "add and remove the VIP"))
		}
	}
	return false, nil
}

// capHint names the capability behind a kernel "operation not permitted"
// and how to grant it; the bare errno does not say what is missing.
func capHint(err error, capability, what string) error {
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EACCES) {
		return err
	}
	return fmt.Errorf("%w: the agent needs %s to %s: run it as root, or grant it (systemd: AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW; CAP_NET_RAW sends gratuitous ARP and VRRP)", err, capability, what)
}

// openVRRP builds the VRRP speaker from the config: our advert carries the
// same VIP list, interval and password as the keepalived routers (they drop
// anything else and would become master too).
func openVRRP(cfg *config.Config, log hclog.Logger) (*vrrpcompat.Speaker, error) {
	var vips []netip.Addr
	for _, p := range cfg.VIP.Addresses {
		vips = append(vips, p.Addr())
	}
	ours := vrrpcompat.Advert{Version: cfg.VRRP.Version, VRID: cfg.VRRP.VRID, Priority: cfg.VRRP.Priority,
		Interval: cfg.VRRP.AdvertInt, Addresses: vips}
	if cfg.VRRP.AuthPass != "" {
		ours.AuthType, ours.AuthData = vrrpcompat.AuthPass, vrrpcompat.AuthData(cfg.VRRP.AuthPass)
	}
	var own []netip.Addr
	for _, p := range cfg.Peers {
		if ap, err := netip.ParseAddrPort(p.Address); err == nil {
			own = append(own, ap.Addr())
		}
	}
	return vrrpcompat.NewSpeaker(vrrpcompat.SpeakerConfig{
		Conn: vrrpcompat.Config{Interface: cfg.VRRP.Interface, Peers: cfg.VRRP.UnicastPeers, Exclude: vips, Logger: log},
		Ours: ours, Own: own, Trusted: cfg.VRRP.TrustedRouters, UntrustedBlockMax: cfg.VRRP.UntrustedBlockMax})
}

// localOwnerAware adds what the wire cannot tell: a keepalived on this very
// host does not loop its adverts back to us, but the VIP it holds is on our
// interface with an infinite lifetime. Like a remote weaker master, it must
// yield (hear our advert, turn backup, remove its VIP) before we add ours,
// or it would delete the address right after we add it.
type localOwnerAware struct {
	*vrrpcompat.Speaker
	nl *vip.Netlink
}

func (l localOwnerAware) Yield(now time.Time) string {
	if y := l.Speaker.Yield(now); y != "" {
		return y
	}
	if f, err := l.nl.Foreign(); err == nil && len(f) > 0 {
		return "the VRRP owner of " + f[0].String() + " on this host"
	}
	return ""
}

// agentMaxProcs is the agent's GOMAXPROCS. The agent's work is a few
// hundred short wake-ups a second (heartbeats, proofs, checks), never a
// computation that needs a second core. With more than one P, every
// wake-up that readies a goroutine while another P is idle also wakes an
// idle thread to spin looking for work, and that spinning was the largest
// single share of an idle agent's samples: one P cut an idle leader from
// 1.63 % to 1.31 % of a core and a db follower from 0.78 % to 0.63 % in the
// same lab (docs/bench/idle-cost.md, round 3). What one P can delay is
// bounded by Go's preemption (10 ms), far inside the renewal slack (100
// ms); blocking system calls (fsync, netlink) hand the P to another thread
// as before. GOMAXPROCS in the environment still wins.
const agentMaxProcs = 1

// agentGCPercent is the agent's GOGC. An idle agent's live heap is about
// 1 MB and it allocates ~200 KB/s; at Go's default 100 the heap still grows
// to the 4 MB minimum goal between collections (every ~16 s), and those
// pages stay resident. At 50 the minimum goal is 2 MB: a collection every
// ~5 s at ~1 ms of CPU each (0.02 % of a core), 2 MiB less RSS
// (docs/bench/idle-cost.md). GOGC in the environment still wins.
const agentGCPercent = 50

// tuneRuntime applies agentMaxProcs and agentGCPercent unless the
// environment sets GOMAXPROCS or GOGC.
func tuneRuntime() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(agentMaxProcs)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(agentGCPercent)
	}
}
