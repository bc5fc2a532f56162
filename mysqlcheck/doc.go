// Package mysqlcheck decides whether a local MySQL/MariaDB server is healthy
// by running a real query against it, and reports every change of that
// verdict. It knows nothing about Raft or VIPs; the agent consumes Changes().
//
// # What a check is
//
// A check runs Config.Query (default "SELECT 1") and reads the whole result
// (with Config.Expect, the first column of the first row must equal it as
// text: "SELECT @@read_only" with Expect "0", or any site check). The whole
// check runs under one context.WithTimeout(Config.Timeout);
// go-sql-driver/mysql v1.9.3 honours that context during dial, handshake
// and query (its per-connection watcher closes the socket when the context
// ends), so a server that accepts TCP but never answers (mariadbd under
// SIGSTOP: the kernel still completes the TCP handshake) fails after about
// Timeout with class "timeout", and so does a query on a connection that
// was logged in before the server hung.
//
// # Which connection a check uses
//
// The checks keep the connection of their last successful check open and
// run the periodic checks (every Interval) on it, as the same session
// (same CONNECTION_ID). A check logs in on a new connection (TCP or unix
// socket, handshake, authentication) instead when:
//
//   - the kept connection is Config.FreshEvery old (default 10 s): the
//     periodic check after that opens a new one, which is then kept;
//   - something may be wrong: a failed check closes the kept connection,
//     so every check after it is fresh until one succeeds, exactly as when
//     every check was (the follow-ups of Fast detection among them); so
//     are the check the watched connection's loss starts and a requested
//     one (CheckNow). After an overload answer the periodic checks go on
//     logging in afresh (the kept connection is still too old) until one
//     gets in;
//   - the kept connection fails. A check that fails on it in any way but a
//     timeout is run again at once, within the same Timeout, on a new
//     connection, and only that one's outcome counts. A kept session can
//     end for reasons that say nothing about the server's health: a KILL
//     by a DBA or a tool, wait_timeout, a restart of mariadbd between two
//     checks. What matters is what a client connecting now gets: if the
//     new connection is refused or reset, the check fails as "refused" or
//     "closed" (dead at once, as always); if it succeeds, the server is
//     healthy and no failure is recorded. A timeout is not retried: its
//     time is spent, and a server that does not answer a logged-in
//     session does not answer a new one either;
//   - the DSN changed (Reconfigure): the old connection is closed.
//
// A new connection is opened while the kept one is still open, so that it
// meets max_connections as any new client would, not in the slot the
// checks just gave up. If the new one is answered with an overload (ERR
// 1040, 1203, 1226) the kept one stays open; any other failure closes both.
// When Interval is not below FreshEvery, every check is fresh and nothing
// is kept between checks.
//
// What only a new connection shows (accepting connections at all,
// authentication and grants, max_connections and user limits) is so seen
// at most FreshEvery late (plus Interval) while the kept session works.
// Why 10 s: at the default 500 ms interval it cuts the logins from 120 to
// 6 a minute, and with them most of the check's cost on an idle node (a
// login is a TCP handshake, the server's authentication and a thread or
// pool slot on the server; the query on an open session is one round
// trip). What it delays is not what a failover is for: a killed or
// restarting server breaks the kept session and the watched connection at
// once, a hung one stops answering the kept session as it does a new one,
// an overload is information only (it never moves the VIP), and a changed
// password or a dropped grant is an operator's change, shown within 10 s.
// The package keeps FreshEvery in Config for tests; the configuration file
// does not offer it, since no case so far needs another value.
//
// The checker's sessions are raftvip's user's: the keeper's
// KillClientSessions (on a release, a fence) spares them by user, so a
// fence does not cost the kept session. A KILL from elsewhere is recovered
// as above, without a failed check (TestRealMariaDBKeptConnection).
// wait_timeout shorter than Interval ends the kept session between checks:
// every check then finds it gone and logs in afresh (the old cost, no
// false verdict).

