package mysqlcheck

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/go-hclog"
)

// The log says why the node is unhealthy (case 16): the first verdict after
// start and every change of verdict or of the failure's class, at WARN with
// the class; repeats of the same failure say nothing more.
func TestVerdictsLoggedWithClass(t *testing.T) {
	var out bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Info})
	c, err := New(Config{DSN: dsnFor("127.0.0.1:3306"), Interval: 10 * time.Second}, log)
	if err != nil {
		t.Fatal(err)
	}
	refused := fmt.Errorf("dial tcp 127.0.0.1:3306: %w", syscall.ECONNREFUSED)
	auth := &mysql.MySQLError{Number: 1045, Message: "Access denied"}
	steps := []struct {
		err  error
		want string // fragment of the one line this check logs; "" = none
	}{
		{refused, "[WARN]  mysqlcheck: mysql unhealthy: server=tcp:127.0.0.1:3306 class=refused"}, // first verdict after start
		{refused, ""},
		{context.DeadlineExceeded, "[WARN]  mysqlcheck: mysql unhealthy: server=tcp:127.0.0.1:3306 class=timeout"}, // still unhealthy, another cause
		{nil, "[INFO]  mysqlcheck: mysql healthy: server=tcp:127.0.0.1:3306"},
		{nil, ""},
		{auth, "[WARN]  mysqlcheck: mysql unhealthy: server=tcp:127.0.0.1:3306 class=auth"},
		{auth, ""},
	}
	for i, s := range steps {
		before := out.Len()
		c.record(s.err, time.Now(), time.Millisecond, "test")
		got := strings.TrimSpace(out.String()[before:])
		switch {
		case s.want == "" && got != "":
			t.Errorf("step %d: logged %q, want nothing", i, got)
		case s.want != "" && (strings.Count(got, "\n") != 0 || !strings.Contains(got, s.want)):
			t.Errorf("step %d: logged %q, want one line with %q", i, got, s.want)
		}
	}
}
