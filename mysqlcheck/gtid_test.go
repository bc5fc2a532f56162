package mysqlcheck

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestParseMariaDBGTIDList(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" with wantErr: must fail naming wantErr
		wantErr  string
	}{
		{in: "", want: ""},
		{in: "  ", want: ""},
		{in: "0-1-105", want: "0-1-105"},
		{in: "0-1-105,0-2-100", want: "0-1-105,0-2-100"},
		{in: "0-1-105,\n 1-2-3 ", want: "0-1-105,1-2-3"},
		{in: "0-01-7", want: "0-1-7"},
		{in: "4294967295-4294967295-18446744073709551615", want: "4294967295-4294967295-18446744073709551615"},
		{in: "0-1", wantErr: `element 1: "0-1" is not domain-server-seq`},
		{in: "0-1-5,", wantErr: `element 2: "" is not domain-server-seq`},
		{in: "0-1-5,0-x-3", wantErr: `element 2: "0-x-3": server_id "x" is not a number`},
		{in: "0-1--3", wantErr: `is not domain-server-seq`},
		{in: "0-+1-3", wantErr: `server_id "+1"`},
		{in: "4294967296-1-1", wantErr: `domain "4294967296" is not a number of 32 bits`},
		{in: "0-1-18446744073709551616", wantErr: `sequence number "18446744073709551616"`},
		{in: "0-1-5,0-1-7", wantErr: `element 2 "0-1-7": domain 0 and server 1 appear twice`},
	} {
		l, err := ParseMariaDBGTIDList(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseMariaDBGTIDList(%q) = %v, %v; want error containing %q", tc.in, l, err, tc.wantErr)
			}
			continue
		}
		if err != nil || l.String() != tc.want {
			t.Errorf("ParseMariaDBGTIDList(%q) = %q, %v; want %q", tc.in, l, err, tc.want)
		}
	}
}

func TestMariaDBErrant(t *testing.T) {
	for _, tc := range []struct {
		name, old, base string
		server          uint32
		want            Errant
		wantString      string
	}{
		{name: "caught up", old: "0-1-105,0-2-100", base: "0-1-105,0-2-100", server: 1},
		{name: "new holder ahead", old: "0-1-100", base: "0-1-100,0-2-140", server: 1},
		{name: "five unreplicated", old: "0-2-100,0-1-105", base: "0-1-100,0-2-100", server: 1,
			want:       Errant{Count: 5, AtMost: true, Ranges: []string{"0-1-101..0-1-105"}},
			wantString: "at most 5 transactions: 0-1-101..0-1-105"},
		{name: "one, slave_pos as base", old: "0-1-101", base: "0-1-100", server: 1,
			want:       Errant{Count: 1, AtMost: true, Ranges: []string{"0-1-101"}},
			wantString: "at most 1 transaction: 0-1-101"},
		{name: "other servers' transactions are not the old master's", old: "0-1-100,0-2-120,0-3-130", base: "0-1-100", server: 1},
		{name: "per domain", old: "0-1-10,1-1-7,2-1-3", base: "0-1-10,1-1-5", server: 1,
			want:       Errant{Count: 5, AtMost: true, Ranges: []string{"1-1-6..1-1-7", "2-1-1..2-1-3"}},
			wantString: "at most 5 transactions: 1-1-6..1-1-7, 2-1-1..2-1-3"},
		{name: "empty base: everything", old: "0-2-4", base: "", server: 2,
			want: Errant{Count: 4, AtMost: true, Ranges: []string{"0-2-1..0-2-4"}}},
		{name: "huge count saturates", old: "0-1-18446744073709551615", base: "", server: 1,
			want: Errant{Count: math.MaxInt, AtMost: true, Ranges: []string{"0-1-1..0-1-18446744073709551615"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MariaDBErrant(tc.old, tc.base, tc.server)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("MariaDBErrant(%q, %q, %d) = %+v, want %+v", tc.old, tc.base, tc.server, got, tc.want)
			}
			if tc.wantString != "" && got.String() != tc.wantString {
				t.Fatalf("String() = %q, want %q", got.String(), tc.wantString)
			}
			if tc.want.Count == 0 && got.String() != "" {
				t.Fatalf("String() = %q for no errant transactions", got.String())
			}
		})
	}
	if _, err := MariaDBErrant("0-1-x", "", 1); err == nil || !strings.Contains(err.Error(), "old master's state") || !strings.Contains(err.Error(), `"0-1-x"`) {
		t.Errorf("bad old state: %v", err)
	}
	if _, err := MariaDBErrant("0-1-5", "0-1", 1); err == nil || !strings.Contains(err.Error(), "new holder's position") {
		t.Errorf("bad base: %v", err)
	}
}

