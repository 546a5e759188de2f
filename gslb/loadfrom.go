package gslb

import (
	"fmt"
	"net/textproto"
	"strings"
)

// Where an HTTP check reads a member's load (HealthCheck.LoadFrom), as
// PowerDNS' pickselfweighted reads a backend's weight: the backend knows
// its own load, and the probe that already asks it whether it is healthy
// can carry the answer.
const (
	// LoadFromHeader: a response header holds the number ("header:X-Load").
	LoadFromHeader = "header"
	// LoadFromJSON: a field of a JSON body holds it, by a dotted path of
	// object keys ("json:load" or "json:stats.cpu").
	LoadFromJSON = "json"
	// LoadFromBody: the body is the number, as plain text ("body").
	LoadFromBody = "body"

	// LoadFromCapacity prefixes any of them when the backend reports the
	// share of its capacity still free (0 to 1) rather than its load
	// ("capacity:header:X-Capacity"), as pickselfweighted's backends
	// report what they can take: the load is then 1 - capacity.
	LoadFromCapacity = "capacity"
)

// MaxLoadBody is the most bytes of a response read for a body or JSON
// load: a status document, not a page.
const MaxLoadBody = 64 << 10

// LoadFrom is HealthCheck.LoadFrom parsed.
type LoadFrom struct {
	Kind string // LoadFromHeader, LoadFromJSON or LoadFromBody
	// Name is the header's canonical name, or the JSON path's keys.
	Name string
	Path []string
	// Capacity: the number read is the free share of capacity, not the
	// load (LoadFromCapacity).
	Capacity bool
}

// Load is the member's load for a number v read by lf: v itself, or for
// a capacity 1 - v, so that watermarks, shedding and spare_weights read
// every signal as a load (with high 1, spare_weights scales a weight by
// the capacity reported). v is a finite number >= 0; a capacity above 1
// is an error, since a share cannot be.
func (lf LoadFrom) Load(v float64) (float64, error) {
	if !lf.Capacity {
		return v, nil
	}
	if v > 1 {
		return 0, fmt.Errorf("%g is above 1: a capacity is the free share, 0 to 1", v)
	}
	return 1 - v, nil
}

// String is lf's canonical text, which ParseLoadFrom reads back:
// "[capacity:]header:<Canonical-Name>", "[capacity:]json:<path>" or
// "[capacity:]body"; "" for none.
func (lf LoadFrom) String() string {
	var s string
	switch lf.Kind {
	case LoadFromHeader, LoadFromJSON:
		s = lf.Kind + ":" + lf.Name
	case LoadFromBody:
		s = lf.Kind
	default:
		return ""
	}
	if lf.Capacity {
		s = LoadFromCapacity + ":" + s
	}
	return s
}

// ParseLoadFrom reads "header:<name>", "json:<path>" or "body", each
// with an optional "capacity:" before it. The rule is defined here once:
// Validate calls it, and the health prober reads the response by what it
// returns.
func ParseLoadFrom(s string) (LoadFrom, error) {
	t := strings.TrimSpace(s)
	capacity := false
	if prefix, rest, ok := strings.Cut(t, ":"); ok && strings.EqualFold(prefix, LoadFromCapacity) {
		capacity, t = true, rest
	}
	lf, err := parseLoadSource(t, s)
	if err != nil {
		return LoadFrom{}, err
	}
	lf.Capacity = capacity
	return lf, nil
}

// parseLoadSource parses t, the part of s after any "capacity:".
func parseLoadSource(t, s string) (LoadFrom, error) {
	kind, arg, _ := strings.Cut(t, ":")
	kind = strings.ToLower(kind)
	switch kind {
	case LoadFromHeader:
		if !isToken(arg) {
			return LoadFrom{}, fmt.Errorf("want header:<name> with a header name, got %q", s)
		}
		return LoadFrom{Kind: kind, Name: textproto.CanonicalMIMEHeaderKey(arg)}, nil
	case LoadFromJSON:
		path := strings.Split(arg, ".")
		for _, k := range path {
			if k == "" {
				return LoadFrom{}, fmt.Errorf("want json:<key> or json:<key>.<key>..., got %q", s)
			}
		}
		return LoadFrom{Kind: kind, Name: arg, Path: path}, nil
	case LoadFromBody:
		if arg != "" {
			return LoadFrom{}, fmt.Errorf("body takes no argument, got %q", s)
		}
		return LoadFrom{Kind: kind}, nil
	}
	return LoadFrom{}, fmt.Errorf("want header:<name>, json:<path> or body, optionally after capacity:, got %q", s)
}
