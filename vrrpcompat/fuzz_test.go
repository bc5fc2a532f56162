package vrrpcompat

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// decodeErrors are all the errors Decode may return (wrapped).
var decodeErrors = []error{ErrTooShort, ErrVersion, ErrType, ErrVRIDZero, ErrLength, ErrChecksum, ErrInterval, ErrAuthType, ErrNotIPv4}

func addr4(u uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
}

// FuzzDecode feeds arbitrary bytes to Decode. It must never panic, must only
// return its typed errors, and whatever it accepts must survive a round
// trip: Encode succeeds, decoding that gives the same Advert, and the bytes
// are the input's, except for the two things RFCs tell a receiver to
// tolerate and Encode normalises: the 4 reserved bits of version 3 (sent as
// zero) and a checksum of 0xffff where 0x0000 is computed (the same value
// in one's complement arithmetic).
//
// Random bytes rarely carry a valid checksum, so every input is also tried
// with its checksum repaired: that lets the fuzzer reach the checks behind
// the checksum.
//
// Seeds are in testdata/fuzz/FuzzDecode. Short run:
//
//	go test -run='^$' -fuzz='^FuzzDecode$' -fuzztime=10s ./vrrpcompat/
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, src4, dst4 uint32) {
		src, dst := addr4(src4), addr4(dst4)
		roundTrip(t, b, src, dst)
		if len(b) >= headerLen {
			roundTrip(t, fixChecksum(b, src, dst), src, dst)
		}
	})
}

func roundTrip(t *testing.T, b []byte, src, dst netip.Addr) {
	t.Helper()
	a, err := Decode(b, src, dst)
	if err != nil {
		known := false
		for _, e := range decodeErrors {
			known = known || errors.Is(err, e)
		}
		if !known {
			t.Fatalf("Decode(% x) returned an untyped error: %v", b, err)
		}
		if !reflect.DeepEqual(a, Advert{}) {
			t.Fatalf("Decode(% x) returned %v with error %v", b, a, err)
		}
		return
	}
	enc, err := a.Encode(src, dst)
	if err != nil {
		t.Fatalf("Decode(% x) = %v, but Encode fails: %v", b, a, err)
	}
	a2, err := Decode(enc, src, dst)
	if err != nil {
		t.Fatalf("Decode(Encode(%v)) = %v (bytes % x)", a, err, enc)
	}
	if a2.Checksum != uint16(enc[6])<<8|uint16(enc[7]) {
		t.Fatalf("second Decode checksum %#04x, bytes say % x", a2.Checksum, enc[6:8])
	}
	enc2, err := a2.Encode(src, dst)
	if err != nil || !bytes.Equal(enc2, enc) {
		t.Fatalf("Encode is not stable: % x then % x (%v)", enc, enc2, err)
	}
	// The decoded fields must be equal apart from the checksum, which is
	// compared through the bytes below.
	a1, a2c := a, a2
	a1.Checksum, a2c.Checksum = 0, 0
	if !reflect.DeepEqual(a1, a2c) {
		t.Fatalf("round trip changed the advert:\n %#v\n %#v", a, a2)
	}
	want := bytes.Clone(b)
	if a.Version == 3 {
		want[4] &= 0x0f
	}
	if len(enc) != len(want) {
		t.Fatalf("Encode gave %d bytes for a %d-byte input", len(enc), len(b))
	}
	for i := range enc {
		if i == 6 || i == 7 {
			continue
		}
		if enc[i] != want[i] {
			t.Fatalf("round trip changed byte %d:\n in  % x\n out % x", i, b, enc)
		}
	}
	reserved := a.Version == 3 && b[4]&0xf0 != 0
	if !reserved && !bytes.Equal(enc[6:8], b[6:8]) && !(bytes.Equal(b[6:8], []byte{0xff, 0xff}) && bytes.Equal(enc[6:8], []byte{0, 0})) {
		t.Fatalf("round trip changed the checksum % x -> % x", b[6:8], enc[6:8])
	}
	if !reserved && a.Checksum != a2.Checksum && a.Checksum != 0xffff {
		t.Fatalf("checksum %#04x decoded, %#04x after round trip", a.Checksum, a2.Checksum)
	}
}

