package mysqlcheck

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeMode selects how the fake server treats new connections.
type fakeMode int32

const (
	modeOK         fakeMode = iota // handshake, accept any login, answer queries with one row
	modeHang                       // accept TCP, never send the handshake (SIGSTOPped server)
	modeAuthFail                   // handshake, then ERR 1045 for the login
	modeTooMany                    // ERR 1040 instead of the handshake
	modeCloseEarly                 // accept and close at once
	modeReset                      // accept and reset the connection (RST: SO_LINGER 0)
	modeUserConns                  // handshake, then ERR 1203 max_user_connections for the login
	modeUserLimit                  // handshake, then ERR 1226 resource limit for the login
)

// fakeServer is the smallest MySQL protocol-10 server go-sql-driver accepts:
// mysql_native_password login (not verified), COM_QUERY answered with a
// single-column, single-row result, COM_PING, COM_QUIT.
type fakeServer struct {
	t    *testing.T
	ln   net.Listener
	addr string
	mode atomic.Int32

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	// queried are the open connections that have carried a COM_QUERY:
	// the checks' connections, not the watched one.
	queried map[net.Conn]bool
	killed  bool
	wg      sync.WaitGroup

	// answers are scripted results by query prefix (see answer); any
	// other query gets the result of "SELECT 1".
	answers map[string]fakeResult

	queryLog []string // every COM_QUERY, in order (under mu)

	// queryDelay (nanoseconds) is how long every COM_QUERY waits before
	// its answer: a slow, saturated server.
	queryDelay atomic.Int64

	logins  atomic.Int64 // successful logins so far
	authed  atomic.Int64 // logged-in connections currently open
	queries atomic.Int64
}

func startFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fake server: listen: %v", err)
	}
	fs := &fakeServer{t: t, ln: ln, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}, queried: map[net.Conn]bool{}}
	fs.wg.Add(1)
	go fs.serve()
	t.Cleanup(fs.Kill)
	return fs
}

func (fs *fakeServer) setMode(m fakeMode) { fs.mode.Store(int32(m)) }

func (fs *fakeServer) serve() {
	defer fs.wg.Done()
	for {
		conn, err := fs.ln.Accept()
		if err != nil {
			return
		}
		fs.mu.Lock()
		if fs.killed {
			fs.mu.Unlock()
			conn.Close()
			return
		}
		fs.conns[conn] = struct{}{}
		fs.wg.Add(1)
		fs.mu.Unlock()
		go func() {
			defer fs.wg.Done()
			defer func() {
				fs.mu.Lock()
				delete(fs.conns, conn)
				delete(fs.queried, conn)
				fs.mu.Unlock()
				conn.Close()
			}()
			fs.handle(conn, fakeMode(fs.mode.Load()))
		}()
	}
}

// Kill behaves like SIGKILL of mariadbd: the port is closed (new connections
// are refused) and every open connection is closed.
func (fs *fakeServer) Kill() {
	fs.mu.Lock()
	fs.killed = true
	fs.ln.Close()
	for c := range fs.conns {
		c.Close()
	}
	fs.mu.Unlock()
	fs.wg.Wait()
}

// DropQueried closes the open connections that have run a query (the
// checks' kept connection) and returns how many; the watched connection
// stays open: a session of the checks KILLed, or timed out.
func (fs *fakeServer) DropQueried() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := 0
	for c := range fs.queried {
		c.Close()
		n++
	}
	return n
}

// DropConns closes every open connection but keeps accepting new ones.
func (fs *fakeServer) DropConns() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for c := range fs.conns {
		c.Close()
	}
}

func (fs *fakeServer) handle(conn net.Conn, mode fakeMode) {
	r := bufio.NewReader(conn)
	switch mode {
	case modeHang:
		io.Copy(io.Discard, r) // until the client gives up and closes
		return
	case modeCloseEarly:
		return
	case modeReset:
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // Close sends RST instead of FIN
		}
		return
	case modeTooMany:
		writePacket(conn, 0, errPacket(1040, "08004", "Too many connections"))
		return
	}
	if err := writePacket(conn, 0, handshakePacket()); err != nil {
		return
	}
	if _, _, err := readPacket(r); err != nil { // HandshakeResponse41, not verified
		return
	}
	switch mode {
	case modeAuthFail:
		writePacket(conn, 2, errPacket(1045, "28000", "Access denied for user 'checker'@'localhost' (using password: YES)"))
		return
	case modeUserConns:
		writePacket(conn, 2, errPacket(1203, "42000", "User checker already has more than 'max_user_connections' active connections"))
		return
	case modeUserLimit:
		writePacket(conn, 2, errPacket(1226, "42000", "User 'checker' has exceeded the 'max_user_connections' resource (current value: 2)"))
		return
	}
	if err := writePacket(conn, 2, okPacket()); err != nil {
		return
	}
	fs.logins.Add(1)
	fs.authed.Add(1)
	defer fs.authed.Add(-1)
	for {
		_, cmd, err := readPacket(r)
		if err != nil || len(cmd) == 0 {
			return
		}
		switch cmd[0] {
		case 0x01: // COM_QUIT
			return
		case 0x0e: // COM_PING
			if writePacket(conn, 1, okPacket()) != nil {
				return
			}
		case 0x03: // COM_QUERY
			if d := fs.queryDelay.Load(); d > 0 {
				time.Sleep(time.Duration(d))
			}
			fs.queries.Add(1)
			fs.mu.Lock()
			fs.queried[conn] = true
			fs.queryLog = append(fs.queryLog, string(cmd[1:]))
			fs.mu.Unlock()
			if res, ok := fs.lookup(string(cmd[1:])); ok {
				if res.errCode != 0 {
					if writePacket(conn, 1, errPacket(res.errCode, "42000", res.errMsg)) != nil {
						return
					}
					continue
				}
				if writeTextResult(conn, res) != nil {
					return
				}
				continue
			}
			if writeResultSet(conn) != nil {
				return
			}
		default:
			if writePacket(conn, 1, errPacket(1047, "08S01", "Unknown command")) != nil {
				return
			}
		}
	}
}

