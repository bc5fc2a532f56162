package mysqlcheck

import (
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// redactedPassword replaces the password wherever one would be shown.
const redactedPassword = "****"

// Redact returns dsn with its password replaced by "****". It follows the
// splitting rules of go-sql-driver/mysql's ParseDSN
// ([user[:password]@][net[(addr)]]/dbname[?params]: last '/', then the last
// '@' before it, then the first ':' before that), and it also hides the
// would-be password of a malformed DSN that forgot the '@' ("user:pw/db").
// When in doubt it hides too much rather than too little.
func Redact(dsn string) string {
	start, end, ok := passwordSpan(dsn)
	if !ok {
		return dsn
	}
	return dsn[:start] + redactedPassword + dsn[end:]
}

// passwordSpan locates the password inside dsn as dsn[start:end].
func passwordSpan(dsn string) (start, end int, ok bool) {
	// Everything up to the last '/' holds [user[:password]@][net[(addr)]];
	// without a '/' the DSN is invalid, and the whole string is examined.
	left := dsn
	if i := strings.LastIndexByte(dsn, '/'); i >= 0 {
		left = dsn[:i]
	}
	if at := strings.LastIndexByte(left, '@'); at >= 0 {
		colon := strings.IndexByte(left[:at], ':')
		if colon < 0 {
			return 0, 0, false
		}
		return colon + 1, at, true
	}
	// No '@': the driver sees no password here, but "user:pw/db" or
	// "user:pw" still carry one. A ':' before the address parentheses cannot
	// be part of a network name, so treat what follows it as secret.
	head := left
	if p := strings.IndexByte(left, '('); p >= 0 {
		head = left[:p]
	}
	colon := strings.IndexByte(head, ':')
	if colon < 0 {
		return 0, 0, false
	}
	return colon + 1, len(head), true
}

// scrubber removes known secrets from text that may end up in logs or in
// Status.Error.
type scrubber struct {
	secrets []string
}

func newScrubber(dsn, password string) scrubber {
	var s scrubber
	if password != "" {
		s.secrets = append(s.secrets, password)
	}
	if start, end, ok := passwordSpan(dsn); ok && end > start && dsn[start:end] != password {
		s.secrets = append(s.secrets, dsn[start:end])
	}
	return s
}

func (s scrubber) scrub(text string) string {
	for _, secret := range s.secrets {
		text = strings.ReplaceAll(text, secret, redactedPassword)
	}
	return text
}

// DSNChanges names the parts in which two DSNs differ, without any value
// that could be secret: "password" says only that it changed. For logs of a
// reload.
func DSNChanges(old, new string) []string {
	a, errA := mysql.ParseDSN(old)
	b, errB := mysql.ParseDSN(new)
	if errA != nil || errB != nil {
		if old == new {
			return nil
		}
		return []string{"changed"}
	}
	var out []string
	if a.User != b.User {
		out = append(out, fmt.Sprintf("user %s -> %s", a.User, b.User))
	}
	if a.Passwd != b.Passwd {
		out = append(out, "password")
	}
	if a.Net != b.Net || a.Addr != b.Addr {
		out = append(out, fmt.Sprintf("server %s:%s -> %s:%s", a.Net, a.Addr, b.Net, b.Addr))
	}
	if a.DBName != b.DBName {
		out = append(out, fmt.Sprintf("database %q -> %q", a.DBName, b.DBName))
	}
	// The rest (parameters) by their formatted form, with the parts above
	// made equal; their values may quote anything, so none is shown.
	same := a.Clone()
	same.User, same.Passwd, same.Net, same.Addr, same.DBName = b.User, b.Passwd, b.Net, b.Addr, b.DBName
	if same.FormatDSN() != b.FormatDSN() {
		out = append(out, "parameters")
	}
	return out
}
