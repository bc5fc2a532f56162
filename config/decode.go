package config

import (
	"fmt"
	"math/big"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// The raw* structs hold the file split by schema (see schema.go). Every
// attribute is kept as *hcl.Attribute rather than a Go type so that each
// value is converted by the helpers below, which report problems at the
// attribute's own position and refuse HCL's silent conversions (gohcl would
// accept 5 for a string or "5" for a number). Blocks that may appear once
// are slices so that a duplicate is reported by us and the first one is
// still checked.

type rawFile struct {
	NodeID     *hcl.Attribute
	Role       *hcl.Attribute
	DataDir    *hcl.Attribute
	Bind       *hcl.Attribute
	Admin      *hcl.Attribute
	AdminGroup *hcl.Attribute
	LogLevel   *hcl.Attribute
	LogJSON    *hcl.Attribute
	// MetricsAddr is metrics_addr (metrics and the status page).
	MetricsAddr *hcl.Attribute
	// CPUPriority is cpu_priority.
	CPUPriority *hcl.Attribute

	InsecurePlaintext *hcl.Attribute

	Peers    []rawPeer
	VIP      []rawVIP
	MySQL    []rawMySQL
	Failover []rawFailover
	Raft     []rawRaft
	VRRP     []rawVRRP
	TLS      []rawTLS
	Notify   []rawNotify
}

type rawTLS struct {
	DefRange hcl.Range
	CAFile   *hcl.Attribute
	CertFile *hcl.Attribute
	KeyFile  *hcl.Attribute
}

type rawPeer struct {
	ID       string
	DefRange hcl.Range
	Address  *hcl.Attribute
	Role     *hcl.Attribute
}

type rawVIP struct {
	DefRange     hcl.Range
	Interface    *hcl.Attribute
	Addresses    *hcl.Attribute
	Lease        *hcl.Attribute
	GARPCount    *hcl.Attribute
	GARPInterval *hcl.Attribute
	GARPRefresh  *hcl.Attribute
	// ARPWatch, ARPWatchInterval: see Config.ARPWatch.
	ARPWatch         *hcl.Attribute
	ARPWatchInterval *hcl.Attribute
}

type rawMySQL struct {
	DefRange hcl.Range
	DSN      *hcl.Attribute
	DSNFile  *hcl.Attribute
	Query    *hcl.Attribute
	Interval *hcl.Attribute
	Timeout  *hcl.Attribute
	Fall     *hcl.Attribute
	Rise     *hcl.Attribute
	// FailAfter and Expect: see MySQL.
	FailAfter *hcl.Attribute
	Expect    *hcl.Attribute
	// ReplicationInterval: see MySQL.
	ReplicationInterval *hcl.Attribute

	FenceTable *hcl.Attribute
}

type rawFailover struct {
	DefRange  hcl.Range
	Preempt   *hcl.Attribute
	Preferred *hcl.Attribute

	MaxLag           *hcl.Attribute
	PromoteStale     *hcl.Attribute
	CatchupTimeout   *hcl.Attribute
	OnCatchupTimeout *hcl.Attribute
	KillSessions     *hcl.Attribute
}

type rawVRRP struct {
	DefRange     hcl.Range
	Mode         *hcl.Attribute
	Version      *hcl.Attribute
	VRID         *hcl.Attribute
	Priority     *hcl.Attribute
	AdvertInt    *hcl.Attribute
	AuthPass     *hcl.Attribute
	UnicastPeers *hcl.Attribute
	Interface    *hcl.Attribute
	Trusted      *hcl.Attribute
	UntrustedMax *hcl.Attribute
}

type rawRaft struct {
	DefRange           hcl.Range
	HeartbeatTimeout   *hcl.Attribute
	ElectionTimeout    *hcl.Attribute
	LeaderLeaseTimeout *hcl.Attribute
	HeartbeatInterval  *hcl.Attribute
	CommitTimeout      *hcl.Attribute
	SnapshotThreshold  *hcl.Attribute
	SnapshotInterval   *hcl.Attribute
	TrailingLogs       *hcl.Attribute
}

// state says what became of an attribute: callers use the default when it
// is absent and skip cross-field checks when it is invalid (the problem is
// already reported; a second message about the same value would be noise).
type state int

const (
	absent  state = iota // not in the file, or null
	valid                // present and converted
	invalid              // present but wrong; an Error was recorded
)

// eval evaluates a constant attribute. Null counts as absent so that
// `x = null` means "use the default", as elsewhere in HCL.
func (c *collector) eval(a *hcl.Attribute, key string) (cty.Value, state) {
	if a == nil {
		return cty.NilVal, absent
	}
	v, ds := a.Expr.Value(nil)
	if ds.HasErrors() {
		if text, ok := c.bareWord(a.Expr); ok {
			// keepalived writes `interface eth0`; unquoted in HCL that is a
			// variable, and HCL says only "Variables not allowed".
			c.at(a.Expr.Range(), `%s: %s needs quotes: write %s = "%s" (HCL reads a bare word as a variable)`, key, text, a.Name, text)
			return cty.NilVal, invalid
		}
		c.diagsFor(key, ds)
		return cty.NilVal, invalid
	}
	if v.IsNull() {
		return cty.NilVal, absent
	}
	if !v.IsWhollyKnown() {
		c.at(a.Range, "%s: value must be a constant", key)
		return cty.NilVal, invalid
	}
	return v, valid
}

// bareWord reports whether e is an unquoted name (eth0, eth0.100, hosta)
// that was meant as a string, and returns its text.
func (c *collector) bareWord(e hcl.Expression) (string, bool) {
	if _, ok := e.(*hclsyntax.ScopeTraversalExpr); !ok {
		return "", false
	}
	r := e.Range()
	if c.src == nil || r.Start.Byte < 0 || r.End.Byte > len(c.src) || r.Start.Byte >= r.End.Byte {
		return "", false
	}
	text := string(c.src[r.Start.Byte:r.End.Byte])
	for _, ch := range text {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '-' || ch == '_') {
			return "", false
		}
	}
	return text, true
}

