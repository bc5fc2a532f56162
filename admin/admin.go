// Package admin is the agent's API for the raftvip CLI: versioned JSON over
// HTTP on a unix socket that only the agent's user may open (mode 0600).
// Any node answers; the status it gives is the whole cluster's.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/agent"
)

// APIVersion is the path prefix of every endpoint.
const APIVersion = "v1"

// Backend is what the server needs from the agent.
type Backend interface {
	ClusterStatus(ctx context.Context, historyN int) agent.Status
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
	Error string `json:"error"`
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
	return &Client{path: path, http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// Status fetches the cluster status with the last historyN epoch events.
func (c *Client) Status(ctx context.Context, historyN int) (agent.Status, error) {
	var st agent.Status
	err := c.get(ctx, fmt.Sprintf("/%s/status?history=%d", APIVersion, historyN), &st)
	return st, err
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://raftvip"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin socket %s: %w (is the agent running?)", c.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("admin socket %s: read: %w", c.path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("agent: %s", e.Error)
		}
		return fmt.Errorf("agent: HTTP %d", resp.StatusCode)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("admin socket %s: bad response: %w", c.path, err)
	}
	return nil
}