// The seed corpus must hold the real captures and every error class, or
// the short fuzz run in `make test` starts from too little.
func TestFuzzSeedsCoverErrors(t *testing.T) {
	seeds := readFuzzSeeds(t, "testdata/fuzz/FuzzDecode")
	if len(seeds) < 10 {
		t.Fatalf("%d seeds in testdata/fuzz/FuzzDecode", len(seeds))
	}
	seen := map[error]bool{}
	accepted := 0
	for _, s := range seeds {
		_, err := Decode(s.b, addr4(s.src), addr4(s.dst))
		if err == nil {
			accepted++
		}
		for _, e := range decodeErrors {
			if errors.Is(err, e) {
				seen[e] = true
			}
		}
	}
	if accepted < 4 {
		t.Errorf("only %d seeds decode", accepted)
	}
	for _, e := range decodeErrors {
		// The fuzz arguments are IPv4 addresses, so ErrNotIPv4 (an IPv6
		// or missing pseudo-header address) is covered by
		// TestDecodeErrors instead.
		if !seen[e] && e != ErrNotIPv4 {
			t.Errorf("no seed triggers %v", e)
		}
	}
}

type fuzzSeed struct {
	b        []byte
	src, dst uint32
}

// readFuzzSeeds reads the corpus files ("go test fuzz v1", then one line
// per argument: []byte("..."), uint32(N), uint32(N)).
func readFuzzSeeds(t *testing.T, dir string) []fuzzSeed {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []fuzzSeed
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 4 || lines[0] != "go test fuzz v1" {
			t.Fatalf("%s: not a 3-argument corpus file", e.Name())
		}
		var s fuzzSeed
		lit, ok := strings.CutPrefix(lines[1], "[]byte(")
		if !ok {
			t.Fatalf("%s: first argument %q", e.Name(), lines[1])
		}
		str, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		s.b = []byte(str)
		for i, p := range []*uint32{&s.src, &s.dst} {
			num, ok := strings.CutPrefix(lines[2+i], "uint32(")
			if !ok {
				t.Fatalf("%s: argument %d %q", e.Name(), 2+i, lines[2+i])
			}
			v, err := strconv.ParseUint(strings.TrimSuffix(num, ")"), 0, 32)
			if err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
			*p = uint32(v)
		}
		out = append(out, s)
	}
	return out
}

// FuzzInspect feeds arbitrary datagrams to the receive path behind the
// socket (IPv4 header, Decode, Check). It must never panic, and whatever
// it accepts must be a valid advert for the expectation.
func FuzzInspect(f *testing.F) {
	for _, p := range []string{"testdata/v2-multicast-pass.pcap", "testdata/v3-multicast-2vips.pcap"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		// Skip the pcap global and record headers and the Ethernet header.
		f.Add(b[24+16+14:], false)
	}
	f.Add([]byte{0x45, 0, 0, 20}, true)
	want2 := ExpectFor(seedV2, false)
	want3 := ExpectFor(Advert{Version: 3, VRID: 51, Interval: time.Second, Addresses: []netip.Addr{vip1, vip2}}, false)
	f.Fuzz(func(t *testing.T, pkt []byte, unicast bool) {
		for _, want := range []Expect{want2, want3} {
			want.Unicast = unicast
			r, err := inspect(pkt, want)
			if err != nil {
				_ = ReasonOf(err)
				continue
			}
			if r.Advert.VRID != want.VRID || r.Advert.Version != want.Version || (!unicast && r.TTL != TTL) {
				t.Fatalf("accepted %+v for %+v", r, want)
			}
		}
	})
}
