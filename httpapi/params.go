package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/health"
)

// Page sizes of the list endpoints (/api/v1/services, /api/v1/health).
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// params are the query parameters of one request, checked against the
// endpoint's list: an unknown or repeated parameter is a 400 that names
// it, because a typo ("servce=") must not silently return everything.
type params map[string]string

// queryParams reads r's query; false when it answered 400.
func queryParams(w http.ResponseWriter, r *http.Request, allowed ...string) (params, bool) {
	q := r.URL.Query()
	var unknown []string
	out := make(params, len(q))
	for name, values := range q {
		if !slices.Contains(allowed, name) {
			unknown = append(unknown, strconv.Quote(name))
			continue
		}
		if len(values) > 1 {
			badRequest(w, fmt.Sprintf("%s: given %d times, want it once", name, len(values)))
			return nil, false
		}
		out[name] = values[0]
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		want := "none"
		if len(allowed) > 0 {
			want = strings.Join(allowed, ", ")
		}
		badRequest(w, fmt.Sprintf("unknown parameter %s: this endpoint takes %s", strings.Join(unknown, ", "), want))
		return nil, false
	}
	return out, true
}

// listQuery is what a list endpoint was asked for: a page and filters.
// Every filter is optional; together they all apply (and).
type listQuery struct {
	limit  int
	cursor cursor
	// service is one service's canonical name (any case, final dot
	// optional in the query).
	service string
	// prefix keeps the names that start with it, lower-cased; the final
	// dot is not added, so "app1" matches app1. and app10.
	prefix string
	// site keeps what has a member at that site (the configured name).
	site string
	// state is up, down or unknown (/api/v1/health only).
	state string
}

// listParams are the parameters every list endpoint takes.
var listParams = []string{"limit", "cursor", "service", "prefix", "site"}

// parseList reads the list parameters of p; the error names the
// parameter. The site is checked against st later (404 when unknown).
func parseList(p params) (listQuery, error) {
	lq := listQuery{limit: defaultLimit, service: gslb.CanonicalName(p["service"]), prefix: strings.ToLower(p["prefix"])}
	if s, ok := p["limit"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return lq, fmt.Errorf("limit: want a number from 1 to %d, got %q", maxLimit, s)
		}
		lq.limit = n
	}
	if s, ok := p["cursor"]; ok {
		c, err := parseCursor(s)
		if err != nil {
			return lq, err
		}
		lq.cursor = c
	}
	if s, ok := p["state"]; ok {
		lq.state = strings.ToLower(s)
		if !slices.Contains([]string{"up", "down", "unknown"}, lq.state) {
			return lq, fmt.Errorf("state: want up, down or unknown, got %q", s)
		}
	}
	lq.site = strings.TrimSpace(p["site"])
	return lq, nil
}

// cursor is where the next page starts: after the last service and the
// last target the previous page listed. It names them rather than their
// positions (keyset paging), so a page after a reload starts at the right
// place even when services came or went in between.
type cursor struct {
	Service string `json:"s,omitempty"`
	Target  string `json:"t,omitempty"` // a health.Key's text
	// ServicesDone and TargetsDone say the list is over (/api/v1/health
	// pages both lists at once; one may end before the other).
	ServicesDone bool `json:"sd,omitempty"`
	TargetsDone  bool `json:"td,omitempty"`

	targetKey health.Key // Target, parsed
}

// String is the opaque form clients pass back as ?cursor=.
func (c cursor) String() string {
	b, _ := json.Marshal(c) // strings and bools: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

var errCursor = fmt.Errorf(`cursor: not a cursor from this API (pass the "next" of the previous page as it is)`)

func parseCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, errCursor
	}
	var c cursor
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return cursor{}, errCursor
	}
	if c.Target != "" && c.targetKey.UnmarshalText([]byte(c.Target)) != nil {
		return cursor{}, errCursor
	}
	return c, nil
}

// siteFilter resolves the site parameter against st (config's rule: any
// case); false when it answered 404.
func siteFilter(w http.ResponseWriter, st *gslb.State, lq *listQuery) bool {
	if lq.site == "" {
		return true
	}
	site := config.FindSite(st, lq.site)
	if site == "" {
		writeError(w, http.StatusNotFound, fmt.Sprintf("site: unknown site %q", lq.site))
		return false
	}
	lq.site = site
	return true
}
