package mysqlcheck

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// GTID arithmetic for divergence: which transactions the old master wrote
// that the new holder never received (asynchronous replication loses the
// tail of the old master's binary log when it dies). raftvip only reports
// them; it never applies or discards them.

// Errant is what the old master has that the new holder lacks.
type Errant struct {
	// Count is the number of transactions. For MariaDB it is an upper
	// bound (AtMost): see MariaDBErrant.
	Count  int
	AtMost bool
	// Ranges name them, for example "0-1-101..0-1-105" (MariaDB) or
	// "3e11fa47-71ca-11e1-9e33-c80aa9429562:6-10" (MySQL).
	Ranges []string
}

// String is "5 transactions: 0-1-101..0-1-105" ("at most 5 ..." for an
// upper bound), "" when there are none.
func (e Errant) String() string {
	if e.Count == 0 {
		return ""
	}
	noun := "transactions"
	if e.Count == 1 {
		noun = "transaction"
	}
	s := fmt.Sprintf("%d %s: %s", e.Count, noun, strings.Join(e.Ranges, ", "))
	if e.AtMost {
		s = "at most " + s
	}
	return s
}

// addCount adds n to a count, saturating at math.MaxInt.
func addCount(count int, n uint64) int {
	if n > uint64(math.MaxInt-count) {
		return math.MaxInt
	}
	return count + int(n)
}

// MariaDBGTID is one MariaDB global transaction id, domain-server-seq.
type MariaDBGTID struct {
	Domain uint32
	Server uint32
	Seq    uint64
}

func (g MariaDBGTID) String() string {
	return fmt.Sprintf("%d-%d-%d", g.Domain, g.Server, g.Seq)
}

// MariaDBGTIDList is a comma-separated list of GTIDs as in @@gtid_binlog_pos
// (one per domain) or @@gtid_binlog_state (one per domain and server).
type MariaDBGTIDList []MariaDBGTID

// ParseMariaDBGTIDList parses a list such as "0-1-105,0-2-100". Spaces and
// newlines around an element are ignored; "" is the empty list. The same
// domain and server twice is an error: no server prints that.
func ParseMariaDBGTIDList(s string) (MariaDBGTIDList, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out MariaDBGTIDList
	seen := map[[2]uint32]bool{}
	for i, elem := range strings.Split(s, ",") {
		g, err := parseMariaDBGTID(strings.TrimSpace(elem))
		if err != nil {
			return nil, fmt.Errorf("MariaDB GTID list, element %d: %w", i+1, err)
		}
		key := [2]uint32{g.Domain, g.Server}
		if seen[key] {
			return nil, fmt.Errorf("MariaDB GTID list, element %d %q: domain %d and server %d appear twice", i+1, g, g.Domain, g.Server)
		}
		seen[key] = true
		out = append(out, g)
	}
	return out, nil
}

func parseMariaDBGTID(s string) (MariaDBGTID, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 {
		return MariaDBGTID{}, fmt.Errorf("%q is not domain-server-seq", s)
	}
	var g MariaDBGTID
	for i, f := range []struct {
		name string
		bits int
	}{{"domain", 32}, {"server_id", 32}, {"sequence number", 64}} {
		n, err := parseDecimal(parts[i], f.bits)
		if err != nil {
			return MariaDBGTID{}, fmt.Errorf("%q: %s %q is not a number of %d bits", s, f.name, parts[i], f.bits)
		}
		switch i {
		case 0:
			g.Domain = uint32(n)
		case 1:
			g.Server = uint32(n)
		case 2:
			g.Seq = n
		}
	}
	return g, nil
}

// parseDecimal accepts digits only (no sign, no spaces, no "0x").
func parseDecimal(s string, bits int) (uint64, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, errors.New("not decimal")
	}
	return strconv.ParseUint(s, 10, bits)
}

func (l MariaDBGTIDList) String() string {
	parts := make([]string, len(l))
	for i, g := range l {
		parts[i] = g.String()
	}
	return strings.Join(parts, ",")
}

