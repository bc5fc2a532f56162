package config

import (
	"strings"

	"github.com/go-sql-driver/mysql"
)

// dsnShape is the form shown to the operator when a DSN is rejected.
const dsnShape = "want user:password@tcp(host:port)/[dbname][?param=value]"

// safeDSNErrors are go-sql-driver messages that are fixed text and so can be
// shown. Every other parser message may quote part of the DSN (a parameter
// value, a database name, or the password when the DSN is mangled enough to
// be split in the wrong place), so it is replaced by a generic one.
var safeDSNErrors = map[string]string{
	"invalid DSN: did you forget to escape a param value?":                  "a parameter value needs URL escaping",
	"invalid DSN: network address not terminated (missing closing brace)":   "the network address is missing its closing parenthesis",
	"invalid DSN: missing the slash separating the database name":           "the slash before the database name is missing",
	"invalid DSN: interpolateParams can not be used with unsafe collations": "interpolateParams cannot be used with this collation",
}

// checkDSN returns "" when dsn parses with go-sql-driver, or a description
// of the problem that never contains the DSN or any part of it.
func checkDSN(dsn string) string {
	_, err := mysql.ParseDSN(dsn)
	if err == nil {
		return ""
	}
	if msg, ok := safeDSNErrors[err.Error()]; ok {
		return "invalid DSN: " + msg + "; " + dsnShape
	}
	return "invalid DSN: go-sql-driver rejects a parameter, the network or the database name " +
		"(its message is withheld because it can quote the DSN and its password); " + dsnShape
}

// RedactDSN replaces the password of a go-sql-driver DSN with "****" so the
// DSN can be logged or shown in status. It locates the password the way
// mysql.ParseDSN does (between the first ':' and the last '@' before the
// last '/'), and also redacts a DSN that is missing the '/', so even a DSN
// that does not parse does not leak its password.
func RedactDSN(dsn string) string {
	end := strings.LastIndexByte(dsn, '/')
	if end < 0 {
		end = len(dsn)
	}
	at := strings.LastIndexByte(dsn[:end], '@')
	if at < 0 {
		return dsn // no credentials part
	}
	colon := strings.IndexByte(dsn[:at], ':')
	if colon < 0 {
		return dsn // user without password
	}
	return dsn[:colon+1] + "****" + dsn[at:]
}
