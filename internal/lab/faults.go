package lab

import (
	"context"
	"fmt"
)

// The fault helpers below act on the process the lab started on a host and
// leave a note in the lab's timeline.

func (l *Lab) mariadbOf(host string) (*MariaDB, error) {
	m := l.MariaDB(host)
	if m == nil {
		return nil, fmt.Errorf("lab: no MariaDB on %q", host)
	}
	return m, nil
}

func (l *Lab) agentOf(host string) (*Agent, error) {
	a := l.Agent(host)
	if a == nil {
		return nil, fmt.Errorf("lab: no raftvip agent on %q", host)
	}
	return a, nil
}

// KillMySQL sends SIGKILL to host's mariadbd.
func (l *Lab) KillMySQL(host string) error {
	m, err := l.mariadbOf(host)
	if err != nil {
		return err
	}
	l.note("fault", "mariadbd killed (SIGKILL)", "host", m.Host.NodeID)
	return m.Kill()
}

// HangMySQL sends SIGSTOP to host's mariadbd.
func (l *Lab) HangMySQL(host string) error {
	m, err := l.mariadbOf(host)
	if err != nil {
		return err
	}
	l.note("fault", "mariadbd hung (SIGSTOP)", "host", m.Host.NodeID)
	return m.Hang()
}

// ResumeMySQL sends SIGCONT to host's mariadbd.
func (l *Lab) ResumeMySQL(host string) error {
	m, err := l.mariadbOf(host)
	if err != nil {
		return err
	}
	l.note("restore", "mariadbd resumed (SIGCONT)", "host", m.Host.NodeID)
	return m.Resume()
}

// RestartMySQL kills host's mariadbd if it runs and starts it again.
func (l *Lab) RestartMySQL(ctx context.Context, host string) error {
	m, err := l.mariadbOf(host)
	if err != nil {
		return err
	}
	err = m.Restart(ctx)
	l.note("restore", "mariadbd restarted", "host", m.Host.NodeID)
	return err
}

// KillAgent sends SIGKILL to host's raftvip agent.
func (l *Lab) KillAgent(host string) error {
	a, err := l.agentOf(host)
	if err != nil {
		return err
	}
	l.note("fault", "raftvip agent killed (SIGKILL)", "host", a.Host.NodeID)
	return a.Kill()
}

// PauseAgent sends SIGSTOP to host's raftvip agent.
func (l *Lab) PauseAgent(host string) error {
	a, err := l.agentOf(host)
	if err != nil {
		return err
	}
	l.note("fault", "raftvip agent paused (SIGSTOP)", "host", a.Host.NodeID)
	return a.Pause()
}

// ResumeAgent sends SIGCONT to host's raftvip agent.
func (l *Lab) ResumeAgent(host string) error {
	a, err := l.agentOf(host)
	if err != nil {
		return err
	}
	l.note("restore", "raftvip agent resumed (SIGCONT)", "host", a.Host.NodeID)
	return a.Resume()
}

// RestartAgent starts host's raftvip agent again (killing it first if it
// still runs).
func (l *Lab) RestartAgent(host string) error {
	a, err := l.agentOf(host)
	if err != nil {
		return err
	}
	l.note("restore", "raftvip agent restarted", "host", a.Host.NodeID)
	return a.Restart()
}