// # Failure model
//
// Every check ends in one of four outcomes, and each moves the verdict its
// own way (docs/health.md says the same for operators):
//
//   - Success: Class "ok" (and, with Config.Expect, the first value of the
//     first row equal to it).
//   - Dead (refused, closed: a connection reset or closed by the server, a
//     "server shutdown in progress" or "connection killed" error; also
//     unreachable, dns): nothing serves, and waiting will not make it
//     serve. (The kept connection found closed or killed is no verdict of
//     its own: the check's fresh retry decides, see above.) Such failures
//     are counted: Fall of them in a row turn the node
//     unhealthy, and they run back to back (25 ms apart), so with Fall = 2 a
//     killed server is unhealthy about 30 ms after its watched connection
//     closed. A wrong answer (auth, another server error, "unexpected":
//     Expect not met) counts the same way: the server answered, and the
//     answer says it may not serve.
//   - Not answering (timeout): the server may be hung (SIGSTOP, a stuck
//     disk), or only slow. A count of timeouts 25 ms apart measures
//     nothing, so timeouts are not counted: the node is unhealthy once
//     Config.FailAfter has passed without any success, counted from the
//     start of the first failed check of the run. While healthy, a check
//     may not run past that moment (it is cut to what is left of
//     FailAfter, see checkBound), so a longer Timeout does not delay the
//     verdict. A slow server whose checks still succeed within Timeout is
//     healthy, however slow.
//   - Overloaded (ERR 1040 Too many connections, 1203 max_user_connections,
//     1226 a user resource limit): the server is alive and refuses more
//     work. Class "overloaded", Status.Degraded set, the verdict unchanged:
//     a healthy node stays healthy (an unhealthy one does not rise on it).
//     Moving the VIP would hand the same connection storm to a cold
//     standby, and the failover that should not have happened is the worst
//     outage. An overload ends a run of failures (the server answered) and
//     is logged once when it starts and once when it ends.
//
// FailAfter defaults to 1 s (config's mysql.fail_after too). A hung server
// is first asked within Interval after it hung (config default 500 ms, so
// 250 ms later on average) and is unhealthy 1 s after that: 1.0–1.5 s in
// all, where two 1 s timeouts (fall = 2) took 2.0–2.5 s; what is left of
// 1.5 s is enough for the move (a killed server moves in 0.06 s). A server
// paused for 600 ms answers the check that waited on it 600 ms or less
// after it was asked, 400 ms inside FailAfter; pauses of that size
// (checkpoints, stalls, a short SIGSTOP) must not move the VIP.
//
// The checker starts unhealthy (Class "starting") and turns healthy after
// Rise consecutive successes, paced by Interval on purpose: Rise exists to
// demand stability over time. Changes() receives exactly one Status per
// flip (a reader that lags more than the buffer loses the oldest ones,
// never the latest).
//
// # Fast detection
//
// Two mechanisms make a dead server visible in milliseconds instead of
// Interval:
//
//   - Watched idle connection. Besides the checks, the checker holds one extra
//     authenticated connection that never carries a query. A goroutine blocks
//     in Read on its socket: an idle MySQL connection receives nothing unless
//     the server closes it (a killed mariadbd: FIN or RST) or sends a final
//     error packet, so any return from Read means "the server let go of us".
//     That immediately starts checks back to back until the verdict settles
//     (a success, an overload, or a failure that ends it). When the watched connection is lost it is
//     re-opened with a backoff bounded by Interval; a successful re-open while
//     unhealthy also asks for an immediate check, so recovery is quick too.
//
//     Why not poll(2) with POLLRDHUP in bounded slices through
//     SyscallConn().Control? A blocking Read on the dedicated connection is
//     equally fast and simpler: the Go runtime parks it in epoll, it wakes on
//     EOF, RST, socket error or data exactly like POLLRDHUP|POLLIN|POLLERR,
//     needs no thread sitting in poll(2), no wake-up slices and no
//     platform-specific code, and works for TCP and unix sockets alike.
//     Consuming bytes is harmless because that connection is never used for
//     anything else (the checks' kept connection is another one); it is
//     closed (COM_QUIT) and replaced after any event.
//     No keepalive pings are sent on it: if the server drops it for
//     wait_timeout, the resulting check succeeds at once and a new watched
//     connection is opened.
//
//   - Back-to-back follow-ups. When a check fails while healthy and the
//     failure does not end the verdict, the following checks run after a
//     short pause (settlePause, 25 ms) instead of Interval, so a dead server
//     is detected in about Fall × (check time), not Fall × Interval, and a
//     server that only missed one check gets every chance to answer within
//     FailAfter. An overload asks for no follow-up: the next check waits
//     Interval, so the checker adds no load to an overloaded server.
//
// A server that vanishes without closing anything (host power loss, network
// partition) is not seen by the watcher; the periodic check catches it as
// "timeout", and FailAfter decides.
//
// # Replication
//
// After a successful health query the checker reads, on the same
// connection and under its own Timeout, what matters for a master
// (Status.Replication): IO and SQL threads, seconds behind, the last IO and
// SQL errors, received and executed GTID positions (MariaDB Gtid_IO_Pos,
// @@gtid_slave_pos, @@gtid_binlog_pos; MySQL Retrieved_Gtid_Set,
// @@gtid_executed), read_only (and super_read_only on MySQL) and the
// semi-sync state where enabled. MySQL ≥ 8.0.22 is asked SHOW REPLICA
// STATUS, every other server SHOW SLAVE STATUS; columns are read by name
// and missing ones are listed in Replication.Missing. The verdict is
// recorded before replication is read, and nothing read there changes it
// (a failure goes into Replication.Error, e.g. a check user without
// MariaDB's SLAVE MONITOR or MySQL's REPLICATION CLIENT privilege).
// Only the default connection of a MariaDB multi-source replica is read.
//
// When it is read (replicationDue): a periodic check reads it once the last
// reading is Config.ReplicationInterval old (default 2 s; judged with half
// an Interval to spare, so at 500 ms it is every 4th check, not every 5th)
// while that reading is steady: no read error; for a replica the IO thread
// "Yes", the SQL thread running, 0 s behind (not NULL), no IO or SQL
// error; semi-sync active on each side where it is enabled. Every check
// reads it when there is no reading yet, when the last one is not steady,
// when the check is not periodic (a follow-up, a requested one, the
// watched connection's) and when the check changed the verdict. Between
// readings Status.Replication is the same pointer (the agent judges each
// reading once, by pointer) and its ReadAt stays the time of the reading.
//
// Why: measured against a local MariaDB 10.11 replica
// (TestRealMariaDBReplication), a check takes about 0.5 ms alone and
// 1.3–1.4 ms with the replication read (two or three more round trips:
// SHOW GLOBAL VARIABLES, SHOW GLOBAL STATUS with semi-sync, SHOW SLAVE
// STATUS), about half of an idle db node's check cost (issue 11). What it
// costs: a steady replication that breaks (a thread stops, an error, a lag)
// is seen up to ReplicationInterval later, and the agent's ReplDownSince
// is that much late; from then on it is read on every check until it is
// steady again, so its repair, and any further change, is seen at once.
// Why 2 s: a quarter of the checks at the default 500 ms interval, and far
// below failover.max_lag (10 s), which decides what a late reading could
// change. A server that stopped answering keeps its last reading (checks
// that fail read nothing); status calls it old after twice ReplicationInterval
// (Replication.ReadEvery) plus 1 s.
//
// # Write fencing and positions (Admin)
//
// Admin is what the agent does to its own server besides checking it
// (agent.DB): read_only (and super_read_only on MySQL), killing client
// sessions (all but raftvip's user, replication threads and daemons), GTID
// positions, waiting for a position to be applied (MASTER_GTID_WAIT,
// WAIT_FOR_EXECUTED_GTID_SET) and the fence table. It uses the checker's
// DSN with a pool of its own (at most 2 connections); every call is
// bounded, so a frozen server cannot hold one. TestRealMariaDBAdmin runs
// it on a real dual-master MariaDB pair as raftvip's user with
// docs/replication.md's privileges. MariaDBErrant and MySQLErrant compare
// positions to find what an old master wrote that the new holder never
// received.
//
// # Limits
//
// The checker installs its own dial function (to capture the watched
// connection's socket), which dials the DSN's "tcp"/"unix" address with
// net.Dialer; networks registered with mysql.RegisterDialContext are not
// used. TLS from the DSN still applies on top of that socket.
//
// # Secrets
//
// Config.DSN contains the password. It is never logged or returned: errors
// from New show the DSN through Redact, and every error text that reaches a
// log or Status.Error is scrubbed of the password.
package mysqlcheck
