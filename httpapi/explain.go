package httpapi

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/meridian-gslb/meridian/gslb"
)

// ExplainResponse is the body of /api/v1/explain; `meridian explain`
// decodes the same type.
type ExplainResponse struct {
	Generation uint64        `json:"generation"`
	Query      ExplainQuery  `json:"query"`
	Answer     ExplainAnswer `json:"answer"`
	Trace      *gslb.Trace   `json:"trace"`
	// Note warns when the answer is not the whole story, e.g. static
	// records that the DNS server answers and explain does not cover.
	Note string `json:"note,omitempty"`
}

// ExplainQuery is the question explained, as the server read it.
type ExplainQuery struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Client string `json:"client"`
	// SourcePrefix is the ECS source prefix length; the full address
	// length when the client was given as a plain address.
	SourcePrefix int `json:"source_prefix"`
}

// ExplainAnswer is what gslb.Select answers, and why (Rule, Reason).
type ExplainAnswer struct {
	Result      string   `json:"result"`
	Addresses   []string `json:"addresses"`
	Target      string   `json:"target,omitempty"`
	TTL         uint32   `json:"ttl"`
	ScopePrefix uint8    `json:"scope_prefix"`
	Site        string   `json:"site,omitempty"`
	Degraded    bool     `json:"degraded"`
	Zone        string   `json:"zone,omitempty"`
	Rule        string   `json:"rule"`
	Reason      string   `json:"reason"`
}

// explain runs gslb.Explain on the current snapshot:
// GET /api/v1/explain?name=app.example.&type=AAAA&client=192.0.2.0/24
func (a *API) explain(w http.ResponseWriter, r *http.Request) {
	q, ok := queryParams(w, r, "name", "type", "client")
	if !ok {
		return
	}
	name := gslb.CanonicalName(q["name"])
	if name == "" {
		badRequest(w, "name: required, the DNS name to explain")
		return
	}
	if err := gslb.CheckName(name); err != nil {
		badRequest(w, "name: "+err.Error())
		return
	}
	qtype, typeName, err := ParseQType(q["type"])
	if err != nil {
		badRequest(w, "type: "+err.Error())
		return
	}
	client, bits, err := ParseClient(q["client"])
	if err != nil {
		badRequest(w, "client: "+err.Error())
		return
	}
	snap := a.Store.Load()
	if snap == nil {
		writeError(w, http.StatusServiceUnavailable, "no configuration published yet")
		return
	}
	ans, trace := gslb.Explain(snap, gslb.Query{Name: name, Type: qtype, Client: client, SourcePrefix: bits, Rand: rand.Uint64()})
	resp := ExplainResponse{
		Generation: snap.Generation(),
		Query:      ExplainQuery{Name: name, Type: typeName, Client: netip.PrefixFrom(client, bits).String(), SourcePrefix: bits},
		Answer:     answerOf(&ans),
		Trace:      trace,
		Note:       staticNote(&ans, name),
	}
	if note := a.staleNote(trace); note != "" {
		resp.Note = strings.TrimPrefix(resp.Note+"; "+note, "; ")
	}
	a.Log.Debug("explain", "name", name, "type", typeName, "client", resp.Query.Client,
		"result", resp.Answer.Result, "addresses", resp.Answer.Addresses, "reason", resp.Answer.Reason)
	writeJSON(w, http.StatusOK, resp)
}

// staleNote names the members that come from a member cluster the
// leader cannot reach: they are its last-known objects.
func (a *API) staleNote(t *gslb.Trace) string {
	if a.Kube == nil || t == nil {
		return ""
	}
	staleSite, clusters := a.Kube.StaleSites()
	if len(staleSite) == 0 {
		return ""
	}
	var members []string
	for _, m := range t.Members {
		if staleSite[m.Site] {
			members = append(members, m.Member)
		}
	}
	if len(members) == 0 {
		return ""
	}
	return fmt.Sprintf("stale: %s come from member clusters the leader cannot reach now (%s); they are their last-known state", strings.Join(members, ", "), strings.Join(clusters, ", "))
}

