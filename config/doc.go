// Package config loads and validates raftvip's HCL configuration file.
//
// Every problem is reported with its position as "file:line:col: message",
// and all problems are reported in one pass (see [Errors]); this is what
// `raftvip validate -config FILE` prints. Load and Parse return either a
// complete *Config with every default filled in, or a nil *Config and an
// *Errors.
//
// # Private files
//
// The config file, mysql.dsn_file and tls.key_file hold secrets: `raftvip
// validate` and `raftvip agent` refuse (exit 2) any of them that group or
// others may read or write, naming the file, its mode and the chmod that
// fixes it (see [CheckPrivate]). With admin_group set, the config file may
// be mode 0640 with that group, if it holds no secret itself (dsn_file
// instead of dsn, no vrrp.auth_pass); the DSN file and the key never.
//
// # File format
//
// The file is HCL native syntax. Values are constants (no variables or
// functions). Strings are quoted, numbers and booleans are not, and
// durations are strings in Go syntax such as "2s", "500ms" or "1m30s" (a
// bare number is refused because its unit would be a guess). Setting an
// attribute to null is the same as leaving it out. HCL allows only one
// argument in a block written on a single line, so blocks with several
// arguments (such as peer) are written one argument per line.
//
// Top level:
//
//	node_id   string, required. This node's Raft id; must be the name of one of the peer blocks.
//	role      string, required. "db" (runs MySQL, may hold the VIP) or "witness" (votes only).
//	          Must equal the role of this node's own peer block.
//	data_dir  string, required. Raft log, stable store and snapshots.
//	bind      string, required. host:port with a numeric port (1-65535) the Raft
//	          transport listens on; intra-cluster RPC is multiplexed on it. Must be
//	          this node's own peer address (the one the other nodes dial); a
//	          wildcard (0.0.0.0, [::] or no host) on that port is accepted with a
//	          warning, since it listens on every address of the host.
//	admin     string, default "/run/raftvip/<node_id>.sock". Unix socket of the admin
//	          API used by the CLI; at most 107 bytes (the Linux sun_path limit).
//	          Mode 0600: root and the agent's user only.
//	admin_group string, default none. A group (by name; it must exist on the host)
//	          whose members may open the admin socket (then mode 0660, that
//	          group) and run the read-only commands: status, check, peers
//	          (list), history. Changing commands (switchover, maintenance, peers
//	          add/remove) stay for root and the agent's user: the agent checks
//	          the caller's uid (SO_PEERCRED). The config file may then be
//	          readable by that group (mode 0640, group admin_group), if it holds
//	          no secret itself (no mysql.dsn, no vrrp.auth_pass).
//	log_level string, default "info". One of trace, debug, info, warn, error
//	          (case-insensitive; stored lower case).
//	log_json  bool, default false.
//	metrics_addr string, default none (no listener). host:port with a numeric port
//	          of an HTTP listener serving /metrics (Prometheus), /healthz, /readyz
//	          and a read-only status page at / (docs/metrics.md). Plain HTTP and no
//	          authentication: bind it to an address only the monitoring can
//	          reach. Nothing it serves holds a secret.
//	cpu_priority string, default "high". The agent's CPU priority, so that a
//	          saturated host does not starve its lease renewals (a late one
//	          drops the VIP): "high" is nice -10, "realtime" SCHED_RR priority
//	          10 (above every normal process, whatever its cgroup), "normal"
//	          leaves it as started. Needs CAP_SYS_NICE (root has it); without
//	          it the agent warns and runs as started. Notify scripts run at
//	          normal priority.
//	insecure_plaintext bool, default false. Runs the cluster port (bind) without
//	          authentication: anyone who can reach it can command the cluster. For
//	          tests only; a warning at start and in status. Exactly one of a tls
//	          block and insecure_plaintext = true is required.
//
// tls block: the cluster port's mutual TLS (TLS 1.3, client certificates). Every
// peer's certificate must be signed by the CA and name a node id of the group
// (its CommonName, also a DNS SAN). `raftvip tls init DIR -nodes a,b,c` makes the
// files. Relative paths are relative to the config file's directory. The files
// are read when the config is loaded: the certificate must match the key, chain
// to the CA, be valid now, be good for server and client use, and name node_id;
// one that ends within 30 days is a warning. SIGHUP reads them again.
//
//	ca_file   string, required. PEM certificate(s) of the CA (ca.pem).
//	cert_file string, required. This node's certificate (NODE.pem).
//	key_file  string, required. This node's private key (NODE-key.pem).
//
// peer "<id>" blocks, at least 3 distinct ids (a Raft group needs 3 voters so
// one can fail), listed identically on every node, this node included, and
// kept in file order:
//
//	address   string, required. host:port other nodes dial: a concrete host (not
//	          empty, not 0.0.0.0 or ::) and a numeric port. Unique across peers.
//	role      string, required. "db" or "witness". At least one peer must be a db
//	          peer, since only a db node can hold the VIP.
//
// vip block: required when role = "db". A witness may carry the same block (so
// one template serves all hosts); it is checked there, and only arp_watch
// uses it (Config.VIP is nil on a witness, Config.ARPWatch is not).
//
//	interface     string, required. Link the VIP is added to; at most 15 bytes.
//	addresses     list of strings, required, at least one. Each an IPv4 address
//	              with prefix length like "10.99.0.10/24" (not a network,
//	              broadcast, loopback or multicast address), no address twice.
//	              All addresses move together. IPv6 is refused: the VIP is
//	              announced with gratuitous ARP.
//	lease         duration, default "1s". Kernel valid_lft/preferred_lft of the
//	              VIP; whole seconds, at least "1s", because the kernel counts
//	              lifetimes in seconds.
//	garp_count    number 0..100, default 5. Gratuitous ARPs sent on takeover.
//	garp_interval duration, default "200ms". Spacing of those ARPs; must be > 0
//	              when garp_count > 1, never negative.
//	garp_refresh  duration, default "0s" (off). Periodic re-announce while
//	              holding the VIP; never negative.
//	arp_watch     bool, default true. Ask, every arp_watch_interval, who
//	              answers ARP for each address on interface, and report two
//	              MACs answering or a MAC that is not the holder's (a
//	              keepalived left running, an address added by hand):
//	              docs/arpwatch.md. It runs on a witness with this block
//	              too (the one part of the block used there), and on a db
//	              node while it does not hold the VIP.
//	arp_watch_interval
//	              duration "1s".."1h", default "1s". One request per
//	              address per interval.
//
// mysql block: required when role = "db", not allowed when role = "witness"
// (a witness has no database).
//
//	dsn       string. go-sql-driver DSN, user:password@tcp(host:port)/[dbname][?params].
//	dsn_file  string. File holding the DSN (surrounding whitespace trimmed); a
//	          relative path is relative to the config file's directory. It is
//	          read when the config is loaded, so it must be readable then.
//	          Exactly one of dsn and dsn_file must be set. The DSN must parse with
//	          mysql.ParseDSN. No error, log or status ever shows the DSN or its
//	          password: parser messages that could quote it are replaced, and
//	          [Config.Summary] shows it through [RedactDSN].
//	query     string, default "SELECT 1". Must not be empty. Every row is read.
//	expect    string, default none (any result is fine). The first column of
//	          the first row of query must equal it, as text: query =
//	          "SELECT @@read_only", expect = "0", or any site check. Another
//	          value, NULL or no row fails the check with class "unexpected"
//	          and the value seen. Not "" (leave it out instead). The
//	          read_only example fits only vrrp.mode "observe" or "active":
//	          with raftvip's own write fencing (mode "off") every standby is
//	          read-only, so every standby would be unhealthy.
//	interval  duration, default "500ms", > 0. Time between checks.
//	timeout   duration, default "1s", > 0. Per-check timeout.
//	fall      number >= 1, default 2. Consecutive failed checks that got an
//	          answer or a refusal (refused, reset, auth, a server error,
//	          expect not met) before unhealthy; they run 25 ms apart, so a
//	          killed server is unhealthy in milliseconds. Timeouts are not
//	          counted (fail_after judges them); overloads never fail.
//	fail_after duration, default "1s", > 0. How long without a successful
//	          check (from the start of the first failed one) makes the node
//	          unhealthy whatever the failures: a hung server that never
//	          answers is unhealthy fail_after after it was first asked.
//	          Complements fall; a check is cut so it never runs past it.
//	          ERR 1040, 1203 and 1226 (too many connections, user limits)
//	          are "overloaded": the node stays healthy and status says
//	          degraded (docs/health.md).
//	rise      number >= 1, default 2. Consecutive successes before healthy again.
//	replication_interval duration, default "2s", from interval to "10s". How
//	          often a periodic check reads the replication state while it is
//	          steady (threads running, no lag, no error, semi-sync active);
//	          while it is not, and on any check that is not periodic or
//	          changes the verdict, every check reads it. A steady replication
//	          that breaks is seen up to this much later (docs/health.md).
//	fence_table string, default "" (off). "db.table" where each acquisition of
//	          the VIP records (epoch, node, time), so applications and proxies
//	          can check which epoch they write in. Each part 1 to 64 letters,
//	          digits, _ and $ (mysqlcheck.ValidFenceTable).
//
// failover block, optional, allowed on every node, the witness too (the
// node leading Raft may be the witness); give it the same values on every
// node. The last five keys are data safety on dual-master replication
// (docs/replication.md).
//
//	preempt   bool, default false (like keepalived's nopreempt: the VIP stays
//	          where it is until that node fails).
//	preferred string, default "". The db peer the VIP moves back to once it is
//	          healthy. Required when preempt = true, and only allowed then; must
//	          name a peer whose role is "db".
//	max_lag   duration, default "10s", > 0. A db node whose replication from
//	          the holder was stopped, failing or more than this behind at its
//	          last check while the holder was alive is stale: it is not
//	          promoted automatically.
//	promote_stale bool, default false. true: stale db nodes are promoted like
//	          caught-up ones, by the leader and by switchover without -force; a
//	          stale standby may lack writes the old holder acknowledged.
//	          (`raftvip switchover -to NODE -force` does this for one move, and
//	          is recorded in the history as data at risk.)
//	catchup_timeout duration, default "10s", > 0. How long a new holder
//	          waits for its SQL thread to apply what its IO thread received
//	          before it turns writable.
//	on_catchup_timeout string, default "writable". What a new holder does
//	          when catchup_timeout passes first: "writable" (turn writable
//	          anyway) or "stay_read_only".
//	kill_sessions bool, default true. On release, after setting read_only,
//	          kill client sessions (raftvip's own and replication's excepted)
//	          so no write in flight lands after the fence.
//
// vrrp block, optional; without it VRRP is off. It lets raftvip share a VRID
// with keepalived routers while a site migrates (raftvip import-keepalived
// writes it from a keepalived.conf). Its values are checked whatever the
// mode, so switching modes later is a one-word edit. Config.VRRP is always
// set: Mode "off" with the defaults below when the block is absent.
//
//	mode              string, default "off". "off": no VRRP. "observe": listen
//	                  and report the VRRP routers on the wire; the VIP is never
//	                  touched. "active": advertise while holding the VIP and
//	                  give way to a stronger VRRP master. Only "off" is allowed
//	                  on a witness (only db nodes speak VRRP; the witness
//	                  holds no VIP).
//	version           number, default 2 (keepalived's default). 2 (RFC 3768)
//	                  or 3 (RFC 5798).
//	virtual_router_id number 1..255; required unless mode = "off".
//	priority          number 1..254, default 250: advertised while this node
//	                  holds the VIP, above usual keepalived priorities so
//	                  keepalived backups stay backup. 255 is reserved for the
//	                  router owning the address, 0 means "giving up".
//	advert_int        duration, default "1s". Version 2: whole seconds,
//	                  "1s".."255s"; version 3: a multiple of "10ms",
//	                  "10ms".."40.95s" (the sizes of the packet fields).
//	auth_pass         string, version 2 only (an error with version 3, which
//	                  has no authentication); 1 to 8 bytes; omit for none.
//	                  Longer values are refused because keepalived silently
//	                  truncates them to 8 bytes. A secret: [Config.Summary]
//	                  shows "****" and no message ever quotes it.
//	unicast_peers     list of IPv4 address strings, default [] (multicast to
//	                  224.0.0.18); keepalived's unicast_peer. No address twice.
//	interface         string, default vip.interface; at most 15 bytes. The
//	                  link adverts are sent and heard on.
//	trusted_routers   list of IPv4 address strings, default []: the source
//	                  addresses of the keepalived routers raftvip heeds
//	                  (gives way to, makes yield, lists in status). An advert
//	                  from any other source is dropped and counted as
//	                  "untrusted" (adverts from raftvip's own peers at
//	                  raftvip's priority excepted). Empty: every router is
//	                  heeded, for at most untrusted_block_max. No address
//	                  twice. VRRPv2's password is clear text, so without this
//	                  list anyone on the link can forge a master.
//	untrusted_block_max  duration, default "30s", at least 3 × advert_int
//	                  and "1s"; only while trusted_routers is empty (an error
//	                  with it). The longest in total that VRRP masters keep
//	                  raftvip from the VIP (outranking it, or not yielding to
//	                  its adverts); then raftvip ignores them until none has
//	                  stood in its way for 10 × this long.
//
// notify block, optional: keepalived-compatible notifications when this
// node's state changes (package notify, docs/notify.md). MASTER: this node
// holds the VIP; BACKUP: its MySQL is healthy and it does not hold the VIP;
// FAULT: its MySQL is unhealthy; STOP: the agent is shutting down (after it
// released the VIP). Nothing is notified before the first health verdict;
// the first state after a start is always notified. Allowed on a witness
// (one template for all hosts) with a warning: a witness has no state to
// tell, so nothing runs there. Scripts run as the agent's user, one at a
// time in order, with the agent's environment plus RAFTVIP_* variables.
//
//	instance      string, default "raftvip". The name scripts get (keepalived's
//	              vrrp_instance name, like "VI_1"); no double quote or newline.
//	notify_master string, default none. Script run on MASTER: an absolute path,
//	              optionally followed by arguments ("/etc/keepalived/x.sh a b",
//	              split on blanks, '…' or "…" keeps blanks in one argument). It
//	              gets only those arguments, as keepalived runs notify_*.
//	              The file must exist, be executable and not be writable by
//	              group or others (checked when the config is loaded).
//	notify_backup string, default none. The same, on BACKUP.
//	notify_fault  string, default none. The same, on FAULT.
//	notify_stop   string, default none. The same, on STOP.
//	notify        string, default none. Script run on every state, after the
//	              state's own script, with its arguments followed by
//	              keepalived's four: INSTANCE, the instance name, the state
//	              and the priority (vrrp.priority, default 250).
//	fifo          string, default none. Absolute path of a FIFO that gets
//	              keepalived's line for each state, INSTANCE "NAME" STATE
//	              PRIORITY; created (mode 0600) when missing, must be a FIFO
//	              when present. Opened non-blocking: without a reader the line
//	              is dropped (logged), nothing waits.
//	timeout       duration, default "10s", > 0. Per script run (the script's
//	              process group is killed then) and per webhook request.
//	webhook       string, default none. An http:// or https:// URL that gets
//	              each state change as a JSON POST, retried with backoff (1s,
//	              2s, … 6 attempts). It may hold a token: status and logs show
//	              it without user info and query.
//
// raft block, optional. Mirrors raft.ValidateConfig of hashicorp/raft v1.7.3 so
// a bad value is reported at its line rather than at startup:
//
//	heartbeat_timeout    duration, default "500ms", >= 5ms.
//	election_timeout     duration, default "500ms", >= 5ms, >= heartbeat_timeout.
//	leader_lease_timeout duration, default "500ms", >= 5ms, <= heartbeat_timeout.
//	heartbeat_interval   duration, >= 1ms, <= 3/10 of heartbeat_timeout,
//	                     < leader_lease_timeout/2; default 3/10 of the
//	                     shorter of heartbeat_timeout and
//	                     leader_lease_timeout ("150ms"). The leader
//	                     heartbeats every interval to 2·interval
//	                     (hashicorp/raft's own: HT/10 to HT/5, 50–100ms
//	                     at the default), so a follower gets more than
//	                     one and a half heartbeats per timeout.
//	commit_timeout       duration, default "2s", >= 1ms.
//	snapshot_threshold   number >= 0, default 8192.
//	snapshot_interval    duration, default "120s", >= 5ms.
//	trailing_logs        number >= 0, default 10240.
//
// Unknown attributes or blocks, a block given twice, and values of the wrong
// type (a quoted number, an unquoted duration) are errors too.
//
// testdata/example-db.hcl and testdata/example-witness.hcl are complete,
// annotated examples; the tests load both.
package config
