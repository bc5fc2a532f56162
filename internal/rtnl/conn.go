// Package rtnl is the little of rtnetlink (NETLINK_ROUTE) that the raftvip
// agent needs: look a link up by name, add or replace, delete and list IPv4
// addresses.
//
// It replaces github.com/vishvananda/netlink in the agent for two reasons:
// that package's text, tables and rodata are several hundred KB of a binary
// that counts almost whole in the agent's RSS, and its package-level
// functions open, bind and close a new socket for every call, five times a
// second for an idle leader's renewals. A Conn is one socket, opened once and
// reused.
//
// A Conn's socket belongs to the network namespace of the thread that calls
// Dial; afterwards it works from any goroutine.
package rtnl

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultTimeout bounds the wait for each answer of the kernel.
//
// rtnetlink runs a request inside sendto, in the sender's context: its
// answer is queued on the socket before sendto returns, so any wait in
// recvfrom means the answer is lost (dropped because the receive buffer was
// full, say) and would never come. Without a bound the caller would wait
// forever. No socket option bounds sendto itself while another task holds
// the kernel's rtnl lock; that wait ends when the lock is released.
const DefaultTimeout = 2 * time.Second

// ErrDumpInterrupted is returned by Addrs when the kernel flagged the dump
// as interrupted (NLM_F_DUMP_INTR): the list changed while it was being
// read, so what was read may be incomplete. Ask again.
var ErrDumpInterrupted = errors.New("rtnl: dump interrupted by a concurrent change; retry")

// LinkNotFoundError is returned by LinkIndex when no interface has the name.
// It unwraps to ENODEV, the kernel's answer.
type LinkNotFoundError struct {
	Name string
}

func (e *LinkNotFoundError) Error() string { return "rtnl: no link named " + e.Name }
func (e *LinkNotFoundError) Unwrap() error { return unix.ENODEV }

// Conn is one NETLINK_ROUTE socket. Its methods may be called from several
// goroutines: one request is on the socket at a time.
type Conn struct {
	timeout time.Duration

	mu     sync.Mutex // everything below
	fd     int        // -1 once closed
	pid    uint32     // the port id the kernel gave the socket
	seq    uint32
	rbuf   []byte // one datagram
	wbuf   []byte // one request
	closed bool
}

// rbufLen is the receive buffer. The kernel sizes the datagrams of a dump
// after the largest buffer a reader has offered, up to 32 KiB, and one
// datagram must fit whole (a longer one is truncated and reported as an
// error).
const rbufLen = 32 << 10

// Dial opens a NETLINK_ROUTE socket in the calling thread's network
// namespace.
func Dial() (*Conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("rtnl: socket: %w", err)
	}
	c := &Conn{fd: fd, rbuf: make([]byte, rbufLen)}
	if err := c.setup(); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return c, nil
}

func (c *Conn) setup() error {
	// Port id 0: the kernel picks a free one; read it back to check that
	// replies are addressed to us.
	if err := unix.Bind(c.fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("rtnl: bind: %w", err)
	}
	sa, err := unix.Getsockname(c.fd)
	if err != nil {
		return fmt.Errorf("rtnl: getsockname: %w", err)
	}
	nsa, ok := sa.(*unix.SockaddrNetlink)
	if !ok {
		return fmt.Errorf("rtnl: getsockname: %T, want a netlink address", sa)
	}
	c.pid = nsa.Pid
	// A blocking socket with a receive timeout, not the runtime's poller:
	// the answer is normally there when recvfrom starts (see
	// DefaultTimeout), so the poller would only add wake-ups.
	return c.setTimeout(DefaultTimeout)
}

func (c *Conn) setTimeout(d time.Duration) error {
	tv := unix.NsecToTimeval(d.Nanoseconds())
	if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("rtnl: SO_RCVTIMEO: %w", err)
	}
	c.timeout = d
	return nil
}

// Close closes the socket. Later calls fail with os.ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	fd := c.fd
	c.fd = -1
	return unix.Close(fd)
}

