package mysqlcheck

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct {
		dsn, want, secret string
	}{
		{"checker:pw1@tcp(127.0.0.1:3306)/db", "checker:****@tcp(127.0.0.1:3306)/db", "pw1"},
		{"checker:p@ss:w/rd@tcp(db1:3306)/?timeout=1s", "checker:****@tcp(db1:3306)/?timeout=1s", "p@ss:w/rd"},
		{"checker:pw2@unix(/run/mysqld/mysqld.sock)/", "checker:****@unix(/run/mysqld/mysqld.sock)/", "pw2"},
		{"checker:pw3@/db", "checker:****@/db", "pw3"},
		{"checker:pw4/db", "checker:****/db", "pw4"}, // forgot the '@'
		{"checker:pw5", "checker:****", "pw5"},       // not a DSN at all
		{"checker:pw6@tcp(h)/db?loc=Europe/Paris", "checker:****@tcp(h)/db?loc=Europe/Paris", "pw6"},
		{"checker@tcp(127.0.0.1:3306)/db", "checker@tcp(127.0.0.1:3306)/db", ""},
		{"tcp(127.0.0.1:3306)/db", "tcp(127.0.0.1:3306)/db", ""},
		{"/", "/", ""},
		{"", "", ""},
	} {
		got := Redact(tc.dsn)
		if got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
		if tc.secret != "" && strings.Contains(got, tc.secret) {
			t.Errorf("Redact(%q) = %q still contains %q", tc.dsn, got, tc.secret)
		}
	}
}

func TestScrubberRemovesPassword(t *testing.T) {
	s := newScrubber("checker:"+testPassword+"@tcp(h:3306)/", testPassword)
	got := s.scrub("dial failed for checker:" + testPassword + " twice " + testPassword)
	if strings.Contains(got, testPassword) || strings.Count(got, redactedPassword) != 2 {
		t.Fatalf("scrub = %q", got)
	}
}
