// Package admin is the agent's API for the raftvip CLI: versioned JSON over
// HTTP on a unix socket that only the agent's user may open (mode 0600), or
// with admin_group also that group's members (mode 0660), who may only read.
// Any node answers; the status it gives is the whole cluster's.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/raftvip/raftvip/internal/osgroup"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/fsm"
	"golang.org/x/sys/unix"
)

// APIVersion is the path prefix of every endpoint.
const APIVersion = "v1"

// Backend is what the server needs from the agent.
type Backend interface {
	ClusterStatus(ctx context.Context, historyN int) agent.Status
	Switchover(ctx context.Context, r agent.SwitchoverRequest) (agent.SwitchoverResult, error)
	SetMaintenance(ctx context.Context, r agent.MaintenanceRequest) (fsm.Maintenance, error)
	AddPeer(ctx context.Context, r agent.PeerRequest) (agent.PeerResult, error)
	RemovePeer(ctx context.Context, r agent.PeerRequest) (agent.PeerResult, error)
}

// Server serves the admin API.
type Server struct {
	path string
	ln   net.Listener
	srv  *http.Server
	log  hclog.Logger
}

// Options configure the admin socket.
type Options struct {
	Path string
	// Group (admin_group) is a group whose members may run the read-only
	// commands; "" keeps the socket to the agent's user. Changing commands
	// are for root and the agent's user only, whatever the group.
	Group string
}

// Limits against a local flood: a process that may open the socket cannot
// tie up the agent with connections, huge requests or slow ones.
const (
	// MaxConns bounds connections served at once; more wait in the
	// kernel's backlog until one ends.
	MaxConns = 16
	// MaxBody bounds a request body (the largest real one is a few hundred
	// bytes) and MaxHeader its header.
	MaxBody   = 64 << 10
	MaxHeader = 16 << 10
	// readTimeout is how long a client may take to send its request;
	// idleTimeout how long a kept-alive connection may sit unused.
	readTimeout = 10 * time.Second
	idleTimeout = 30 * time.Second
	// writeTimeout outlasts the longest command (a switchover of
	// agent.MaxSwitchoverTimeout) plus the time to answer it.
	writeTimeout = agent.MaxSwitchoverTimeout + 30*time.Second
)

// Serve listens on the unix socket at path, for the agent's user only.
func Serve(path string, b Backend, log hclog.Logger) (*Server, error) {
	return ServeOptions(Options{Path: path}, b, log)
}

