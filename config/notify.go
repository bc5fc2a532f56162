package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// DefaultNotifyTimeout bounds one notify script run (and one webhook request).
const DefaultNotifyTimeout = 10 * time.Second

// DefaultNotifyInstance is the instance name scripts get when notify.instance is not set.
const DefaultNotifyInstance = "raftvip"

// Notify is the keepalived-compatible notification block (package notify).
// Each script is an argv: the path, then the arguments written after it in
// the setting, as keepalived splits "/path/script arg1 arg2"; nil = none.
type Notify struct {
	Instance string
	Master   []string
	Backup   []string
	Fault    []string
	Stop     []string
	Notify   []string // the generic script (keepalived's notify)
	FIFO     string
	Timeout  time.Duration
	// Webhook is the URL events are POSTed to ("" = none). It may carry a
	// token: show it through RedactURL.
	Webhook string
}

type rawNotify struct {
	DefRange hcl.Range
	Instance *hcl.Attribute
	Master   *hcl.Attribute
	Backup   *hcl.Attribute
	Fault    *hcl.Attribute
	Stop     *hcl.Attribute
	Notify   *hcl.Attribute
	FIFO     *hcl.Attribute
	Timeout  *hcl.Attribute
	Webhook  *hcl.Attribute
}

var notifyKeys = []string{"instance", "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify", "fifo", "timeout", "webhook"}

func decodeNotify(c *collector, b *hcl.Block) rawNotify {
	a, _ := c.content(b.Body, notifyKeys)
	return rawNotify{DefRange: b.DefRange, Instance: a["instance"], Master: a["notify_master"], Backup: a["notify_backup"],
		Fault: a["notify_fault"], Stop: a["notify_stop"], Notify: a["notify"], FIFO: a["fifo"], Timeout: a["timeout"], Webhook: a["webhook"]}
}

// buildNotify checks the notify block. The scripts are checked on disk when
// the config is loaded, as keepalived's enable_script_security does: they
// run as the agent's user (root) at every change of state, so one that
// others may write is someone else's code run as root.
func buildNotify(c *collector, raws []rawNotify, isWitness bool) *Notify {
	for i := 1; i < len(raws); i++ {
		c.at(raws[i].DefRange, "only one notify block is allowed (the first is at %s)", fmtRange(raws[0].DefRange))
	}
	if len(raws) == 0 {
		return nil
	}
	r := &raws[0]
	n := &Notify{}
	inst, st := c.nonEmptyStr(r.Instance, "notify.instance")
	if st == valid && strings.ContainsAny(inst, "\"\n") {
		c.at(r.Instance.Range, `notify.instance: %q must not hold a double quote or a newline: keepalived's FIFO line is INSTANCE "NAME" STATE PRIORITY`, inst)
	}
	n.Instance = orDefault(inst, st, DefaultNotifyInstance)
	n.Master = buildScript(c, r.Master, "notify.notify_master")
	n.Backup = buildScript(c, r.Backup, "notify.notify_backup")
	n.Fault = buildScript(c, r.Fault, "notify.notify_fault")
	n.Stop = buildScript(c, r.Stop, "notify.notify_stop")
	n.Notify = buildScript(c, r.Notify, "notify.notify")

	fifo, st := c.nonEmptyStr(r.FIFO, "notify.fifo")
	if st == valid {
		if !filepath.IsAbs(fifo) {
			c.at(r.FIFO.Range, `notify.fifo: %q is not an absolute path; want e.g. "/run/raftvip/notify.fifo"`, fifo)
		} else if fi, err := os.Lstat(fifo); err == nil && fi.Mode()&fs.ModeNamedPipe == 0 {
			c.at(r.FIFO.Range, "notify.fifo: %q exists and is not a FIFO (%s); raftvip creates the FIFO when it is missing", fifo, fileKind(fi.Mode()))
		} else {
			n.FIFO = fifo
		}
	}
	n.Timeout = positiveDuration(c, r.Timeout, "notify.timeout", DefaultNotifyTimeout)

	hook, st := c.nonEmptyStr(r.Webhook, "notify.webhook")
	if st == valid {
		if msg := checkWebhook(hook); msg != "" {
			c.at(r.Webhook.Range, "notify.webhook: %s", msg)
		} else {
			n.Webhook = hook
		}
	}
	if isWitness {
		// One template may serve every host (as with vip); a witness
		// never holds the VIP and has no MySQL, so it has no state to
		// tell: MASTER, BACKUP and FAULT are db states.
		c.warn(r.DefRange, "notify: a witness never holds the VIP and has no MySQL; its notify block is checked but no script runs here")
		return nil
	}
	return n
}

// buildScript splits a script setting into its argv and checks the program.
func buildScript(c *collector, a *hcl.Attribute, key string) []string {
	s, st := c.nonEmptyStr(a, key)
	if st != valid {
		return nil
	}
	argv, err := SplitCommand(s)
	if err != nil {
		c.at(a.Range, "%s: %v", key, err)
		return nil
	}
	if len(argv) == 0 {
		c.at(a.Range, "%s must name a script", key)
		return nil
	}
	if msg := checkScript(argv[0]); msg != "" {
		c.at(a.Range, "%s: %s", key, msg)
		return nil
	}
	return argv
}

// checkScript says what is wrong with a script path, or "".
func checkScript(path string) string {
	if !filepath.IsAbs(path) {
		return fmt.Sprintf("script %q is not an absolute path: scripts run by their full path, like \"/etc/keepalived/to_master.sh\"", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Sprintf("script %q: %v", path, err)
	}
	mode := fi.Mode()
	switch {
	case !mode.IsRegular():
		return fmt.Sprintf("script %q is a %s, not a file", path, fileKind(mode))
	case mode.Perm()&0o111 == 0:
		return fmt.Sprintf("script %q is not executable (mode %04o); chmod 0755 %s", path, mode.Perm(), path)
	case mode.Perm()&0o022 != 0:
		return fmt.Sprintf("script %q is %s (mode %04o): whoever may write it runs code as root at the next change of state; chmod go-w %s", path, who(mode.Perm()&0o022), mode.Perm(), path)
	}
	return ""
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsRegular():
		return "regular file"
	}
	return m.Type().String()
}

// SplitCommand splits a script setting as keepalived does its quoted
// "/path/script arg1 arg2": on blanks, with '…' or "…" keeping blanks inside
// one argument.
func SplitCommand(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("%q has an unclosed %c quote", s, quote)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

// checkWebhook says what is wrong with a webhook URL, or "". Messages show
// the URL redacted: it may carry a token.
func checkWebhook(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("%q is not a URL", RedactURL(s))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Sprintf("%q: want an http:// or https:// URL", RedactURL(s))
	}
	if u.Host == "" {
		return fmt.Sprintf("%q has no host", RedactURL(s))
	}
	return ""
}

// RedactURL shows a URL without what may be a secret: the user info and
// the query are replaced by "****".
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "****"
	}
	if u.User != nil {
		u.User = url.User("****")
	}
	if u.RawQuery != "" {
		u.RawQuery = "****"
	}
	u.Fragment = ""
	return u.String()
}
