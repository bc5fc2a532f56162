package keepalived

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/raftvip/raftvip/config"
)

// A keepalived check script that looks at replication (a standby's lag, its
// SQL thread) cannot be replaced by raftvip's health query: raftvip checks
// replication itself, where it decides promotion (failover.max_lag), not in
// the health check. These words in a script's command line or file show a
// replication check.
var replicationMarkers = []string{
	"SHOW SLAVE STATUS", "SHOW REPLICA STATUS",
	"Slave_SQL_Running", "Slave_IO_Running", "Replica_SQL_Running", "Replica_IO_Running",
	"Seconds_Behind_Master", "Seconds_Behind_Source",
	"mysqlrpladmin", "pt-heartbeat",
}

// maxScriptSize bounds what is read of a script file: a check script is a
// few lines; anything larger is not one to scan.
const maxScriptSize = 1 << 20

// replCheck is a tracked vrrp_script found to check replication.
type replCheck struct {
	script *Script
	marker string // the marker as written in the script
	file   string // the script file it was found in; "" = the command line
	// lag is the script's lag threshold, 0 when none or several were
	// found; lagAt is where ("chk.sh:5"), lagWhy why it was not used.
	lag           time.Duration
	lagAt, lagWhy string
}

// scriptText is one text of a script to scan: its command line or a file
// it runs.
type scriptText struct {
	text, file string
	line       func(i int) string // "file:line" of line i (0-based)
}

// unreadScript is a script file named on a command line that could not be
// read, so what it checks is unknown.
type unreadScript struct {
	path string
	err  error
}

// replication finds, among the instance's tracked scripts, the first one
// that checks replication; nil when none does. unread lists script files
// that could not be read. It is computed once per conversion.
func (c *converter) replication() (*replCheck, []unreadScript) {
	if c.replDone {
		return c.repl, c.replUnread
	}
	c.replDone = true
	if c.in == nil {
		return nil, nil
	}
	for _, t := range c.in.TrackScripts {
		s := c.cfg.Script(t.Name)
		if s == nil || s.Script == "" {
			continue
		}
		texts, unread := c.scriptTexts(s)
		c.replUnread = append(c.replUnread, unread...)
		if r := findReplication(s, texts); r != nil && c.repl == nil {
			c.repl = r
		}
	}
	if r := c.repl; r != nil {
		c.notes = append(c.notes, c.replicationNote(r))
	}
	return c.repl, c.replUnread
}

// scriptTexts is the command line of s and the text of every script file
// it names by absolute path (keepalived runs the command without a shell,
// so `/bin/sh /etc/keepalived/chk.sh` names the interpreter and the
// script). Binaries and what is not a regular file are skipped.
func (c *converter) scriptTexts(s *Script) ([]scriptText, []unreadScript) {
	n := s.Node.Find("script")
	at := c.where(s.Node.Pos)
	if n != nil {
		at = c.where(n.Pos)
	}
	texts := []scriptText{{text: s.Script, line: func(int) string { return at }}}
	var unread []unreadScript
	for _, w := range strings.Fields(s.Script) {
		w = strings.Trim(w, `'"`)
		if !filepath.IsAbs(w) || slices.ContainsFunc(texts, func(t scriptText) bool { return t.file == w }) {
			continue
		}
		b, err := readScript(w)
		if errors.Is(err, errNotScript) {
			continue
		}
		if err != nil {
			if maybeScript(w) {
				unread = append(unread, unreadScript{path: w, err: err})
			}
			continue
		}
		file := w
		texts = append(texts, scriptText{text: string(b), file: file, line: func(i int) string { return fmt.Sprintf("%s:%d", file, i+1) }})
	}
	return texts, unread
}

var errNotScript = errors.New("not a script")

// maybeScript: a file that could not be read may have been a check script
// (and worth saying so) unless it is a program in a system directory,
// such as /usr/bin/mysqladmin on a host without the MySQL client.
func maybeScript(path string) bool {
	switch filepath.Ext(path) {
	case ".sh", ".bash", ".py", ".pl", ".rb", ".php":
		return true
	}
	switch filepath.Dir(path) {
	case "/bin", "/sbin", "/usr/bin", "/usr/sbin":
		return false
	}
	return true
}

// readScript reads a text file of at most maxScriptSize; errNotScript for
// directories, devices, binaries and larger files.
func readScript(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > maxScriptSize {
		return nil, errNotScript
	}
	b, err := io.ReadAll(io.LimitReader(f, maxScriptSize))
	if err != nil {
		return nil, err
	}
	if bytes.IndexByte(b[:min(len(b), 8000)], 0) >= 0 {
		return nil, errNotScript // a binary, such as the interpreter
	}
	return b, nil
}

// lagLine is a line about lag or delay: a threshold on it is the script's
// limit for replication lag.
var lagLine = regexp.MustCompile(`(?i)seconds_behind_(master|source)|lag|delay|behind`)

// shellComment is a # at the start of a word to the end of the line ($# is
// no comment).
var shellComment = regexp.MustCompile(`(^|\s)#.*$`)