// ServeOptions listens on the unix socket at o.Path. A stale socket file
// from a crashed agent is replaced; a live one (another agent answers) is
// an error.
func ServeOptions(o Options, b Backend, log hclog.Logger) (*Server, error) {
	path := o.Path
	gid := -1
	if o.Group != "" {
		var err error
		if gid, err = osgroup.GID(o.Group); err != nil {
			return nil, fmt.Errorf("admin_group: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("admin: socket directory for %s: %w", path, err)
	}
	if _, err := os.Stat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, 500*time.Millisecond); err == nil {
			c.Close()
			return nil, fmt.Errorf("admin: %s is in use by a running agent", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("admin: remove stale socket %s: %w", path, err)
		}
	}
	ul, err := listenPrivate(path, gid)
	if err != nil {
		return nil, err
	}
	ln := &credListener{UnixListener: ul, sem: make(chan struct{}, MaxConns), log: log}
	owner := os.Geteuid()
	// mayChange: changing commands are for root and the agent's own user.
	// The socket's mode already keeps out everyone outside admin_group;
	// its members get in and may only read.
	mayChange := func(w http.ResponseWriter, r *http.Request, what string) bool {
		cr, ok := r.Context().Value(credKey{}).(*unix.Ucred)
		if !ok {
			writeJSON(w, http.StatusForbidden, errorBody{Error: what + ": the agent could not tell who is asking (no peer credentials); refused", Refused: true})
			return false
		}
		if cr.Uid == 0 || int(cr.Uid) == owner {
			return true
		}
		msg := fmt.Sprintf("%s changes the cluster: only root may run it; you are uid %d", what, cr.Uid)
		if o.Group != "" {
			msg += fmt.Sprintf(" (admin_group %q may run status, peers list and history only)", o.Group)
		}
		log.Warn("refused a changing command from a non-root user", "command", what, "uid", cr.Uid, "gid", cr.Gid, "pid", cr.Pid)
		writeJSON(w, http.StatusForbidden, errorBody{Error: msg + "; run it as root (e.g. with sudo)", Refused: true})
		return false
	}
	// asked tags the request's context with the local operator's uid, so
	// the leader logs and records who asked.
	asked := func(r *http.Request) context.Context {
		if cr, ok := r.Context().Value(credKey{}).(*unix.Ucred); ok {
			return agent.WithLocalUID(r.Context(), cr.Uid)
		}
		return r.Context()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /"+APIVersion+"/status", func(w http.ResponseWriter, r *http.Request) {
		n := 10
		if v := r.URL.Query().Get("history"); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n < 0 || n > 1000 {
				writeErr(w, http.StatusBadRequest, fmt.Sprintf("history=%q: want a number from 0 to 1000", v))
				return
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		writeJSON(w, http.StatusOK, b.ClusterStatus(ctx, n))
	})
	mux.HandleFunc("POST /"+APIVersion+"/switchover", func(w http.ResponseWriter, r *http.Request) {
		var req agent.SwitchoverRequest
		if !mayChange(w, r, "switchover") || !readJSON(w, r, &req) {
			return
		}
		if msg := agent.CheckSwitchoverTimeout(req.Timeout); msg != "" {
			writeErr(w, http.StatusBadRequest, msg)
			return
		}
		ctx, cancel := context.WithTimeout(asked(r), req.Timeout+2*time.Second)
		defer cancel()
		res, err := b.Switchover(ctx, req)
		writeResult(w, res, err)
	})
	mux.HandleFunc("POST /"+APIVersion+"/maintenance", func(w http.ResponseWriter, r *http.Request) {
		var req agent.MaintenanceRequest
		if !mayChange(w, r, "maintenance") || !readJSON(w, r, &req) {
			return
		}
		ctx, cancel := context.WithTimeout(asked(r), 10*time.Second)
		defer cancel()
		res, err := b.SetMaintenance(ctx, req)
		writeResult(w, res, err)
	})
	mux.HandleFunc("POST /"+APIVersion+"/peers", func(w http.ResponseWriter, r *http.Request) {
		var req agent.PeerRequest
		if !mayChange(w, r, "peers add") || !readJSON(w, r, &req) {
			return
		}
		ctx, cancel := context.WithTimeout(asked(r), 30*time.Second)
		defer cancel()
		res, err := b.AddPeer(ctx, req)
		writeResult(w, res, err)
	})
	mux.HandleFunc("DELETE /"+APIVersion+"/peers/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !mayChange(w, r, "peers remove") {
			return
		}
		req := agent.PeerRequest{ID: r.PathValue("id"), Force: r.URL.Query().Get("force") == "true"}
		ctx, cancel := context.WithTimeout(asked(r), 30*time.Second)
		defer cancel()
		res, err := b.RemovePeer(ctx, req)
		writeResult(w, res, err)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s (this agent speaks API %s)", r.Method, r.URL.Path, APIVersion))
	})
	s := &Server{path: path, ln: ln, log: log, srv: &http.Server{Handler: mux,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: readTimeout, WriteTimeout: writeTimeout, IdleTimeout: idleTimeout,
		MaxHeaderBytes: MaxHeader,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if cc, ok := c.(*credConn); ok && cc.cred != nil {
				return context.WithValue(ctx, credKey{}, cc.cred)
			}
			return ctx
		}}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin server stopped", "error", err)
		}
	}()
	return s, nil
}

// Close stops the server and removes the socket.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	os.Remove(s.path)
	return err
}

type errorBody struct {
	Error   string `json:"error"`
	Refused bool   `json:"refused,omitempty"`
}

// readJSON decodes a request body strictly (unknown fields are an error, so
// a typo in a client is not silently ignored).
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeErr(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", MaxBody))
			return false
		}
		writeErr(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return false
	}
	return true
}