// MariaDBErrant finds the old master's own transactions (those with its
// serverID) in oldState, its @@gtid_binlog_state, beyond what base had of
// that server: base is the new holder's @@gtid_binlog_state (or
// @@gtid_slave_pos) read at takeover, before the old master could send it
// anything more. It works per domain: with the old master's last own
// sequence number L and the last base had from that server B, the
// candidates are B+1..L.
//
// The count is an upper bound (Errant.AtMost): a domain's sequence numbers
// are shared by all servers writing in it, so some numbers in B+1..L may be
// other servers' transactions, which the old master received rather than
// wrote. The binary log (mariadb-binlog --start-position=0-1-B) has the
// exact list. A base without that server in a domain had none of its
// transactions there: the candidates start at 1.
func MariaDBErrant(oldState, base string, serverID uint32) (Errant, error) {
	old, err := ParseMariaDBGTIDList(oldState)
	if err != nil {
		return Errant{}, fmt.Errorf("old master's state: %w", err)
	}
	have, err := ParseMariaDBGTIDList(base)
	if err != nil {
		return Errant{}, fmt.Errorf("new holder's position: %w", err)
	}
	had := map[uint32]uint64{} // domain -> last seq of serverID in base
	for _, g := range have {
		if g.Server == serverID {
			had[g.Domain] = g.Seq
		}
	}
	mine := make(MariaDBGTIDList, 0, len(old))
	for _, g := range old {
		if g.Server == serverID {
			mine = append(mine, g)
		}
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].Domain < mine[j].Domain })
	var e Errant
	for _, g := range mine {
		lo := had[g.Domain]
		if g.Seq <= lo {
			continue
		}
		e.Count = addCount(e.Count, g.Seq-lo)
		first := MariaDBGTID{Domain: g.Domain, Server: g.Server, Seq: lo + 1}
		if first.Seq == g.Seq {
			e.Ranges = append(e.Ranges, g.String())
		} else {
			e.Ranges = append(e.Ranges, first.String()+".."+g.String())
		}
	}
	e.AtMost = e.Count > 0
	return e, nil
}

// MySQL GTID sets: "uuid:1-5:7,uuid2:1-3", and MySQL 8.3's tagged form
// "uuid:1-5:tag:1-3" (the intervals after a tag belong to uuid:tag).

// mysqlSource is who wrote a transaction: a server_uuid and an optional tag.
type mysqlSource struct {
	uuid [16]byte
	tag  string
}

// gnoInterval is an inclusive range of transaction numbers.
type gnoInterval struct{ lo, hi uint64 }

// maxGNO is MySQL's largest transaction number (2^63-1).
const maxGNO = math.MaxInt64

// MySQLGTIDSet is a set of MySQL GTIDs. The zero value is the empty set.
type MySQLGTIDSet struct {
	// ivs holds, per source, sorted, disjoint, non-adjacent intervals;
	// a source with no transactions is absent.
	ivs map[mysqlSource][]gnoInterval
}

// ParseMySQLGTIDSet parses a set as MySQL prints it (@@gtid_executed,
// Retrieved_Gtid_Set): elements separated by commas, whitespace and
// newlines around them ignored; "" is the empty set. Overlapping or
// unsorted intervals are accepted and merged, as MySQL does.
func ParseMySQLGTIDSet(s string) (MySQLGTIDSet, error) {
	var set MySQLGTIDSet
	if strings.TrimSpace(s) == "" {
		return set, nil
	}
	set.ivs = map[mysqlSource][]gnoInterval{}
	for i, elem := range strings.Split(s, ",") {
		if err := set.parseElement(strings.TrimSpace(elem)); err != nil {
			return MySQLGTIDSet{}, fmt.Errorf("MySQL GTID set, element %d: %w", i+1, err)
		}
	}
	for src, ivs := range set.ivs {
		set.ivs[src] = normalize(ivs)
	}
	return set, nil
}

