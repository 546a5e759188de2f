package gslb

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// The text forms of a HealthCheck's jitter and expected statuses, and the
// name checks of its host and method. The health package probes with the
// parsed values; Validate reports what does not parse.

// Jitter spreads probes in time so that targets added together (a whole
// snapshot at start-up) do not stay in lock-step, which would make every
// backend and the prober's own CPU see bursts once per interval.
//
// It is either a fraction of the interval (Fraction 0.1 = 10%) or a fixed
// Duration; Off turns it off explicitly (the zero value means "unset").
// Its text form is "10%", "250ms" or "0" (ParseJitter also reads "0.1" and
// "off").
type Jitter struct {
	Fraction float64
	Duration time.Duration
	Off      bool
}

// IsZero reports whether the jitter is unset.
func (j Jitter) IsZero() bool { return j == Jitter{} }

// Amount is the jitter J for a given interval.
func (j Jitter) Amount(interval time.Duration) time.Duration {
	switch {
	case j.Off:
		return 0
	case j.Duration > 0:
		return j.Duration
	default:
		return time.Duration(j.Fraction * float64(interval))
	}
}

// check returns a problem of j for the interval, or "".
func (j Jitter) check(interval time.Duration) string {
	switch {
	case j.Fraction != 0 && j.Duration != 0:
		return "set a fraction or a duration, not both"
	case j.Fraction < 0 || j.Fraction >= 1:
		return fmt.Sprintf("fraction must be in [0, 1), got %g", j.Fraction)
	case j.Duration < 0 || j.Duration > 0 && j.Duration >= interval:
		return fmt.Sprintf("must be less than interval (%v), got %v", interval, j.Duration)
	}
	return ""
}

// ParseJitter reads "10%", "0.1", "250ms", or "0" / "off" / "none"; ""
// is the unset Jitter. Bounds are Validate's to check.
func ParseJitter(s string) (Jitter, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "0", "0%", "0s", "off", "none":
		return Jitter{Off: true}, nil
	case "":
		return Jitter{}, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return Jitter{}, fmt.Errorf("jitter %q: want a percentage, fraction or duration", s)
		}
		return fractionJitter(f / 100), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return fractionJitter(f), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return Jitter{}, fmt.Errorf("jitter %q: want a percentage (10%%), fraction (0.1) or duration (250ms)", s)
	}
	if d == 0 {
		return Jitter{Off: true}, nil // "0ms" is off, not unset
	}
	return Jitter{Duration: d}, nil
}

// fractionJitter is f of the interval; 0 ("0.0") is off, not unset.
func fractionJitter(f float64) Jitter {
	if f == 0 {
		return Jitter{Off: true}
	}
	return Jitter{Fraction: f}
}

// String is the canonical text form; ParseJitter reads it back.
func (j Jitter) String() string {
	switch {
	case j.Off:
		return "0"
	case j.Duration != 0:
		return j.Duration.String()
	case j.Fraction == 0:
		return ""
	default:
		return strconv.FormatFloat(j.Fraction*100, 'g', 10, 64) + "%"
	}
}

// MarshalText writes the text form.
func (j Jitter) MarshalText() ([]byte, error) { return []byte(j.String()), nil }

// UnmarshalText reads the text form.
func (j *Jitter) UnmarshalText(b []byte) error {
	v, err := ParseJitter(string(b))
	if err != nil {
		return err
	}
	*j = v
	return nil
}

// StatusRange is an inclusive range of HTTP status codes; a single code is
// a range with Low == High. Its text form is "200" or "200-399".
type StatusRange struct {
	Low  int `json:"low"`
	High int `json:"high"`
}

// ParseStatusRange parses "200" or "200-399". Bounds are Validate's to
// check, so that a file with several mistakes reports all of them.
func ParseStatusRange(s string) (StatusRange, error) {
	s = strings.TrimSpace(s)
	lo, hi, isRange := strings.Cut(s, "-")
	l, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil {
		return StatusRange{}, fmt.Errorf("status %q: want a code (200) or a range (200-399)", s)
	}
	if !isRange {
		return StatusRange{Low: l, High: l}, nil
	}
	h, err := strconv.Atoi(strings.TrimSpace(hi))
	if err != nil {
		return StatusRange{}, fmt.Errorf("status %q: want a code (200) or a range (200-399)", s)
	}
	return StatusRange{Low: l, High: h}, nil
}

// ParseStatusRanges parses a list such as "200,204,300-399" (commas or
// spaces between items).
func ParseStatusRanges(s string) ([]StatusRange, error) {
	var out []StatusRange
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		r, err := ParseStatusRange(f)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func joinStatusRanges(rs []StatusRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

func (r StatusRange) String() string {
	if r.Low == r.High {
		return strconv.Itoa(r.Low)
	}
	return strconv.Itoa(r.Low) + "-" + strconv.Itoa(r.High)
}

// Contains reports whether code is in the range.
func (r StatusRange) Contains(code int) bool { return code >= r.Low && code <= r.High }

// MarshalText writes the "200-399" form.
func (r StatusRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads the "200" or "200-399" form.
func (r *StatusRange) UnmarshalText(b []byte) error {
	v, err := ParseStatusRange(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// splitHost splits a Host value into a canonical name (lower case, no
// final dot: a fully qualified service name is not what a server expects
// in Host or SNI) and its port, if any.
func splitHost(s string) (name, port string) {
	s = strings.TrimSpace(s)
	if h, p, err := net.SplitHostPort(s); err == nil {
		s, port = h, p
	}
	return strings.ToLower(strings.TrimSuffix(s, ".")), port
}

// isToken reports whether s is an RFC 9110 token (an HTTP method name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, b) >= 0 {
			return false
		}
	}
	return true
}

// isHostByte accepts letters, digits, '-' and '_' (seen in real service
// names even though RFC 952 forbids it).
func isHostByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_'
}

// validHost accepts a DNS name, an IP literal, or either with a port
// (RFC 9110 section 7.2: Host is uri-host [ ":" port ]).
func validHost(s string) bool {
	if h, p, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return false
		}
		s = h
	}
	if s == "" || len(s) > 253 {
		return false
	}
	if net.ParseIP(s) != nil {
		return true
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			if !isHostByte(label[i]) {
				return false
			}
		}
	}
	return true
}