const (
	uuidA = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	uuidB = "8a94f357-aab4-11df-86ab-c80aa9429563"
)

func TestParseMySQLGTIDSet(t *testing.T) {
	for _, tc := range []struct {
		in, want, wantErr string
	}{
		{in: "", want: ""},
		{in: uuidA + ":1-5", want: uuidA + ":1-5"},
		{in: uuidA + ":1-5:7", want: uuidA + ":1-5:7"},
		{in: uuidA + ":7:1-5:6", want: uuidA + ":1-7"},       // merged and sorted
		{in: uuidA + ":1-5:3-9:11", want: uuidA + ":1-9:11"}, // overlap
		{in: uuidB + ":1-3,\n" + uuidA + ":1-5", want: uuidA + ":1-5," + uuidB + ":1-3"},
		{in: uuidA + ":1-2," + uuidA + ":3-4", want: uuidA + ":1-4"},
		{in: strings.ToUpper(uuidA) + ":1", want: uuidA + ":1"},
		{in: strings.ReplaceAll(uuidA, "-", "") + ":1", want: uuidA + ":1"},
		{in: uuidA + ":1-5:blue:1-3:7", want: uuidA + ":1-5:blue:1-3:7"},
		{in: uuidA + ":red:2," + uuidA + ":4", want: uuidA + ":4:red:2"},
		{in: uuidA + ":1-9223372036854775807", want: uuidA + ":1-9223372036854775807"},
		{in: "nope:1", wantErr: `element 1: "nope:1": "nope" is not a UUID`},
		{in: uuidA, wantErr: `has no transaction numbers`},
		{in: uuidA + ":", wantErr: `transaction number "" is not in 1..`},
		{in: uuidA + ":0", wantErr: `transaction number "0"`},
		{in: uuidA + ":5-3", wantErr: `interval "5-3" ends before it starts`},
		{in: uuidA + ":1-9223372036854775808", wantErr: `"9223372036854775808" is not in 1..9223372036854775807`},
		{in: uuidA + ":1," + uuidB + ":x!", wantErr: `element 2: "` + uuidB + `:x!": "x!" is neither a transaction number nor a tag`},
		{in: uuidA + ":blue", wantErr: `"` + uuidA + `:blue" has no transaction numbers`},
		{in: uuidA + ":blue:red:1", wantErr: `"` + uuidA + `:blue" has no transaction numbers`},
		{in: uuidA + ":1,", wantErr: `element 2: "": "" is not a UUID`},
	} {
		s, err := ParseMySQLGTIDSet(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseMySQLGTIDSet(%q) = %v, %v; want error containing %q", tc.in, s, err, tc.wantErr)
			}
			continue
		}
		if err != nil || s.String() != tc.want {
			t.Errorf("ParseMySQLGTIDSet(%q) = %q, %v; want %q", tc.in, s, err, tc.want)
		}
	}
}