// LinkIndex returns the index of the interface called name (or having it as
// alternative name), looked up now: an interface that was deleted and
// created again has a new index.
func (c *Conn) LinkIndex(name string) (int, error) {
	req := LinkMessage{Family: unix.AF_UNSPEC}
	if len(name) < unix.IFNAMSIZ {
		req.Name = name
	} else {
		req.AltName = name
	}
	body, err := req.MarshalBinary()
	if err != nil {
		return 0, err
	}
	var index int
	// No NLM_F_ACK: the link itself is the answer, and an ack after it would
	// cost a second recvfrom.
	err = c.execute(unix.RTM_GETLINK, 0, body, answerOne, func(m Message) error {
		if m.Header.Type != unix.RTM_NEWLINK {
			return fmt.Errorf("rtnl: RTM_GETLINK %s answered with message type %d", name, m.Header.Type)
		}
		var lm LinkMessage
		if err := lm.UnmarshalBinary(m.Data); err != nil {
			return err
		}
		index = int(lm.Index)
		return nil
	})
	if errors.Is(err, unix.ENODEV) {
		return 0, &LinkNotFoundError{Name: name}
	}
	return index, err
}

// ReplaceAddr adds the address or, if the interface already has it (same
// local address and prefix length), overwrites its attributes, lifetimes
// included: RTM_NEWADDR with NLM_F_CREATE|NLM_F_REPLACE.
func (c *Conn) ReplaceAddr(a AddrMessage) error {
	body, err := a.MarshalBinary()
	if err != nil {
		return err
	}
	return c.execute(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_REPLACE|unix.NLM_F_ACK, body, answerAck, nil)
}

// DeleteAddr deletes the address: RTM_DELADDR. An absent one fails with
// EADDRNOTAVAIL.
func (c *Conn) DeleteAddr(a AddrMessage) error {
	body, err := a.MarshalBinary()
	if err != nil {
		return err
	}
	return c.execute(unix.RTM_DELADDR, unix.NLM_F_ACK, body, answerAck, nil)
}

