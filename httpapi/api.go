package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/meridian-gslb/meridian/gslb"
)

// api is the HTTP API: health, metrics and the read-only views of the
// running configuration. It reads the same Store as the DNS server, so
// explain answers from exactly the snapshot queries see.
type api struct {
	store   *gslb.Store
	pub     *publisher            // health, admin overrides, and the configuration behind the snapshot
	gossip  *gossip               // nil when standalone
	kube    *kubeLeader           // nil without kubernetes
	ready   func() (bool, string) // readiness and, when not ready, why
	metrics http.Handler
	log     *slog.Logger // explain requests at debug level, admin changes at info
}

func newAPI(s *server) *api {
	return &api{
		store:   s.store,
		pub:     s.pub,
		gossip:  s.gossip,
		kube:    s.kube,
		ready:   s.ready,
		metrics: promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}),
		log:     s.log,
	}
}

func (a *api) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /metrics", a.metrics)
	mux.HandleFunc("GET /api/v1/explain", a.explain)
	mux.HandleFunc("GET /api/v1/config", a.showConfig)
	mux.HandleFunc("GET /api/v1/services", a.services)
	mux.HandleFunc("GET /api/v1/health", a.health)
	mux.HandleFunc("GET /api/v1/sites", a.sites)
	mux.HandleFunc("GET /api/v1/kubernetes", a.kubernetes)
	mux.HandleFunc("GET /api/v1/admin", a.admin(a.listAdmin))
	mux.HandleFunc("PUT /api/v1/admin/sites/{site}", a.admin(a.setSite))
	mux.HandleFunc("DELETE /api/v1/admin/sites/{site}", a.admin(a.setSite))
	mux.HandleFunc("PUT /api/v1/admin/members/{service}/{member...}", a.admin(a.setMember))
	mux.HandleFunc("DELETE /api/v1/admin/members/{service}/{member...}", a.admin(a.setMember))
	return mux
}

// healthz says the process is alive: it answers as long as it runs.
func (a *api) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// readyz says whether to send DNS traffic here.
func (a *api) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if ok, why := a.ready(); !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %s\n", why)
		return
	}
	fmt.Fprintln(w, "ready")
}

// explainResponse is the body of /api/v1/explain; `meridian explain`
// decodes the same type.
type explainResponse struct {
	Generation uint64        `json:"generation"`
	Query      explainQuery  `json:"query"`
	Answer     explainAnswer `json:"answer"`
	Trace      *gslb.Trace   `json:"trace"`
	// Note warns when the answer is not the whole story, e.g. static
	// records that the DNS server answers and explain does not cover.
	Note string `json:"note,omitempty"`
}

type explainQuery struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Client string `json:"client"`
	// SourcePrefix is the ECS source prefix length; the full address
	// length when the client was given as a plain address.
	SourcePrefix int `json:"source_prefix"`
}