func (s *MySQLGTIDSet) parseElement(elem string) error {
	parts := strings.Split(elem, ":")
	uuid, err := parseUUID(parts[0])
	if err != nil {
		return fmt.Errorf("%q: %v", elem, err)
	}
	src := mysqlSource{uuid: uuid}
	// A tag must be followed by an interval; so must the UUID, unless a
	// tag follows it directly ("uuid:tag:1-3").
	pendingTag, any := false, false
	for _, p := range parts[1:] {
		if p != "" && !isDigit(p[0]) {
			tag := strings.ToLower(p)
			if !validTag(tag) {
				return fmt.Errorf("%q: %q is neither a transaction number nor a tag", elem, p)
			}
			if pendingTag {
				return fmt.Errorf("%q: %q has no transaction numbers", elem, sourceName(src))
			}
			src.tag, pendingTag = tag, true
			continue
		}
		iv, err := parseInterval(p)
		if err != nil {
			return fmt.Errorf("%q: %v", elem, err)
		}
		s.ivs[src] = append(s.ivs[src], iv)
		pendingTag, any = false, true
	}
	if pendingTag || !any {
		return fmt.Errorf("%q: %q has no transaction numbers", elem, sourceName(src))
	}
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// validTag: MySQL's tags are 1 to 32 characters, a letter or '_' first,
// then letters, digits and '_'; t is lowered already (MySQL lowers them).
func validTag(t string) bool {
	if len(t) == 0 || len(t) > 32 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || i > 0 && isDigit(c)) {
			return false
		}
	}
	return true
}

// parseUUID accepts the dashed 8-4-4-4-12 form and 32 bare hex digits.
func parseUUID(s string) ([16]byte, error) {
	var u [16]byte
	h := s
	if len(s) == 36 {
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return u, fmt.Errorf("%q is not a UUID", s)
		}
		h = s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	}
	if len(h) != 32 {
		return u, fmt.Errorf("%q is not a UUID", s)
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("%q is not a UUID", s)
	}
	return u, nil
}

func parseInterval(p string) (gnoInterval, error) {
	loS, hiS, isRange := strings.Cut(p, "-")
	lo, err := parseDecimal(loS, 63)
	if err != nil || lo == 0 {
		return gnoInterval{}, fmt.Errorf("transaction number %q is not in 1..%d", loS, uint64(maxGNO))
	}
	hi := lo
	if isRange {
		hi, err = parseDecimal(hiS, 63)
		if err != nil || hi == 0 {
			return gnoInterval{}, fmt.Errorf("transaction number %q is not in 1..%d", hiS, uint64(maxGNO))
		}
		if hi < lo {
			return gnoInterval{}, fmt.Errorf("interval %q ends before it starts", p)
		}
	}
	return gnoInterval{lo, hi}, nil
}

// normalize sorts and merges overlapping and adjacent intervals.
func normalize(ivs []gnoInterval) []gnoInterval {
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].lo < ivs[j].lo })
	out := ivs[:0]
	for _, iv := range ivs {
		if n := len(out); n > 0 && iv.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, iv.hi)
			continue
		}
		out = append(out, iv)
	}
	return out
}