func mustMySQLSet(t *testing.T, s string) MySQLGTIDSet {
	t.Helper()
	set, err := ParseMySQLGTIDSet(s)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestMySQLGTIDSetArithmetic(t *testing.T) {
	for _, tc := range []struct {
		a, b, aMinusB string
	}{
		{a: "", b: "", aMinusB: ""},
		{a: uuidA + ":1-10", b: "", aMinusB: uuidA + ":1-10"},
		{a: uuidA + ":1-10", b: uuidA + ":1-10", aMinusB: ""},
		{a: uuidA + ":1-10", b: uuidA + ":1-5", aMinusB: uuidA + ":6-10"},
		{a: uuidA + ":1-10", b: uuidA + ":3-4:7", aMinusB: uuidA + ":1-2:5-6:8-10"},
		{a: uuidA + ":1-10", b: uuidA + ":1-20", aMinusB: ""},
		{a: uuidA + ":1-3:8-10", b: uuidA + ":2-9", aMinusB: uuidA + ":1:10"},
		{a: uuidA + ":1-5," + uuidB + ":1-3", b: uuidB + ":1-3", aMinusB: uuidA + ":1-5"},
		{a: uuidA + ":1-5:t:1-2", b: uuidA + ":1-5", aMinusB: uuidA + ":t:1-2"},
		{a: uuidA + ":9223372036854775800-9223372036854775807", b: uuidA + ":9223372036854775807", aMinusB: uuidA + ":9223372036854775800-9223372036854775806"},
	} {
		a, b := mustMySQLSet(t, tc.a), mustMySQLSet(t, tc.b)
		got := a.Subtract(b)
		if got.String() != tc.aMinusB {
			t.Errorf("%q − %q = %q, want %q", tc.a, tc.b, got, tc.aMinusB)
		}
		if contains := tc.aMinusB == ""; b.Contains(a) != contains {
			t.Errorf("%q contains %q: %v, want %v", tc.b, tc.a, b.Contains(a), contains)
		}
		if !a.Contains(got) || got.Subtract(a).Count() != 0 {
			t.Errorf("%q − %q = %q is not inside %q", tc.a, tc.b, got, tc.a)
		}
	}
}

func TestMySQLErrant(t *testing.T) {
	e, err := MySQLErrant(uuidA+":1-105,"+uuidB+":1-3", uuidA+":1-100,"+uuidB+":1-7")
	if err != nil {
		t.Fatal(err)
	}
	want := Errant{Count: 5, Ranges: []string{uuidA + ":101-105"}}
	if !reflect.DeepEqual(e, want) || e.String() != "5 transactions: "+uuidA+":101-105" {
		t.Fatalf("MySQLErrant = %+v (%q), want %+v", e, e, want)
	}
	e, err = MySQLErrant(uuidA+":1-5:7:t:3", uuidA+":1-4")
	if err != nil {
		t.Fatal(err)
	}
	want = Errant{Count: 3, Ranges: []string{uuidA + ":5", uuidA + ":7", uuidA + ":t:3"}}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("MySQLErrant = %+v, want %+v", e, want)
	}
	if e, err := MySQLErrant(uuidA+":1-5", uuidA+":1-9"); err != nil || e.Count != 0 || e.String() != "" {
		t.Fatalf("nothing errant: %+v, %v", e, err)
	}
	if _, err := MySQLErrant(uuidA+":1-5", "x:1"); err == nil || !strings.Contains(err.Error(), `new holder's gtid_executed: MySQL GTID set, element 1: "x:1"`) {
		t.Fatalf("bad base: %v", err)
	}
}

func FuzzParseMariaDBGTID(f *testing.F) {
	for _, s := range []string{"", "0-1-105", "0-1-105,0-2-100", " 1-2-3 ,\n4-5-6", "0-1", "0-1-5,0-1-6", "a-b-c", "0-1-18446744073709551615"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseMariaDBGTIDList(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		text := l.String()
		l2, err := ParseMariaDBGTIDList(text)
		if err != nil {
			t.Fatalf("%q parsed, its String %q does not: %v", s, text, err)
		}
		if !reflect.DeepEqual(l, l2) || l2.String() != text {
			t.Fatalf("round trip of %q: %v then %v", s, l, l2)
		}
		for _, g := range l {
			if e, err := MariaDBErrant(s, s, g.Server); err != nil || e.Count != 0 {
				t.Fatalf("MariaDBErrant(x, x) = %+v, %v; want none", e, err)
			}
			if _, err := MariaDBErrant(s, "", g.Server); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzParseMySQLGTIDSet(f *testing.F) {
	for _, s := range []string{"", uuidA + ":1-5", uuidA + ":1-5:7," + uuidB + ":1-3", uuidA + ":3-9:1-4:t:1", uuidA + ":5-3", "x:1", uuidA + ":0"} {
		f.Add(s)
	}
	other := MySQLGTIDSet{}
	if o, err := ParseMySQLGTIDSet(uuidA + ":2-4:9:t:1-2," + uuidB + ":1"); err == nil {
		other = o
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := ParseMySQLGTIDSet(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		text := set.String()
		set2, err := ParseMySQLGTIDSet(text)
		if err != nil {
			t.Fatalf("%q parsed, its String %q does not: %v", s, text, err)
		}
		if !set.Equal(set2) || set2.String() != text {
			t.Fatalf("round trip of %q: %q then %q", s, text, set2)
		}
		if !set.Subtract(set).IsEmpty() || !set.Contains(set) {
			t.Fatalf("%q − itself is not empty", text)
		}
		d := set.Subtract(other)
		if !set.Contains(d) || !d.Subtract(set).IsEmpty() {
			t.Fatalf("%q − %q = %q is not inside it", text, other, d)
		}
		// Nothing of other is left in d.
		if !other.Subtract(other.Subtract(d)).IsEmpty() {
			t.Fatalf("%q − %q = %q still shares transactions with %q", text, other, d, other)
		}
	})
}