type explainAnswer struct {
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
func (a *api) explain(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := gslb.CanonicalName(q.Get("name"))
	if name == "" {
		badRequest(w, "name: required, the DNS name to explain")
		return
	}
	qtype, typeName, err := parseQType(q.Get("type"))
	if err != nil {
		badRequest(w, "type: "+err.Error())
		return
	}
	client, bits, err := parseClient(q.Get("client"))
	if err != nil {
		badRequest(w, "client: "+err.Error())
		return
	}
	snap := a.store.Load()
	if snap == nil {
		writeError(w, http.StatusServiceUnavailable, "no configuration published yet")
		return
	}
	ans, trace := gslb.Explain(snap, gslb.Query{Name: name, Type: qtype, Client: client, SourcePrefix: bits, Rand: rand.Uint64()})
	resp := explainResponse{
		Generation: snap.Generation(),
		Query:      explainQuery{Name: name, Type: typeName, Client: netip.PrefixFrom(client, bits).String(), SourcePrefix: bits},
		Answer:     answerOf(&ans),
		Trace:      trace,
		Note:       staticNote(&ans, name),
	}
	if note := a.staleNote(trace); note != "" {
		resp.Note = strings.TrimPrefix(resp.Note+"; "+note, "; ")
	}
	a.log.Debug("explain", "name", name, "type", typeName, "client", resp.Query.Client,
		"result", resp.Answer.Result, "addresses", resp.Answer.Addresses, "reason", resp.Answer.Reason)
	writeJSON(w, http.StatusOK, resp)
}

// staleNote names the members that come from a member cluster the
// leader cannot reach: they are its last-known objects.
func (a *api) staleNote(t *gslb.Trace) string {
	if a.kube == nil || t == nil {
		return ""
	}
	b := a.kube.ctrl.Last()
	if b == nil || len(b.Stale) == 0 {
		return ""
	}
	staleSite := map[string]bool{}
	for _, cl := range a.kube.ctrl.Status() {
		if slices.Contains(b.Stale, cl.Name) {
			staleSite[cl.Site] = true
		}
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
	return fmt.Sprintf("stale: %s come from member clusters the leader cannot reach now (%s); they are their last-known state", strings.Join(members, ", "), strings.Join(b.Stale, ", "))
}

func answerOf(a *gslb.Answer) explainAnswer {
	out := explainAnswer{
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

// parseQType reads the type parameter: A (the default), AAAA, or a
// number. Other types are NODATA for a service, which a number shows.
func parseQType(s string) (uint16, string, error) {
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

// parseClient reads "IP" or "IP/LEN". A prefix is what a resolver sends
// as EDNS Client Subnet: the client is the masked network, the source
// prefix its length. A plain address is a client without ECS.
func parseClient(s string) (netip.Addr, int, error) {
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

// configResponse is the body of /api/v1/config.
type configResponse struct {
	File       string `json:"file"`
	Generation uint64 `json:"generation"`
	Config     Config `json:"config"`
}

func (a *api) showConfig(w http.ResponseWriter, _ *http.Request) {
	l := a.pub.current.Load()
	writeJSON(w, http.StatusOK, configResponse{File: l.file, Generation: l.state.Generation, Config: l.config.Redacted()})
}

// servicesResponse is the body of /api/v1/services.
type servicesResponse struct {
	Generation uint64        `json:"generation"`
	Services   []serviceInfo `json:"services"`
}

type serviceInfo struct {
	Name        string       `json:"name"`
	Zone        string       `json:"zone"`
	Strategy    string       `json:"strategy"`
	TTL         uint32       `json:"ttl"`
	Persistence bool         `json:"persistence"`
	Down        string       `json:"down_response"`
	Members     []memberInfo `json:"members"`
}

type memberInfo struct {
	Site      string   `json:"site"`
	Addresses []string `json:"addresses,omitempty"`
	Hostname  string   `json:"hostname,omitempty"`
	Weight    uint32   `json:"weight"`
	Priority  int      `json:"priority"`
}

func (a *api) services(w http.ResponseWriter, _ *http.Request) {
	snap := a.store.Load()
	if snap == nil {
		writeError(w, http.StatusServiceUnavailable, "no configuration published yet")
		return
	}
	resp := servicesResponse{Generation: snap.Generation(), Services: []serviceInfo{}}
	for _, svc := range snap.State.Services {
		info := serviceInfo{
			Name: svc.Name, Strategy: string(svc.Policy.Strategy), TTL: svc.Policy.TTL,
			Persistence: svc.Policy.Persistence.Enabled, Down: string(svc.Policy.Down.Type),
		}
		if z := snap.Zone(svc.Name); z != nil {
			info.Zone = z.Name
		}
		for _, m := range svc.Members {
			mi := memberInfo{Site: m.Site, Hostname: m.Hostname, Weight: m.Weight, Priority: m.Priority}
			for _, ip := range m.Addresses {
				mi.Addresses = append(mi.Addresses, ip.String())
			}
			info.Members = append(info.Members, mi)
		}
		resp.Services = append(resp.Services, info)
	}
	writeJSON(w, http.StatusOK, resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

// apiError is the body of every API error.
type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

func badRequest(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusBadRequest, msg)
}
