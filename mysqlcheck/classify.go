package mysqlcheck

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
)

// Error classes reported in Status.Class.
const (
	ClassStarting    = "starting"    // no check finished yet
	ClassOK          = "ok"          // the query succeeded
	ClassRefused     = "refused"     // ECONNREFUSED: nothing listens (mariadbd dead)
	ClassTimeout     = "timeout"     // no answer within Timeout (hung server, lost packets)
	ClassAuth        = "auth"        // the server rejected our credentials
	ClassClosed      = "closed"      // the server closed or reset the connection
	ClassDNS         = "dns"         // the host name did not resolve
	ClassUnreachable = "unreachable" // no route to host or network
	ClassServer      = "server"      // a MySQL error other than authentication and overload
	ClassOverloaded  = "overloaded"  // ERR 1040, 1203, 1226: the server answered but takes no more work
	ClassUnexpected  = "unexpected"  // the query's first value is not Config.Expect
	ClassOther       = "other"
)

// overloadErrors are server error numbers that mean "alive, answering, and
// refusing more work right now". They are the degraded outcome of the
// failure model (package doc): never a reason to turn unhealthy, since a
// standby would get the same load.
var overloadErrors = map[uint16]bool{
	1040: true, // ER_CON_COUNT_ERROR: Too many connections (max_connections)
	1203: true, // ER_TOO_MANY_USER_CONNECTIONS: max_user_connections
	1226: true, // ER_USER_LIMIT_REACHED: a resource limit (MAX_USER_CONNECTIONS, MAX_QUERIES_PER_HOUR, ...)
}

// goneErrors are server error numbers that mean "this server is going
// away": counted like a closed connection.
var goneErrors = map[uint16]bool{
	1053: true, // ER_SERVER_SHUTDOWN: Server shutdown in progress
	1927: true, // ER_CONNECTION_KILLED (MariaDB): our session was killed
}

// Degraded reports whether class is the overloaded outcome: the check
// neither succeeded nor failed, and the verdict does not change.
func Degraded(class string) bool { return class == ClassOverloaded }

// silent reports whether class means "no answer": such failures turn the
// node unhealthy only after FailAfter without a success, never by count.
func silent(class string) bool { return class == ClassTimeout }

// UnexpectedError is a check whose query ran but whose first value is not
// Config.Expect. Got is the value seen, cut to 64 bytes (the checker scrubs
// the password from the whole message as from any other).
type UnexpectedError struct {
	Expect string
	Got    string
	Null   bool // the value was NULL
	NoRows bool // the query returned no row
}

func (e *UnexpectedError) Error() string {
	switch {
	case e.NoRows:
		return fmt.Sprintf("the query returned no row, expected %q", e.Expect)
	case e.Null:
		return fmt.Sprintf("the query's first value is NULL, expected %q", e.Expect)
	}
	got := e.Got
	if len(got) > 64 {
		got = strings.ToValidUTF8(got[:64], "") + "..."
	}
	return fmt.Sprintf("the query's first value is %q, expected %q", got, e.Expect)
}

// authErrors are server error numbers that mean "these credentials, from this
// host, may not log in". They matter apart from other server errors because
// they point at configuration, not at a sick server.
var authErrors = map[uint16]bool{
	1044: true, // ER_DBACCESS_DENIED_ERROR
	1045: true, // ER_ACCESS_DENIED_ERROR
	1129: true, // ER_HOST_IS_BLOCKED
	1130: true, // ER_HOST_NOT_PRIVILEGED
	1251: true, // ER_NOT_SUPPORTED_AUTH_MODE
	1698: true, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
	1820: true, // ER_MUST_CHANGE_PASSWORD
	1862: true, // ER_MUST_CHANGE_PASSWORD_LOGIN
	3118: true, // ER_ACCOUNT_HAS_BEEN_LOCKED (MySQL)
	4151: true, // ER_ACCOUNT_HAS_BEEN_LOCKED (MariaDB)
}

// Classify maps a check error to one of the Class* constants; nil is "ok".
func Classify(err error) string {
	if err == nil {
		return ClassOK
	}
	var unexpected *UnexpectedError
	if errors.As(err, &unexpected) {
		return ClassUnexpected
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		switch {
		case authErrors[myErr.Number]:
			return ClassAuth
		case overloadErrors[myErr.Number]:
			return ClassOverloaded
		case goneErrors[myErr.Number]:
			return ClassClosed
		}
		return ClassServer
	}
	// Client-side authentication failures: the server asked for an
	// authentication method the DSN does not allow.
	for _, authErr := range []error{mysql.ErrNativePassword, mysql.ErrOldPassword,
		mysql.ErrCleartextPassword, mysql.ErrUnknownPlugin} {
		if errors.Is(err, authErr) {
			return ClassAuth
		}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ClassDNS
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassRefused
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.EHOSTDOWN), errors.Is(err, syscall.ENETDOWN):
		return ClassUnreachable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, syscall.ETIMEDOUT):
		return ClassTimeout
	// The driver turns any read failure on an established connection (EOF,
	// reset) into ErrInvalidConn after logging the cause; database/sql and
	// the driver use ErrBadConn/ErrConnDone for connections found dead.
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, mysql.ErrInvalidConn), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, sql.ErrConnDone), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE):
		return ClassClosed
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return ClassTimeout
	}
	return ClassOther
}
