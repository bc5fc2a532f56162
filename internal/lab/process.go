package lab

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a program the lab started inside a host's namespace with
// `ip netns exec NS argv...`. ip execs the program in place, so Pid is the
// program itself and signals reach it directly.
type Process struct {
	Name    string // e.g. "mariadbd@a"
	NS      string
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}

	mu      sync.Mutex
	waitErr error
	paused  bool
}

// startProcess starts argv in namespace ns, appending stdout and stderr to
// logPath (restarts of the same program share one log, with a marker line).
func startProcess(name, ns, logPath string, argv ...string) (*Process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: open log: %w", name, err)
	}
	defer f.Close() // the child has its own copy of the descriptor
	fmt.Fprintf(f, "=== lab: %s starting in %s at %s: %s ===\n",
		name, ns, time.Now().Format(timeFmt), strings.Join(argv, " "))

	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Own process group: a Ctrl-C in the terminal reaches only the lab,
		// which then tears things down in order.
		Setpgid: true,
		// If the lab dies without tearing down, its children do not linger.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s in %s: %w", name, ns, err)
	}
	p := &Process{Name: name, NS: ns, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id of the program.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitErr is the result of wait once the process has ended.
func (p *Process) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// Signal sends sig to the program (not to its children).
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("signal %v to %s (pid %d): already exited", sig, p.Name, p.Pid())
	}
	if err := syscall.Kill(p.Pid(), sig); err != nil {
		return fmt.Errorf("signal %v to %s (pid %d): %w", sig, p.Name, p.Pid(), err)
	}
	p.mu.Lock()
	switch sig {
	case syscall.SIGSTOP:
		p.paused = true
	case syscall.SIGCONT:
		p.paused = false
	}
	p.mu.Unlock()
	return nil
}

// Kill sends SIGKILL and waits until the process is gone.
func (p *Process) Kill() error {
	if p.Exited() {
		return nil
	}
	if err := p.Signal(syscall.SIGKILL); err != nil && !p.Exited() {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("kill %s (pid %d): still running 10s after SIGKILL", p.Name, p.Pid())
	}
}

// Pause stops the process with SIGSTOP (a hang: it keeps its sockets).
func (p *Process) Pause() error { return p.Signal(syscall.SIGSTOP) }

// Resume continues a paused process with SIGCONT.
func (p *Process) Resume() error { return p.Signal(syscall.SIGCONT) }

// Paused reports whether the lab last sent SIGSTOP without SIGCONT.
func (p *Process) Paused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused
}

// Stop ends the process politely: SIGCONT (a paused process cannot act on
// SIGTERM), SIGTERM, then SIGKILL after grace. Children the program forked
// (keepalived's VRRP process) are killed too if they outlive it.
func (p *Process) Stop(grace time.Duration) error {
	if p.Exited() {
		return nil
	}
	kids := descendants(p.Pid())
	_ = syscall.Kill(p.Pid(), syscall.SIGCONT)
	_ = syscall.Kill(p.Pid(), syscall.SIGTERM)
	var err error
	select {
	case <-p.done:
	case <-time.After(grace):
		err = p.Kill()
	}
	for _, pid := range kids {
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return err
}

// descendants lists the pids whose parent chain leads to pid, read from
// /proc, so that teardown can reach processes a lab process forked.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := ppidOf(n); ok {
			parent[n] = pp
		}
	}
	var out []int
	for n := range parent {
		for p, depth := parent[n], 0; depth < 16; p, depth = parent[p], depth+1 {
			if p == pid {
				out = append(out, n)
				break
			}
			if p <= 1 {
				break
			}
		}
	}
	return out
}

func ppidOf(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name may contain spaces; fields resume after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// TailFile returns up to n last lines of a file, for failure reports.
func TailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 4*n {
			lines = append([]string(nil), lines[len(lines)-n:]...)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

const timeFmt = "15:04:05.000"