func writeResult(w http.ResponseWriter, res any, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, res)
	case errors.Is(err, agent.ErrRefused):
		writeJSON(w, http.StatusConflict, errorBody{Error: err.Error(), Refused: true})
	default:
		writeErr(w, http.StatusInternalServerError, err.Error())
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

// refusedErr keeps the server's wording and still matches agent.ErrRefused.
type refusedErr string

func (e refusedErr) Error() string   { return string(e) }
func (e refusedErr) Is(t error) bool { return t == agent.ErrRefused }

// Client talks to an agent's admin socket.
type Client struct {
	path string
	http *http.Client
}

// NewClient returns a client for the socket at path.
func NewClient(path string) *Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	// No client-wide timeout: a switchover may legitimately take its own
	// -timeout; every call carries a context deadline instead.
	return &Client{path: path, http: &http.Client{Transport: tr}}
}

// Status fetches the cluster status with the last historyN epoch events.
func (c *Client) Status(ctx context.Context, historyN int) (agent.Status, error) {
	var st agent.Status
	err := c.get(ctx, fmt.Sprintf("/%s/status?history=%d", APIVersion, historyN), &st)
	return st, err
}

// Switchover asks for a planned move.
func (c *Client) Switchover(ctx context.Context, r agent.SwitchoverRequest) (agent.SwitchoverResult, error) {
	var out agent.SwitchoverResult
	err := c.do(ctx, http.MethodPost, "/"+APIVersion+"/switchover", r, &out)
	return out, err
}

// SetMaintenance turns maintenance mode on or off.
func (c *Client) SetMaintenance(ctx context.Context, r agent.MaintenanceRequest) (fsm.Maintenance, error) {
	var out fsm.Maintenance
	err := c.do(ctx, http.MethodPost, "/"+APIVersion+"/maintenance", r, &out)
	return out, err
}

// AddPeer adds a member.
func (c *Client) AddPeer(ctx context.Context, r agent.PeerRequest) (agent.PeerResult, error) {
	var out agent.PeerResult
	err := c.do(ctx, http.MethodPost, "/"+APIVersion+"/peers", r, &out)
	return out, err
}

// RemovePeer removes a member.
func (c *Client) RemovePeer(ctx context.Context, id string, force bool) (agent.PeerResult, error) {
	var out agent.PeerResult
	err := c.do(ctx, http.MethodDelete, fmt.Sprintf("/%s/peers/%s?force=%t", APIVersion, url.PathEscape(id), force), nil, &out)
	return out, err
}

// callErr words a failed call for the operator. http.Client names the
// request's URL (http://raftvip/v1/...), which is internal: the socket is
// what the operator can act on, with what the kernel said about it.
func (c *Client) callErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var cause error = err
	var op *net.OpError
	if errors.As(err, &op) {
		cause = op.Err // "connect: permission denied", without "dial unix PATH"
	}
	switch {
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("admin socket %s: permission denied: the socket is mode 0600, for the agent's user only (or 0660 for admin_group's members); run this as that user (e.g. with sudo), or join admin_group to read status", c.path)
	case errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("admin socket %s does not exist: is the agent running? (or do -admin and the agent's admin setting differ?)", c.path)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("admin socket %s: connection refused: no agent listens on it; is the agent running?", c.path)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("admin socket %s: no answer in time (the agent is busy or stuck)", c.path)
	}
	return fmt.Errorf("admin socket %s: %w", c.path, cause)
}

// Refused reports whether err is the cluster refusing a request (exit 1 with
// its reason) rather than a failure to reach it.
func Refused(err error) bool { return errors.Is(err, agent.ErrRefused) }

func (c *Client) get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, nil, out)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://raftvip"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.callErr(err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("admin socket %s: read: %w", c.path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if json.Unmarshal(respBody, &e) == nil && e.Error != "" {
			if e.Refused {
				return fmt.Errorf("%w", refusedErr(e.Error))
			}
			return fmt.Errorf("agent: %s", e.Error)
		}
		return fmt.Errorf("agent: HTTP %d", resp.StatusCode)
	}
	if err := json.Unmarshal(respBody, out); err != nil {
		return fmt.Errorf("admin socket %s: bad response: %w", c.path, err)
	}
	return nil
}