// shellAssign is a shell variable assignment at the start of a line.
var shellAssign = regexp.MustCompile(`^\s*(?:local\s+|export\s+|readonly\s+)?([A-Za-z_]\w*)=`)

// Thresholds, in seconds: a comparison with a number (shell test, awk,
// [[ ]]), an assignment of a number to a variable named for lag or delay,
// or a --max-lag style option.
var (
	lagCompare = regexp.MustCompile(`(?:-gt|-ge|-lt|-le|>=|<=|>|<)\s*["']?(\d+)\b`)
	lagAssign  = regexp.MustCompile(`(?i)\b\w*(?:lag|delay|behind)\w*\s*=\s*["']?(\d+)["']?\s*(?:[;#]|$)`)
	lagOption  = regexp.MustCompile(`(?i)--(?:max-?lag|max-?delay|threshold|critical|crit)[= ]\s*(\d+)\b`)
)

// findReplication reports whether the texts of s show a replication
// check, and reads its lag threshold when exactly one is found.
func findReplication(s *Script, texts []scriptText) *replCheck {
	var r *replCheck
	for _, t := range texts {
		lower := strings.ToLower(t.text)
		for _, m := range replicationMarkers {
			if i := strings.Index(lower, strings.ToLower(m)); i >= 0 {
				r = &replCheck{script: s, marker: t.text[i : i+len(m)], file: t.file}
				break
			}
		}
		if r != nil {
			break
		}
	}
	if r == nil {
		return nil
	}
	type found struct {
		secs int
		at   string
	}
	var all []found
	for _, t := range texts {
		// Variables set on a lag line (d=$(... Seconds_Behind_Master ...))
		// make the lines that use them lag lines too.
		var vars []string
		isLagLine := func(code string) bool {
			if lagLine.MatchString(code) {
				return true
			}
			return slices.ContainsFunc(vars, func(v string) bool {
				return strings.Contains(code, "$"+v) || strings.Contains(code, "${"+v)
			})
		}
		for i, l := range strings.Split(t.text, "\n") {
			code := l
			if t.file != "" {
				code = shellComment.ReplaceAllString(code, "")
			}
			if !isLagLine(code) {
				continue
			}
			if m := shellAssign.FindStringSubmatch(code); m != nil && !slices.Contains(vars, m[1]) {
				vars = append(vars, m[1])
			}
			for _, re := range []*regexp.Regexp{lagCompare, lagAssign, lagOption} {
				for _, m := range re.FindAllStringSubmatch(code, -1) {
					if n, err := strconv.Atoi(m[1]); err == nil {
						all = append(all, found{n, t.line(i)})
					}
				}
			}
		}
	}
	var distinct []int
	for _, f := range all {
		if !slices.Contains(distinct, f.secs) {
			distinct = append(distinct, f.secs)
		}
	}
	switch {
	case len(distinct) == 0:
		r.lagWhy = "no lag threshold found in the script"
	case len(distinct) > 1:
		var ns []string
		for _, n := range distinct {
			ns = append(ns, strconv.Itoa(n))
		}
		r.lagWhy = fmt.Sprintf("the script compares lag with several numbers (%s)", strings.Join(ns, ", "))
	case distinct[0] == 0:
		r.lagWhy = fmt.Sprintf("the script allows no lag at all (0 at %s), and max_lag must be > 0", all[0].at)
	default:
		r.lag, r.lagAt = time.Duration(distinct[0])*time.Second, all[0].at
	}
	return r
}

// replicationWhere names the script and what showed the check.
func (c *converter) replicationWhere(r *replCheck) string {
	in := "its command line"
	if r.file != "" {
		in = r.file
	}
	return fmt.Sprintf("vrrp_script %s (%s) -> it checks replication (%s, in %s)", r.script.Name, c.where(r.script.Node.Pos), r.marker, in)
}

// replicationMaxLag is the failover.max_lag written and its comment.
func (c *converter) replicationMaxLag(r *replCheck) (value, note string) {
	what := "raftvip checks replication itself, where it decides promotion: a standby whose replication from the holder is stopped, failing or more than failover.max_lag behind is stale and not promoted automatically (`raftvip status` shows each node's replication and which node is stale)"
	if r.lag > 0 {
		return fmt.Sprintf("%ds", r.lag/time.Second), fmt.Sprintf("keepalived: %s: %s; max_lag from the script's threshold (%s)", c.replicationWhere(r), what, r.lagAt)
	}
	return fmtDur(config.DefaultMaxLag), fmt.Sprintf("keepalived: %s: %s; max_lag is raftvip's default: %s, so check it", c.replicationWhere(r), what, r.lagWhy)
}

// replicationNote is the stderr note for a replication script.
func (c *converter) replicationNote(r *replCheck) string {
	v, _ := c.replicationMaxLag(r)
	src := "raftvip's default (" + r.lagWhy + ")"
	if r.lag > 0 {
		src = "the script's threshold at " + r.lagAt
	}
	return fmt.Sprintf("%s: raftvip does not run it and does not fold it into mysql.query; it checks replication itself: a stale standby (replication stopped, failing, or behind more than failover.max_lag) is not promoted, and `raftvip status` shows it. Written: failover.max_lag = %q, %s", c.replicationWhere(r), v, src)
}
