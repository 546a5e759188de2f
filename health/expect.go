package health

import (
	"fmt"
	"strconv"
	"strings"
)

// StatusRange is an inclusive range of HTTP status codes; a single code is
// a range with Low == High. Its text form is "200" or "200-399", so it
// decodes straight from a configuration file or JSON string.
type StatusRange struct {
	Low  int `json:"low"`
	High int `json:"high"`
}

// ParseStatusRange parses "200" or "200-399". Bounds are checked by
// Check.Validate, so that a file with several mistakes reports all of them.
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

// statusOK reports whether code is in any of the ranges.
func statusOK(code int, ranges []StatusRange) bool {
	for _, r := range ranges {
		if r.Contains(code) {
			return true
		}
	}
	return false
}