func typeName(v cty.Value) string {
	t := v.Type()
	switch {
	case t == cty.String:
		return "a string"
	case t == cty.Number:
		return "a number"
	case t == cty.Bool:
		return "a bool"
	case t.IsTupleType() || t.IsListType() || t.IsSetType():
		return "a list"
	case t.IsObjectType() || t.IsMapType():
		return "an object"
	}
	return t.FriendlyName()
}

func (c *collector) str(a *hcl.Attribute, key string) (string, state) {
	v, st := c.eval(a, key)
	if st != valid {
		return "", st
	}
	if v.Type() != cty.String {
		c.at(a.Range, "%s: want a string in quotes, got %s", key, typeName(v))
		return "", invalid
	}
	return v.AsString(), valid
}

// nonEmptyStr is str for keys where "" is never meaningful.
func (c *collector) nonEmptyStr(a *hcl.Attribute, key string) (string, state) {
	s, st := c.str(a, key)
	if st == valid && s == "" {
		c.at(a.Range, "%s must not be empty", key)
		return "", invalid
	}
	return s, st
}

func (c *collector) boolean(a *hcl.Attribute, key string) (bool, state) {
	v, st := c.eval(a, key)
	if st != valid {
		return false, st
	}
	if v.Type() != cty.Bool {
		c.at(a.Range, "%s: want true or false (without quotes), got %s", key, typeName(v))
		return false, invalid
	}
	return v.True(), valid
}

// integer converts a whole number within [min, max].
func (c *collector) integer(a *hcl.Attribute, key string, min, max int64) (int64, state) {
	v, st := c.eval(a, key)
	if st != valid {
		return 0, st
	}
	if v.Type() != cty.Number {
		c.at(a.Range, "%s: want a whole number (without quotes), got %s", key, typeName(v))
		return 0, invalid
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact {
		c.at(a.Range, "%s: want a whole number, got %s", key, bf.Text('g', -1))
		return 0, invalid
	}
	if i < min || i > max {
		c.at(a.Range, "%s = %d is out of range; want %d..%d", key, i, min, max)
		return 0, invalid
	}
	return i, valid
}

// duration converts a Go duration string. Bare numbers are refused because
// their unit would be a guess (seconds? milliseconds?).
func (c *collector) duration(a *hcl.Attribute, key string) (time.Duration, state) {
	v, st := c.eval(a, key)
	if st != valid {
		return 0, st
	}
	if v.Type() == cty.Number {
		c.at(a.Range, `%s: durations are strings like "2s" or "500ms", got the bare number %s`, key, v.AsBigFloat().Text('g', -1))
		return 0, invalid
	}
	if v.Type() != cty.String {
		c.at(a.Range, `%s: durations are strings like "2s" or "500ms", got %s`, key, typeName(v))
		return 0, invalid
	}
	d, err := time.ParseDuration(v.AsString())
	if err != nil {
		c.at(a.Range, `%s: %q is not a duration; want e.g. "2s", "500ms", "1m30s"`, key, v.AsString())
		return 0, invalid
	}
	return d, valid
}

// listElem is one string of a list attribute with its own position, so an
// error can point at the bad element rather than the whole list.
type listElem struct {
	val string
	rng hcl.Range
}

func (c *collector) strList(a *hcl.Attribute, key, example string) ([]listElem, state) {
	v, st := c.eval(a, key)
	if st != valid {
		return nil, st
	}
	t := v.Type()
	if !t.IsTupleType() && !t.IsListType() {
		c.at(a.Range, "%s: want a list like [%s], got %s", key, example, typeName(v))
		return nil, invalid
	}
	// With a literal [a, b] we know where each element is.
	var exprs []hclsyntax.Expression
	if tup, ok := a.Expr.(*hclsyntax.TupleConsExpr); ok && len(tup.Exprs) == v.LengthInt() {
		exprs = tup.Exprs
	}
	var out []listElem
	st = valid
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, ev := it.Element()
		rng := a.Range
		if exprs != nil {
			rng = exprs[i].Range()
		}
		if ev.IsNull() || ev.Type() != cty.String {
			c.at(rng, "%s[%d]: want a string like %s, got %s", key, i, example, typeNameOrNull(ev))
			st = invalid
			continue
		}
		out = append(out, listElem{val: ev.AsString(), rng: rng})
	}
	return out, st
}

func typeNameOrNull(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	return typeName(v)
}

// orDefault picks the configured value when it was given and valid.
func orDefault[T any](v T, st state, def T) T {
	if st == valid {
		return v
	}
	return def
}

func fmtRange(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// text is the string value of an attribute already known to be a valid
// string, for quoting it back as the operator wrote it.
func (c *collector) text(a *hcl.Attribute) string {
	v, _ := a.Expr.Value(nil)
	return v.AsString()
}