func formatUUID(u [16]byte) string {
	h := hex.EncodeToString(u[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func sourceName(src mysqlSource) string {
	if src.tag == "" {
		return formatUUID(src.uuid)
	}
	return formatUUID(src.uuid) + ":" + src.tag
}

func (iv gnoInterval) String() string {
	if iv.lo == iv.hi {
		return strconv.FormatUint(iv.lo, 10)
	}
	return strconv.FormatUint(iv.lo, 10) + "-" + strconv.FormatUint(iv.hi, 10)
}

// sources returns the set's sources in MySQL's order: by UUID, untagged
// first, then by tag.
func (s MySQLGTIDSet) sources() []mysqlSource {
	out := make([]mysqlSource, 0, len(s.ivs))
	for src := range s.ivs {
		out = append(out, src)
	}
	sort.Slice(out, func(i, j int) bool {
		if c := bytes.Compare(out[i].uuid[:], out[j].uuid[:]); c != 0 {
			return c < 0
		}
		return out[i].tag < out[j].tag
	})
	return out
}

// String prints the set as MySQL does, on one line:
// "uuid:1-5:7:tag:1-3,uuid2:1-3".
func (s MySQLGTIDSet) String() string {
	var b strings.Builder
	var last [16]byte
	for i, src := range s.sources() {
		if i == 0 || src.uuid != last {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(formatUUID(src.uuid))
			last = src.uuid
		}
		if src.tag != "" {
			b.WriteString(":" + src.tag)
		}
		for _, iv := range s.ivs[src] {
			b.WriteString(":" + iv.String())
		}
	}
	return b.String()
}

// IsEmpty says whether the set has no transaction.
func (s MySQLGTIDSet) IsEmpty() bool { return len(s.ivs) == 0 }

// Count is the number of transactions, saturating at math.MaxInt.
func (s MySQLGTIDSet) Count() int {
	n := 0
	for _, ivs := range s.ivs {
		for _, iv := range ivs {
			n = addCount(n, iv.hi-iv.lo+1)
		}
	}
	return n
}

// Subtract returns the transactions of s that are not in o.
func (s MySQLGTIDSet) Subtract(o MySQLGTIDSet) MySQLGTIDSet {
	out := MySQLGTIDSet{ivs: map[mysqlSource][]gnoInterval{}}
	for src, ivs := range s.ivs {
		if rest := subtractIntervals(ivs, o.ivs[src]); len(rest) > 0 {
			out.ivs[src] = rest
		}
	}
	if len(out.ivs) == 0 {
		out.ivs = nil
	}
	return out
}

// subtractIntervals is a − b over normalized interval lists.
func subtractIntervals(a, b []gnoInterval) []gnoInterval {
	var out []gnoInterval
	j := 0
	for _, iv := range a {
		lo := iv.lo
		for j < len(b) && b[j].hi < lo {
			j++
		}
		for k := j; k < len(b) && b[k].lo <= iv.hi; k++ {
			if b[k].lo > lo {
				out = append(out, gnoInterval{lo, b[k].lo - 1})
			}
			if b[k].hi >= iv.hi {
				lo = iv.hi + 1 // nothing left (no overflow: hi ≤ 2^63-1)
				break
			}
			lo = b[k].hi + 1
		}
		if lo <= iv.hi {
			out = append(out, gnoInterval{lo, iv.hi})
		}
	}
	return out
}

// Contains says whether every transaction of o is in s.
func (s MySQLGTIDSet) Contains(o MySQLGTIDSet) bool { return o.Subtract(s).IsEmpty() }

// Equal says whether s and o hold the same transactions.
func (s MySQLGTIDSet) Equal(o MySQLGTIDSet) bool { return s.Contains(o) && o.Contains(s) }

// MySQLErrant is what oldExecuted (the old master's @@gtid_executed) has
// that base (the new holder's @@gtid_executed at takeover) lacks. Unlike
// MariaDB's, the count is exact: a MySQL GTID set names every transaction.
func MySQLErrant(oldExecuted, base string) (Errant, error) {
	old, err := ParseMySQLGTIDSet(oldExecuted)
	if err != nil {
		return Errant{}, fmt.Errorf("old master's gtid_executed: %w", err)
	}
	have, err := ParseMySQLGTIDSet(base)
	if err != nil {
		return Errant{}, fmt.Errorf("new holder's gtid_executed: %w", err)
	}
	diff := old.Subtract(have)
	var e Errant
	for _, src := range diff.sources() {
		for _, iv := range diff.ivs[src] {
			e.Ranges = append(e.Ranges, sourceName(src)+":"+iv.String())
		}
	}
	e.Count = diff.Count()
	return e, nil
}