func answerOf(a *gslb.Answer) ExplainAnswer {
	out := ExplainAnswer{
		Result: a.Result.String(), Addresses: []string{}, Target: a.Target, TTL: a.TTL,
		ScopePrefix: a.ScopePrefix, Site: a.Site, Degraded: a.Degraded,
		Rule: a.Reason.Rule.String(), Reason: a.Reason.String(),
	}
	for _, ip := range a.Addrs() {
		out.Addresses = append(out.Addresses, ip.String())
	}
	if a.Zone != nil {
		out.Zone = a.Zone.Name
	}
	return out
}

// staticNote says when the name has static records: gslb.Explain only
// knows services, so it says NXDOMAIN for a name that the DNS server
// answers from the zone's records.
func staticNote(a *gslb.Answer, name string) string {
	if a.Zone == nil || a.Service != nil {
		return ""
	}
	for _, rec := range a.Zone.Records {
		if recordOwner(rec, a.Zone.Name) == name {
			return fmt.Sprintf("%s has static records in zone %s; the DNS server answers them from the zone data, explain covers GSLB services only", name, a.Zone.Name)
		}
	}
	return ""
}

// recordOwner is the owner name of a one-line presentation-format record,
// made absolute against zone; "" when the line has none.
func recordOwner(rec, zone string) string {
	if rec == "" || rec[0] == ' ' || rec[0] == '\t' {
		return "" // no owner: it continues the previous one
	}
	f := strings.Fields(rec)
	if len(f) == 0 || strings.HasPrefix(f[0], ";") || strings.HasPrefix(f[0], "$") {
		return ""
	}
	switch o := strings.ToLower(f[0]); {
	case o == "@":
		return zone
	case strings.HasSuffix(o, "."):
		return o
	case zone == ".":
		return o + "."
	default:
		return o + "." + zone
	}
}

// ParseQType reads the type parameter: A (the default), AAAA, or a
// number. Other types are NODATA for a service, which a number shows.
func ParseQType(s string) (uint16, string, error) {
	switch u := strings.ToUpper(strings.TrimSpace(s)); u {
	case "", "A":
		return gslb.TypeA, "A", nil
	case "AAAA":
		return gslb.TypeAAAA, "AAAA", nil
	default:
		n, err := strconv.ParseUint(strings.TrimPrefix(u, "TYPE"), 10, 16)
		if err != nil || n == 0 {
			return 0, "", fmt.Errorf("want A, AAAA or a type number, got %q", s)
		}
		switch uint16(n) {
		case gslb.TypeA:
			return gslb.TypeA, "A", nil
		case gslb.TypeAAAA:
			return gslb.TypeAAAA, "AAAA", nil
		}
		return uint16(n), "TYPE" + strconv.FormatUint(n, 10), nil
	}
}

// ParseClient reads "IP" or "IP/LEN". A prefix is what a resolver sends
// as EDNS Client Subnet: the client is the masked network, the source
// prefix its length. A plain address is a client without ECS.
func ParseClient(s string) (netip.Addr, int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}, 0, fmt.Errorf("required, an IP address or a prefix such as 192.0.2.0/24")
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Addr{}, 0, fmt.Errorf("%q is not an IP address", s)
		}
		a = a.Unmap()
		return a, a.BitLen(), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("%q is not an IP address or prefix", s)
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if p.Bits() == 0 {
		// A resolver sending /0 asks not to be located by subnet; the DNS
		// server then uses the resolver's own address, which explain
		// does not have.
		return netip.Addr{}, 0, fmt.Errorf("a /0 prefix says nothing about the client; give the resolver's address instead")
	}
	p = p.Masked()
	return p.Addr(), p.Bits(), nil
}
