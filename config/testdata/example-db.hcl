# raftvip configuration for a database node (hosta).
#
# All three nodes share the same peer list; node_id, role, data_dir, bind
# and admin are what differ per host. `raftvip validate -config FILE`
# checks this file and prints every problem as file:line:col.

node_id  = "hosta"                    # this node's Raft id: one of the peer names below
role     = "db"                       # "db" (runs MySQL, may hold the VIP) or "witness" (votes only)
data_dir = "/var/lib/raftvip/hosta"   # Raft log, stable store and snapshots
bind     = "10.99.0.11:7400"          # Raft transport and intra-cluster RPC, multiplexed
admin    = "/run/raftvip/hosta.sock"  # admin API for the CLI (unix socket); default /run/raftvip/<node_id>.sock

# The cluster port without authentication: for tests only. A real node has
#   tls {
#     ca_file   = "/etc/raftvip/tls/ca.pem"
#     cert_file = "/etc/raftvip/tls/hosta.pem"
#     key_file  = "/etc/raftvip/tls/hosta-key.pem"
#   }
# instead (raftvip tls init makes the files).
insecure_plaintext = true

# Every voter, this node included. A Raft group needs 3 voters so one can fail.
peer "hosta" {
  address = "10.99.0.11:7400"
  role    = "db"
}
peer "hostb" {
  address = "10.99.0.12:7400"
  role    = "db"
}
peer "witness" {
  address = "10.99.0.13:7400"
  role    = "witness"
}

# The addresses that follow the leader. Required on a db node.
vip {
  interface     = "eth0"
  addresses     = ["10.99.0.10/24", "10.99.0.20/24"] # all move together
  lease         = "2s"                # kernel valid_lft/preferred_lft, whole seconds; default "1s"
  garp_count    = 3                   # gratuitous ARPs sent on takeover; default 5
  garp_interval = "100ms"             # spacing between them; default "200ms"
  garp_refresh  = "30s"               # periodic re-announce while holding; "0s" (default) = off
  # Ask who answers ARP for each address (docs/arpwatch.md): two MACs, or one
  # that is not the holder's, is an ERROR, a metric and CRITICAL in check.
  arp_watch          = true             # default true
  arp_watch_interval = "2s"             # one request per address per interval; default "1s"
}

# Local health check: this node only takes or keeps the VIP while MySQL answers.
mysql {
  dsn      = "raftvip:s3cret@tcp(127.0.0.1:3306)/"   # or dsn_file = "/etc/raftvip/dsn" (exactly one)
  query    = "SELECT 1 FROM DUAL"     # default "SELECT 1"
  interval = "250ms"                  # default "500ms"
  timeout  = "2s"                     # default "1s"
  fall     = 3                        # failures before unhealthy; default 2
  rise     = 4                        # successes before healthy again; default 2
  fail_after = "1500ms"               # unhealthy after this long without a successful check (a hung server); default "1s"
  expect   = "1"                      # the query's first value must be this; default none
  replication_interval = "3s"         # read a steady replication state this often (every check while it is not); default "2s"
  fence_table = "raftvip.fence"       # db.table: each acquisition writes (epoch, node, time) there; default "" (off)
}

# Without preemption (the default, like keepalived's nopreempt) the VIP stays
# where it is until that node fails. With preempt = true it moves back to
# `preferred` once that node is healthy.
#
# The rest is data safety on dual-master replication (docs/replication.md):
# who may be promoted, and when a new holder turns writable.
failover {
  preempt   = true
  preferred = "hosta"

  max_lag            = "5s"           # a standby lagging more is stale: not promoted automatically; default "10s"
  promote_stale      = false          # true: promote a stale standby anyway, recorded as "data at risk"; default false
  catchup_timeout    = "20s"          # the new holder's wait to apply its relay log before turning writable; default "10s"
  on_catchup_timeout = "writable"     # after that wait: "writable" (default) or "stay_read_only"
  kill_sessions      = true           # on release, after read_only = ON, kill client sessions; default true
}

# VRRP towards keepalived routers that share the VIP during a migration
# (see docs/import-keepalived.md). Without this block VRRP is off.
vrrp {
  mode              = "observe"       # "off" (default), "observe" (listen and report only), "active"
  version           = 2               # 2 (default, keepalived's default) or 3
  virtual_router_id = 51              # keepalived's virtual_router_id; required unless mode = "off"
  priority          = 250             # advertised while holding the VIP; 1..254, default 250
  advert_int        = "1s"            # v2: whole seconds; v3: multiple of 10ms; default "1s"
  auth_pass         = "1111"          # v2 simple password, at most 8 bytes; omit for none
  unicast_peers     = ["10.99.0.12"]  # keepalived's unicast_peer; empty (default) = multicast 224.0.0.18
  interface         = "eth0"          # default: vip.interface
  trusted_routers   = ["10.99.0.12"]  # keepalived routers raftvip heeds, by source address; others' adverts are dropped
  # Only while trusted_routers is empty (default []: every router is heeded, but not for long):
  # untrusted_block_max = "30s"       # the longest, in total, VRRP masters keep raftvip from the VIP
}

# hashicorp/raft tunables; the values below are not the defaults.
raft {
  heartbeat_timeout    = "600ms"      # default "500ms"
  election_timeout     = "700ms"      # default "500ms"; must be >= heartbeat_timeout
  leader_lease_timeout = "300ms"      # default "400ms"; must be <= heartbeat_timeout
  heartbeat_interval   = "50ms"       # default the smaller of heartbeat_timeout/5 and leader_lease_timeout/4
  commit_timeout       = "40ms"       # default "500ms"
  snapshot_threshold   = 4096         # default 8192
  snapshot_interval    = "60s"        # default "120s"
  trailing_logs        = 2048         # default 10240
}

log_level = "debug"                   # trace, debug, info (default), warn, error
log_json  = true                      # default false
