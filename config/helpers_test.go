package config

import (
	"fmt"
	"strings"
	"testing"
)

func fmtAny(v any) string { return fmt.Sprintf("%v %+v %#v", v, v, v) }

// plaintext is appended by parse to a config that has neither a tls block
// nor insecure_plaintext, so the many cases written before TLS was required
// keep their line numbers and test what they were written for.
const plaintext = "insecure_plaintext = true\n"

func withPlaintext(src []byte) []byte {
	s := string(src)
	if strings.Contains(s, "insecure_plaintext") || strings.Contains(s, "tls {") {
		return src
	}
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return []byte(s + plaintext)
}

// parse is Parse with withPlaintext, without the warning that the
// appended line causes.
func parse(src []byte, name string) (*Config, error) {
	with := withPlaintext(src)
	cfg, err := Parse(with, name)
	if cfg != nil && len(with) != len(src) {
		var ws []Error
		for _, w := range cfg.Warnings {
			if !strings.HasPrefix(w.Msg, "insecure_plaintext = true:") {
				ws = append(ws, w)
			}
		}
		cfg.Warnings = ws
	}
	return cfg, err
}

// onlyPlaintextWarning checks that ws is the one insecure_plaintext warning
// and returns nil.
func onlyPlaintextWarning(t *testing.T, ws []Error) []Error {
	t.Helper()
	if len(ws) != 1 || !strings.HasPrefix(ws[0].Msg, "insecure_plaintext = true: the cluster port") {
		t.Errorf("warnings %v, want the insecure_plaintext one only", ws)
	}
	return nil
}
