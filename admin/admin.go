// Package admin is the agent's API for the raftvip CLI: versioned JSON over
// HTTP on a unix socket that only the agent's user may open (mode 0600).
// Any node answers; the status it gives is the whole cluster's.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// Serve listens on the unix socket at path. A stale socket file from a
// crashed agent is replaced; a live one (another agent answers) is an error.
func Serve(path string, b Backend, log hclog.Logger) (*Server, error) {
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
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin: listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin: chmod %s: %w", path, err)
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
		if !readJSON(w, r, &req) {
			return
		}
		if req.Timeout <= 0 || req.Timeout > 10*time.Minute {
			writeErr(w, http.StatusBadRequest, "timeout: want more than 0 and at most 10m")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), req.Timeout+2*time.Second)
		defer cancel()
		res, err := b.Switchover(ctx, req)
		writeResult(w, res, err)
	})
	mux.HandleFunc("POST /"+APIVersion+"/maintenance", func(w http.ResponseWriter, r *http.Request) {
		var req agent.MaintenanceRequest
		if !readJSON(w, r, &req) {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		res, err := b.SetMaintenance(ctx, req)
		writeResult(w, res, err)
	})
	mux.HandleFunc("POST /"+APIVersion+"/peers", func(w http.ResponseWriter, r *http.Request) {
		var req agent.PeerRequest
		if !readJSON(w, r, &req) {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		res, err := b.AddPeer(ctx, req)
		writeResult(w, res, err)
	})
	mux.HandleFunc("DELETE /"+APIVersion+"/peers/{id}", func(w http.ResponseWriter, r *http.Request) {
		req := agent.PeerRequest{ID: r.PathValue("id"), Force: r.URL.Query().Get("force") == "true"}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		res, err := b.RemovePeer(ctx, req)
		writeResult(w, res, err)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s (this agent speaks API %s)", r.Method, r.URL.Path, APIVersion))
	})
	s := &Server{path: path, ln: ln, log: log, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
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
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
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
		return fmt.Errorf("admin socket %s: permission denied: the socket is mode 0600, for the agent's user only; run this as that user (e.g. with sudo)", c.path)
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