// Addrs lists the addresses of family (unix.AF_INET...) on the interface
// with the given index, or on all interfaces if index is 0. If the kernel
// flags the dump as interrupted it returns what it read and
// ErrDumpInterrupted.
func (c *Conn) Addrs(family uint8, index int) ([]AddrMessage, error) {
	req := AddrMessage{Family: family}
	body, err := req.MarshalBinary()
	if err != nil {
		return nil, err
	}
	var out []AddrMessage
	err = c.execute(unix.RTM_GETADDR, unix.NLM_F_DUMP, body, answerDump, func(m Message) error {
		if m.Header.Type != unix.RTM_NEWADDR {
			return nil
		}
		var a AddrMessage
		if err := a.UnmarshalBinary(m.Data); err != nil {
			return err
		}
		// The kernel filters a dump by family, but by interface only with
		// NETLINK_GET_STRICT_CHK; filtering here works on any kernel.
		if a.Family == family && (index == 0 || a.Index == uint32(index)) {
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

// answer says what ends a request's exchange.
type answer int

const (
	answerAck  answer = iota // NLMSG_ERROR (0 for success)
	answerOne                // one message, or NLMSG_ERROR
	answerDump               // NLMSG_DONE (or NLMSG_ERROR)
)

// execute sends one request and hands each message of its answer to fn.
// A netlink error is returned as the bare errno (unix.Errno), so that
// errors.Is(err, unix.EEXIST) and friends work and the text is the
// kernel's.
func (c *Conn) execute(typ, flags uint16, body []byte, ans answer, fn func(Message) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("rtnl: %w", os.ErrClosed)
	}
	c.seq++
	seq := c.seq
	req := Message{Header: Header{Type: typ, Flags: flags | unix.NLM_F_REQUEST, Sequence: seq}, Data: body}
	c.wbuf = req.appendTo(c.wbuf[:0])
	if err := c.send(c.wbuf); err != nil {
		return err
	}
	deadline := time.Now().Add(c.timeout)
	x := exchange{seq: seq, pid: c.pid, ans: ans, fn: fn}
	for {
		msgs, err := c.receive(deadline)
		if err != nil {
			return err
		}
		if done, err := x.feed(msgs); done {
			return err
		}
	}
}

// exchange is the state of one request's answer, apart from the socket so
// that its rules can be tested on crafted messages.
type exchange struct {
	seq, pid    uint32
	ans         answer
	fn          func(Message) error
	interrupted bool
	fnErr       error // the first; a dump is still read to its end
}

// feed takes the messages of one datagram and says whether the answer is
// complete, and then with what error.
func (x *exchange) feed(msgs []Message) (done bool, err error) {
	for _, m := range msgs {
		// An answer to an earlier request that timed out, or anything not
		// addressed to this request: not ours.
		if m.Header.Sequence != x.seq || m.Header.PID != x.pid {
			continue
		}
		if m.Header.Flags&unix.NLM_F_DUMP_INTR != 0 {
			x.interrupted = true
		}
		switch m.Header.Type {
		case unix.NLMSG_NOOP:
			continue
		case unix.NLMSG_ERROR:
			// struct nlmsgerr: a negative errno (0 is the ack), then the
			// request's header.
			if len(m.Data) < 4 {
				return true, fmt.Errorf("%w: NLMSG_ERROR of %d bytes", errShort, len(m.Data))
			}
			if e := int32(ne.Uint32(m.Data[0:4])); e != 0 {
				return true, unix.Errno(-e)
			}
			return true, x.fnErr
		case unix.NLMSG_DONE:
			// The payload of DONE carries the dump's error, if any.
			if len(m.Data) >= 4 {
				if e := int32(ne.Uint32(m.Data[0:4])); e < 0 {
					return true, unix.Errno(-e)
				}
			}
			if x.fnErr == nil && x.interrupted {
				return true, ErrDumpInterrupted
			}
			return true, x.fnErr
		case unix.NLMSG_OVERRUN:
			return true, fmt.Errorf("rtnl: %w", unix.ENOBUFS)
		}
		if x.fnErr == nil && x.fn != nil {
			x.fnErr = x.fn(m)
		}
		if x.ans == answerOne {
			return true, x.fnErr
		}
	}
	return false, nil
}

func (c *Conn) send(b []byte) error {
	for {
		err := unix.Sendto(c.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("rtnl: send: %w", err)
		}
		return nil
	}
}

// receive reads one datagram and splits it into messages (which alias
// c.rbuf until the next receive). Datagrams from anyone but the kernel are
// dropped.
func (c *Conn) receive(deadline time.Time) ([]Message, error) {
	for {
		// MSG_TRUNC: n is the datagram's real length, so a truncated one is
		// seen rather than parsed as a broken message.
		n, from, err := unix.Recvfrom(c.fd, c.rbuf, unix.MSG_TRUNC)
		switch {
		case err == unix.EAGAIN || err == unix.EWOULDBLOCK:
			return nil, fmt.Errorf("rtnl: no answer from the kernel within %s: %w", c.timeout, os.ErrDeadlineExceeded)
		case err == unix.EINTR:
			// SO_RCVTIMEO starts again after a signal: bound the total.
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("rtnl: no answer from the kernel within %s: %w", c.timeout, os.ErrDeadlineExceeded)
			}
			continue
		case err != nil:
			return nil, fmt.Errorf("rtnl: receive: %w", err)
		case n > len(c.rbuf):
			return nil, fmt.Errorf("rtnl: receive: datagram of %d bytes is larger than the %d-byte buffer", n, len(c.rbuf))
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("rtnl: no answer from the kernel within %s: %w", c.timeout, os.ErrDeadlineExceeded)
			}
			continue
		}
		return parseMessages(c.rbuf[:n])
	}
}
