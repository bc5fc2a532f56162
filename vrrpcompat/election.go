package vrrpcompat

import (
	"net/netip"
	"time"
)

// ForeignWins reports whether a master advertising theirPriority from
// theirAddr beats us (ourPriority, advertising from ourAddr), by the rule
// of RFC 3768 6.4.3 and RFC 5798 6.4.3: the higher priority wins; on equal
// priority the higher primary IPv4 address wins. Priority 0 means "this
// master is giving up" and never wins. An advert from our own address at
// our own priority does not win (keepalived logs it as a conflict).
func ForeignWins(ourPriority uint8, ourAddr netip.Addr, theirPriority uint8, theirAddr netip.Addr) bool {
	switch {
	case theirPriority == 0:
		return false
	case theirPriority != ourPriority:
		return theirPriority > ourPriority
	default:
		return theirAddr.Compare(ourAddr) > 0
	}
}

// SkewTime is how much longer than 3 intervals a backup of the given
// priority waits before it declares the master down: RFC 3768 says
// (256 - priority)/256 s, RFC 5798 scales it by the master's interval
// ((256 - priority) * interval / 256). It is also how long a backup waits
// after a priority-0 advert. keepalived computes it the same way.
func SkewTime(version int, interval time.Duration, priority uint8) time.Duration {
	unit := time.Second
	if version == 3 {
		unit = interval
	}
	return time.Duration(256-int64(priority)) * unit / 256
}

// MasterDownInterval is how long a backup of the given priority waits
// without adverts before it takes over: 3 × interval + SkewTime.
func MasterDownInterval(version int, interval time.Duration, priority uint8) time.Duration {
	return 3*interval + SkewTime(version, interval, priority)
}
