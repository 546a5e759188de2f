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
}

// ParseLoadFrom reads "header:<name>", "json:<path>" or "body". The rule
// is defined here once: Validate calls it, and the health prober reads
// the response by what it returns.
func ParseLoadFrom(s string) (LoadFrom, error) {
	kind, arg, _ := strings.Cut(strings.TrimSpace(s), ":")
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
	return LoadFrom{}, fmt.Errorf("want header:<name>, json:<path> or body, got %q", s)
}