// fakeResult is a scripted answer: text columns and rows (nil cell =
// NULL), or an error when errCode is set.
type fakeResult struct {
	cols    []string
	rows    [][]*string
	errCode uint16
	errMsg  string
}

// answer scripts the result of queries starting with prefix. Call it
// before the queries run.
func (fs *fakeServer) answer(prefix string, res fakeResult) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.answers == nil {
		fs.answers = map[string]fakeResult{}
	}
	fs.answers[prefix] = res
}

// queriesSeen returns the queries received so far and forgets them.
func (fs *fakeServer) queriesSeen() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	q := fs.queryLog
	fs.queryLog = nil
	return q
}

func (fs *fakeServer) lookup(query string) (fakeResult, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	best, found := "", false
	var res fakeResult
	for p, r := range fs.answers {
		if strings.HasPrefix(query, p) && len(p) >= len(best) {
			best, res, found = p, r, true
		}
	}
	return res, found
}

// writeTextResult sends res as a text-protocol result set of VARCHARs.
func writeTextResult(w io.Writer, res fakeResult) error {
	lenenc := func(p []byte, s string) []byte { return append(append(p, byte(len(s))), s...) }
	seq := byte(1)
	send := func(p []byte) error {
		err := writePacket(w, seq, p)
		seq++
		return err
	}
	if err := send([]byte{byte(len(res.cols))}); err != nil {
		return err
	}
	for _, name := range res.cols {
		var col []byte
		for _, s := range []string{"def", "", "", "", name, name} {
			col = lenenc(col, s)
		}
		col = append(col, 0x0c, 45, 0) // fixed-length fields, utf8mb4
		col = binary.LittleEndian.AppendUint32(col, 1024)
		col = append(col, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00) // VAR_STRING, no flags, decimals, filler
		if err := send(col); err != nil {
			return err
		}
	}
	if err := send(eofPacket()); err != nil {
		return err
	}
	for _, row := range res.rows {
		var p []byte
		for _, cell := range row {
			if cell == nil {
				p = append(p, 0xfb)
				continue
			}
			if len(*cell) > 250 {
				return errors.New("fake server: cell too long")
			}
			p = lenenc(p, *cell)
		}
		if err := send(p); err != nil {
			return err
		}
	}
	return send(eofPacket())
}

func handshakePacket() []byte {
	const (
		capLow  = 0x0001 | 0x0200 | 0x2000 | 0x8000 // LONG_PASSWORD, PROTOCOL_41, TRANSACTIONS, SECURE_CONNECTION
		capHigh = 0x0008                            // PLUGIN_AUTH (bit 19)
	)
	p := []byte{10}
	p = append(p, "5.5.5-10.11.0-fake\x00"...)
	p = binary.LittleEndian.AppendUint32(p, 7) // connection id
	p = append(p, "abcdefgh"...)               // scramble, part 1
	p = append(p, 0)
	p = binary.LittleEndian.AppendUint16(p, capLow)
	p = append(p, 45)                          // utf8mb4_general_ci
	p = binary.LittleEndian.AppendUint16(p, 2) // SERVER_STATUS_AUTOCOMMIT
	p = binary.LittleEndian.AppendUint16(p, capHigh)
	p = append(p, 21) // scramble length
	p = append(p, make([]byte, 10)...)
	p = append(p, "ijklmnopqrst\x00"...) // scramble, part 2
	p = append(p, "mysql_native_password\x00"...)
	return p
}

func okPacket() []byte { return []byte{0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00} }

func eofPacket() []byte { return []byte{0xfe, 0x00, 0x00, 0x02, 0x00} }

func errPacket(code uint16, state, msg string) []byte {
	p := []byte{0xff}
	p = binary.LittleEndian.AppendUint16(p, code)
	p = append(p, '#')
	p = append(p, state...)
	return append(p, msg...)
}

// writeResultSet answers any query with the result of "SELECT 1".
func writeResultSet(w io.Writer) error {
	lenenc := func(p []byte, s string) []byte { return append(append(p, byte(len(s))), s...) }
	var col []byte
	for _, s := range []string{"def", "", "", "", "1", ""} { // catalog, schema, table, org_table, name, org_name
		col = lenenc(col, s)
	}
	col = append(col, 0x0c, 63, 0) // fixed-length fields, binary charset
	col = binary.LittleEndian.AppendUint32(col, 1)
	col = append(col, 0x08, 0x81, 0x00, 0x00, 0x00, 0x00) // LONGLONG, NOT_NULL|BINARY, decimals, filler
	for i, p := range [][]byte{{0x01}, col, eofPacket(), lenenc(nil, "1"), eofPacket()} {
		if err := writePacket(w, byte(i+1), p); err != nil {
			return err
		}
	}
	return nil
}

func writePacket(w io.Writer, seq byte, payload []byte) error {
	hdr := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}
	_, err := w.Write(append(hdr, payload...))
	return err
}

func readPacket(r io.Reader) (byte, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	if n > 1<<20 {
		return 0, nil, errors.New("fake server: packet too large")
	}
	payload := make([]byte, n)
	_, err := io.ReadFull(r, payload)
	return hdr[3], payload, err
}
