package health

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/meridian-gslb/meridian/gslb"
)

// Fingerprint identifies a defaulted Check by its content: two checks with
// the same fingerprint probe the same way. It is a hash, not a pointer, so
// every site computes the same value and remote observations (gossip) name
// targets the way local ones do.
type Fingerprint [16]byte

func (f Fingerprint) String() string { return hex.EncodeToString(f[:]) }

// Short is the first 8 hex digits, for metric labels and logs.
func (f Fingerprint) Short() string { return hex.EncodeToString(f[:4]) }

// Key identifies a Target: the probed address and port and the check.
// It is comparable; Monitor runs one prober per Key, however many services
// share it.
type Key struct {
	Addr  netip.Addr
	Port  uint16
	Check Fingerprint
}

// String is "addr:port#fingerprint", also the text form (JSON map keys,
// gossip).
func (k Key) String() string {
	return netip.AddrPortFrom(k.Addr, k.Port).String() + "#" + k.Check.String()
}

// MarshalText writes String.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads the String form.
func (k *Key) UnmarshalText(b []byte) error {
	ap, fp, ok := strings.Cut(string(b), "#")
	if !ok {
		return fmt.Errorf("health key %q: want addr:port#fingerprint", b)
	}
	a, err := netip.ParseAddrPort(ap)
	if err != nil {
		return fmt.Errorf("health key %q: %w", b, err)
	}
	raw, err := hex.DecodeString(fp)
	if err != nil || len(raw) != len(k.Check) {
		return fmt.Errorf("health key %q: bad fingerprint", b)
	}
	k.Addr, k.Port = a.Addr(), a.Port()
	copy(k.Check[:], raw)
	return nil
}

// Target is one thing to probe: an address and port (the probe address,
// which may differ from the VIP answered in DNS when the member is behind
// NAT) and a defaulted, validated Check. Build it with NewTarget.
type Target struct {
	Addr  netip.Addr
	Port  uint16
	Check Check
	key   Key
	// probe identifies what is probed and how it is judged, leaving out
	// the schedule (interval, fast_interval, timeout, rise, fall, jitter)
	// and load_from: a target whose check changes only there keeps its
	// state (Monitor.SetTargets).
	probe Fingerprint
}

// NewTarget returns the target that probes addr at port (0: the check's
// port) with c, compiled again with that port (see Compile): a Check from
// Compile passes unchanged, fields left unset get gslb's defaults, and a
// check the rule refuses is an error. The check's Port is the probed
// port, so a target's Check describes exactly what it does.
func NewTarget(addr netip.Addr, port uint16, c Check) (Target, error) {
	if !addr.IsValid() {
		return Target{}, errors.New("health target: invalid address")
	}
	spec := c.Spec()
	if port != 0 {
		spec.Port = port
	}
	c, err := Compile(&spec)
	if err != nil {
		return Target{}, err
	}
	return compiledTarget(addr, c), nil
}

// compiledTarget is NewTarget for a valid addr and a check from Compile
// with the probed port already set: nothing to compile again.
func compiledTarget(addr netip.Addr, c Check) Target {
	t := Target{Addr: addr.Unmap(), Port: c.Port, Check: c}
	t.key = Key{Addr: t.Addr, Port: t.Port, Check: c.fingerprint()}
	sched := c
	sched.Interval, sched.FastInterval, sched.Timeout, sched.Rise, sched.Fall, sched.Jitter = 0, 0, 0, 0, 0, Jitter{}
	// Where the load is read changes no verdict either: a check that
	// gains or changes load_from keeps its targets' state.
	sched.LoadFrom = ""
	t.probe = sched.fingerprint()
	return t
}

// Key returns the target's identity.
func (t Target) Key() Key { return t.key }

// AddrPort is where the probe connects.
func (t Target) AddrPort() netip.AddrPort { return netip.AddrPortFrom(t.Addr, t.Port) }

// Label is "addr:port/kind", the target's name in metrics, logs and the
// status list. It is not unique when two checks of one kind probe the same
// port (say two HTTP paths); the metrics add the fingerprint for that.
func (t Target) Label() string { return t.AddrPort().String() + "/" + string(t.Check.Kind) }

// fingerprint hashes every field of a defaulted check that changes how it
// probes or judges, each length-prefixed so no two checks collide by
// concatenation. The expected statuses are sorted: their order means
// nothing.
func (c *Check) fingerprint() Fingerprint {
	h := sha256.New()
	str := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	num := func(v int64) { str(strconv.FormatInt(v, 10)) }
	str("check/v1")
	str(string(c.Kind))
	num(int64(c.Port))
	num(int64(c.Interval))
	num(int64(c.Timeout))
	num(int64(c.Rise))
	num(int64(c.Fall))
	num(int64(c.Jitter.Duration))
	str(strconv.FormatFloat(c.Jitter.Fraction, 'g', -1, 64))
	str(strconv.FormatBool(c.Jitter.Off))
	str(c.Method)
	str(c.Path)
	str(c.Host)
	codes := slices.Clone(c.ExpectStatus)
	slices.SortFunc(codes, func(a, b StatusRange) int {
		if a.Low != b.Low {
			return a.Low - b.Low
		}
		return a.High - b.High
	})
	num(int64(len(codes)))
	for _, r := range codes {
		str(r.String())
	}
	str(c.BodyContains)
	str(c.SNI)
	str(strconv.FormatBool(c.TLSSkipVerify))
	str("") // was a CA file name: kept so keys match those of older sites
	str(c.CAPEM)
	if c.FastInterval != gslb.DefaultFastInterval(c.Interval) {
		// Only when not the default, which the interval already fixes:
		// checks that leave fast_interval unset keep the keys of sites
		// that predate it.
		str("fast_interval")
		num(int64(c.FastInterval))
	}
	if c.LoadFrom != "" {
		// Only when set, as fast_interval: checks without it keep their
		// keys. The text is canonical (CheckFromSpec), so "header:x-load"
		// and "header:X-Load" are one check.
		str("load_from")
		str(c.LoadFrom)
	}
	var f Fingerprint
	copy(f[:], h.Sum(nil))
	return f
}
