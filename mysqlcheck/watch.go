package mysqlcheck

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"
)

// watchMinBackoff is the first pause before re-opening a lost watched
// connection; the pause doubles up to Interval while re-opening fails or the
// new connection dies young.
const watchMinBackoff = 100 * time.Millisecond

// watch keeps one idle, authenticated connection to the server and turns
// its loss into an immediate check (see the package documentation).
func (c *Checker) watch(ctx context.Context) {
	minBackoff := min(watchMinBackoff, c.conf().Interval)
	backoff := minBackoff
	lost := false // the server was unreachable or dropped us since the last open
	for {
		select {
		case <-c.reopen: // this open uses the current target anyway
		default:
		}
		conn, raw, err := c.openWatched(ctx)
		if ctx.Err() != nil {
			if conn != nil {
				conn.Close()
			}
			return
		}
		if err != nil {
			c.log.Debug("watched connection: open failed", "server", c.target().addr, "class", Classify(err),
				"error", c.scrub(err.Error()), "retry_in", backoff)
			lost = true
			if !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, c.conf().Interval)
			continue
		}
		c.log.Debug("watched connection: open", "server", c.target().addr, "local", raw.LocalAddr().String())
		if lost && !c.Current().Healthy {
			// The server accepts us again: find out now rather than at
			// the next Interval.
			c.CheckNow()
		}
		opened := time.Now()
		reason := c.waitClosed(ctx, conn, raw)
		if ctx.Err() != nil {
			return
		}
		lived := time.Since(opened)
		c.log.Debug("watched connection: lost", "server", c.target().addr, "reason", reason, "lived", lived)
		select {
		case c.watchEvents <- struct{}{}:
		default: // an event is already pending
		}
		lost = true
		// A connection that lived a whole Interval was a normal one: retry
		// quickly. One that died young (a server dropping us right after
		// login) must not turn into a hot loop of checks.
		if lived >= c.conf().Interval {
			backoff = minBackoff
		}
		if !sleepCtx(ctx, backoff) {
			return
		}
		backoff = min(backoff*2, c.conf().Interval)
	}
}

// openWatched opens a connection through the driver (handshake and login,
// bounded by Timeout) and returns it with its captured raw socket.
func (c *Checker) openWatched(ctx context.Context) (driver.Conn, net.Conn, error) {
	capture := &capturedConn{}
	octx, cancel := context.WithTimeout(context.WithValue(ctx, captureKey{}, capture), c.conf().Timeout)
	defer cancel()
	conn, err := c.target().connector.Connect(octx)
	if err != nil {
		return nil, nil, err
	}
	// DialFunc runs synchronously inside Connect, so capture is set here.
	if capture.conn == nil {
		conn.Close()
		return nil, nil, errors.New("dialer did not capture the watched connection")
	}
	return conn, capture.conn, nil
}

// waitClosed blocks until the server closes (or writes to) the idle
// connection, or ctx ends; either way the connection is closed on return.
// The reason returned is for logs.
func (c *Checker) waitClosed(ctx context.Context, conn driver.Conn, raw net.Conn) string {
	result := make(chan string, 1)
	go func() {
		// Reading is safe: this connection never carries a command, so
		// every byte is unsolicited and the connection is dropped anyway.
		var buf [512]byte
		n, err := raw.Read(buf[:])
		if n > 0 {
			result <- c.scrub(describeUnsolicited(buf[:n]))
			return
		}
		result <- Classify(err) + ": " + c.scrub(err.Error())
	}()
	select {
	case <-ctx.Done():
		conn.Close() // COM_QUIT, then close: unblocks the Read
		raw.Close()  // in case the driver considered itself closed already
		<-result
		return "shutdown"
	case <-c.reopen:
		conn.Close()
		raw.Close()
		<-result
		return "DSN changed: reopening with the new one"
	case reason := <-result:
		conn.Close()
		raw.Close()
		return reason
	}
}

// describeUnsolicited names what a server sent on an idle connection:
// normally an ERR packet just before it closes (shutdown, idle timeout).
func describeUnsolicited(data []byte) string {
	// 4-byte packet header, 0xff, error number, '#' + SQLSTATE, message.
	if len(data) >= 7 && data[4] == 0xff {
		errno := binary.LittleEndian.Uint16(data[5:7])
		msg := data[7:]
		if len(msg) >= 6 && msg[0] == '#' {
			msg = msg[6:]
		}
		if len(msg) > 120 {
			msg = msg[:120]
		}
		return fmt.Sprintf("server sent error %d: %q", errno, msg)
	}
	return fmt.Sprintf("server sent %d unsolicited bytes", len(data))
}

// sleepCtx waits for d or ctx; it reports whether ctx is still alive.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
