package admin

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// maxSunPath is the longest unix socket path Linux takes (sun_path less NUL).
const maxSunPath = 107

// listenPrivate creates the socket at path already with its final mode and
// group: it is bound inside a fresh directory of mode 0700, given mode 0600
// (0660 and group gid when gid >= 0), and only then renamed into place, so
// there is no moment at which another user could connect to a socket that
// is still open to all. A bind right at path would create it by the
// process's umask, open until a chmod.
func listenPrivate(path string, gid int) (*net.UnixListener, error) {
	mode := os.FileMode(0o600)
	if gid >= 0 {
		mode = 0o660
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".")
	if err != nil {
		return nil, fmt.Errorf("admin: private directory for %s: %w", path, err)
	}
	defer os.Remove(dir)
	tmp := filepath.Join(dir, "s")
	if len(tmp) > maxSunPath {
		return listenUmask(path, gid, mode)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("admin: listen on %s: %w", path, err)
	}
	// The socket moves away from tmp: Close must not unlink whatever is
	// at tmp then; Server.Close removes path.
	ln.SetUnlinkOnClose(false)
	if err := setMode(tmp, gid, mode); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("admin: %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("admin: move socket into place at %s: %w", path, err)
	}
	return ln, nil
}

// listenUmask is for a path too long to take a private directory's name on
// top: bind under a umask that leaves nothing for group and others. The
// umask is the process's, so a file another goroutine creates meanwhile is
// at most more private than it asked for.
func listenUmask(path string, gid int, mode os.FileMode) (*net.UnixListener, error) {
	old := syscall.Umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("admin: listen on %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(false)
	if err := setMode(path, gid, mode); err != nil {
		ln.Close()
		os.Remove(path)
		return nil, fmt.Errorf("admin: %s: %w", path, err)
	}
	return ln, nil
}

func setMode(path string, gid int, mode os.FileMode) error {
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			return fmt.Errorf("give the socket to admin_group (gid %d): %w", gid, err)
		}
	}
	return os.Chmod(path, mode)
}

type credKey struct{}

// credListener serves at most cap(sem) connections at once and notes each
// connection's peer credentials (SO_PEERCRED: the connecting process's
// uid, gid and pid, as the kernel saw them at connect).
type credListener struct {
	*net.UnixListener
	sem       chan struct{}
	log       hclog.Logger
	closeOnce sync.Once
	done      chan struct{}
	initOnce  sync.Once
}

func (l *credListener) init() { l.initOnce.Do(func() { l.done = make(chan struct{}) }) }

func (l *credListener) Accept() (net.Conn, error) {
	l.init()
	// Wait for a free slot before accepting: excess clients wait in the
	// kernel's backlog, not in goroutines of ours.
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.UnixListener.AcceptUnix()
	if err != nil {
		<-l.sem
		return nil, err
	}
	cc := &credConn{UnixConn: c, release: func() { <-l.sem }}
	if raw, err := c.SyscallConn(); err == nil {
		var cerr error
		_ = raw.Control(func(fd uintptr) { cc.cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
		if cerr != nil {
			cc.cred = nil
			l.log.Warn("no peer credentials for an admin connection", "error", cerr)
		}
	}
	return cc, nil
}

func (l *credListener) Close() error {
	l.init()
	l.closeOnce.Do(func() { close(l.done) })
	err := l.UnixListener.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

type credConn struct {
	*net.UnixConn
	cred    *unix.Ucred
	once    sync.Once
	release func()
}

func (c *credConn) Close() error {
	c.once.Do(c.release)
	return c.UnixConn.Close()
}
