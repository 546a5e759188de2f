package httpapi

import (
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/sites/kube"
)

// overviewResponse is GET /api/v1/overview: what the status page shows,
// in one read. Its cost is bounded whatever the number of services: the
// site summary walks the health targets (at most once per
// overviewRefresh, shared by every reader), and services come one page at
// a time, as /api/v1/services pages them.
type overviewResponse struct {
	Generated  time.Time    `json:"generated"`
	Generation uint64       `json:"generation"`
	Node       overviewNode `json:"node"`
	Rule       string       `json:"rule"`
	// WindowSeconds is the span the answer counts cover: up to
	// answerWindow, less in the first minute the page is read.
	WindowSeconds float64           `json:"window_seconds"`
	Sites         []overviewSite    `json:"sites"`
	AnswersTotal  uint64            `json:"answers_total"`
	ServicesTotal int               `json:"services_total"`
	Services      []overviewService `json:"services"`
	Next          string            `json:"next,omitempty"` // the cursor of the next page of services
	Gossip        *overviewGossip   `json:"gossip"`
	Kubernetes    *overviewKube     `json:"kubernetes"`
}

type overviewNode struct {
	Site    string `json:"site"`
	Role    string `json:"role"` // standalone, leader or follower
	Version string `json:"version,omitempty"`
}

// overviewSite is a site with its health and its share of the answers.
// Health is over the probed members at the site: up when all are up,
// degraded when some are, down when none is, unknown when none is probed
// or no verdict exists yet.
type overviewSite struct {
	Name        string         `json:"name"`
	Lat         *float64       `json:"lat"`
	Lon         *float64       `json:"lon"`
	Country     string         `json:"country,omitempty"`
	Continent   string         `json:"continent,omitempty"`
	Bias        int            `json:"bias,omitempty"` // geoproximity bias (sites[].bias)
	Health      string         `json:"health"`
	Members     int            `json:"members"`
	MembersUp   int            `json:"members_up"`
	Views       []overviewView `json:"views"` // each reporting source's view of the same members
	Answers     uint64         `json:"answers"`
	AnswerShare float64        `json:"answer_share"`
	Admin       string         `json:"admin"` // "", up, down, drain: the site's override
}

type overviewView struct {
	Source    string `json:"source"`
	Health    string `json:"health"`
	Members   int    `json:"members"`
	MembersUp int    `json:"members_up"`
}

type overviewService struct {
	Name     string           `json:"name"`
	Strategy string           `json:"strategy"`
	TTL      uint32           `json:"ttl"`
	Degraded bool             `json:"degraded"` // a member is not eligible (down, drained)
	Members  []overviewMember `json:"members"`
}

type overviewMember struct {
	ID        string               `json:"id"`
	Site      string               `json:"site"`
	Addresses []string             `json:"addresses"`
	Hostname  string               `json:"hostname,omitempty"`
	Health    string               `json:"health"`
	Eligible  bool                 `json:"eligible"`
	Weight    uint32               `json:"weight"`
	Priority  int                  `json:"priority"`
	Admin     string               `json:"admin"`
	Since     *time.Time           `json:"since"` // this site's probe's last transition
	Detail    string               `json:"detail"`
	Views     []overviewMemberView `json:"views"`
	// Load is the member's load signal and what it does, for a service
	// with load shedding (as /api/v1/load has it).
	Load *gslb.LoadVerdict `json:"load,omitempty"`
}

type overviewMemberView struct {
	Source string    `json:"source"`
	Health string    `json:"health"`
	Since  time.Time `json:"since"`
	Error  string    `json:"error,omitempty"`
}

type overviewGossip struct {
	Node         string                 `json:"node"`
	Site         string                 `json:"site"`
	Role         string                 `json:"role"`
	Joined       bool                   `json:"joined"`
	StateVersion string                 `json:"state_version,omitempty"`
	Members      []overviewGossipMember `json:"members"`
}

type overviewGossipMember struct {
	Name         string `json:"name"`
	Site         string `json:"site"`
	Role         string `json:"role"`
	Status       string `json:"status"`
	StateVersion string `json:"state_version"`
	// Behind: the member holds an older state than this node.
	Behind bool `json:"behind"`
}

type overviewKube struct {
	Leading  bool                  `json:"leading"`
	Clusters []overviewKubeCluster `json:"clusters"`
	Problems []string              `json:"problems"`
	// Policies: each GlobalPolicy and HostPolicy, accepted or not, with
	// the Accepted condition's reason and message.
	Policies []kube.PolicyState `json:"policies"`
}

type overviewKubeCluster struct {
	Context string `json:"context"`
	Site    string `json:"site"`
	Stale   bool   `json:"stale"`
}

// overviewParams are the parameters of /api/v1/overview and its stream:
// the list parameters, for the page of services.
var overviewParams = listParams

const (
	// overviewRefresh is how often the site summary is recomputed.
	overviewRefresh = time.Second
	// answerWindow is the span of the answer share.
	answerWindow = time.Minute
)

// overview serves GET /api/v1/overview.
func (a *API) overview(w http.ResponseWriter, r *http.Request) {
	if resp, ok := a.overviewOf(w, r); ok {
		writeJSON(w, http.StatusOK, resp)
	}
}

// overviewOf builds the overview for r; when it cannot (no snapshot, a
// bad parameter) it answers w with the error and ok is false.
func (a *API) overviewOf(w http.ResponseWriter, r *http.Request) (resp *overviewResponse, ok bool) {
	snap, plan, view := a.Pub.HealthSnapshot()
	if snap == nil || plan == nil {
		writeError(w, http.StatusServiceUnavailable, "no configuration published yet")
		return nil, false
	}
	lq, sx, ok := a.listRequest(w, r, overviewParams, snap.State)
	if !ok {
		return nil, false
	}
	tx := a.index.targetsOf(plan, snap.State)
	sum := a.summary.get(a, snap, tx)
	resp = &overviewResponse{
		Generated: sum.at.UTC(), Generation: snap.Generation(), Rule: string(a.Pub.Rule()),
		Node:          overviewNode{Role: "standalone", Version: a.Version},
		WindowSeconds: sum.window.Seconds(), Sites: sum.sites, AnswersTotal: sum.total,
		Services: []overviewService{},
	}
	if a.Gossip != nil {
		st := a.Gossip.Status()
		resp.Node.Site, resp.Node.Role = st.Site, string(st.Role)
		g := &overviewGossip{Node: st.Node, Site: st.Site, Role: string(st.Role), Joined: st.Joined, Members: []overviewGossipMember{}}
		var mine gslb.Version
		if st.State != nil {
			mine = st.State.Version
			g.StateVersion = mine.String()
		}
		for _, m := range st.Members {
			g.Members = append(g.Members, overviewGossipMember{
				Name: m.Name, Site: m.Site, Role: string(m.Role), Status: m.Status,
				StateVersion: m.StateVersion.String(), Behind: mine.Newer(m.StateVersion),
			})
		}
		resp.Gossip = g
	}
	if a.Kube != nil {
		ks := a.Kube.Status()
		k := &overviewKube{Leading: ks.Leading, Clusters: []overviewKubeCluster{}, Problems: ks.Problems, Policies: ks.Policies}
		for _, c := range ks.Clusters {
			k.Clusters = append(k.Clusters, overviewKubeCluster{Context: c.Name, Site: c.Site, Stale: slices.Contains(ks.Stale, c.Name)})
		}
		resp.Kubernetes = k
	}
	sel := sx.selection(&lq)
	resp.ServicesTotal = sel.count()
	start := 0
	if lq.cursor.Service != "" {
		start = sx.after(lq.cursor.Service)
	}
	obs := a.Pub.Observations()
	sel.from(start, func(r int) bool {
		if len(resp.Services) == lq.limit {
			resp.Next = cursor{Service: resp.Services[len(resp.Services)-1].Name}.String()
			return false
		}
		resp.Services = append(resp.Services, overviewServiceOf(snap, plan, view, obs, sx.service(r)))
		return true
	})
	return resp, true
}

// overviewServiceOf is svc with each member's verdict and views.
func overviewServiceOf(snap *gslb.Snapshot, plan *health.Plan, view *health.View, obs *health.Observations, svc *gslb.Service) overviewService {
	os := overviewService{Name: svc.Name, Strategy: string(svc.Policy.Strategy), TTL: svc.Policy.TTL, Members: []overviewMember{}}
	mhs := snap.MemberHealth(svc.Name)
	loads, _ := snap.MemberLoads(svc.Name) // nil without load shedding
	for j, mh := range mhs {
		m := &svc.Members[j]
		om := overviewMember{
			ID: mh.Member, Site: mh.Site, Addresses: []string{}, Hostname: m.Hostname,
			Health: health.VerdictWord(mh.Up, mh.Known), Eligible: mh.Eligible,
			Weight: m.Weight, Priority: m.Priority, Admin: adminWord(mh.Admin),
			Detail: view.MemberDetail(svc.Name, m), Views: []overviewMemberView{},
		}
		for _, ip := range m.Addresses {
			om.Addresses = append(om.Addresses, ip.String())
		}
		for _, k := range plan.MemberKeysOf(svc.Name, m) {
			for _, o := range obs.Sources(k) {
				om.Views = append(om.Views, overviewMemberView{Source: o.Source, Health: health.VerdictWord(o.Up, true), Since: o.Since.UTC(), Error: o.Error})
				if o.Source == health.SourceLocalProbe && !o.Since.IsZero() {
					since := o.Since.UTC()
					om.Since = &since
				}
			}
		}
		if j < len(loads) {
			om.Load = &loads[j].Load
		}
		os.Degraded = os.Degraded || !mh.Eligible
		os.Members = append(os.Members, om)
	}
	return os
}

// adminWord is an override as the page shows it: "" for none.
func adminWord(m gslb.AdminMode) string {
	if m == gslb.AdminNone {
		return ""
	}
	return m.String()
}

// siteSummary is the per-site part of the overview, shared by every
// reader for overviewRefresh.
type siteSummary struct {
	at     time.Time
	snap   *gslb.Snapshot
	window time.Duration
	total  uint64
	sites  []overviewSite
}

// answerSample is a reading of the cumulative answers by site.
type answerSample struct {
	at     time.Time
	counts map[string]uint64
}

// summaryCache computes the site summary at most once per
// overviewRefresh and keeps the answer readings of the last window.
type summaryCache struct {
	mu      sync.Mutex
	last    *siteSummary
	samples []answerSample // oldest first, spanning at most answerWindow
	counts  *targetCounts  // members per site and target, for one target index
}

// targetCounts are, for one target index, the members at each site that
// each of the site's targets probes.
type targetCounts struct {
	tx      *targetIndex
	perSite map[string][]int // parallel to tx.bySite[site]
}

func (c *summaryCache) get(a *API, snap *gslb.Snapshot, tx *targetIndex) *siteSummary {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.last != nil && c.last.snap == snap && now.Sub(c.last.at) < overviewRefresh {
		return c.last
	}
	if c.counts == nil || c.counts.tx != tx {
		c.counts = countTargets(tx)
	}
	s := &siteSummary{at: now, snap: snap, sites: []overviewSite{}}
	answers := c.answers(a, now)
	if len(c.samples) > 0 {
		s.window = now.Sub(c.samples[0].at)
	}
	for _, n := range answers {
		s.total += n
	}
	obs := a.Pub.Observations()
	eff := snap.Admin()
	for _, site := range snap.State.Sites {
		os := overviewSite{Name: site.Name, Country: site.Location.Country, Continent: site.Location.Continent, Bias: site.Bias, Views: []overviewView{}, Answers: answers[site.Name]}
		if site.Location.HasCoords {
			lat, lon := site.Location.Lat, site.Location.Lon
			os.Lat, os.Lon = &lat, &lon
		}
		if s.total > 0 {
			os.AnswerShare = float64(os.Answers) / float64(s.total)
		}
		if mode, ok := eff.Sites[site.Name]; ok {
			os.Admin = adminWord(mode)
		}
		var known int
		views := map[string]*overviewView{}
		for i, r := range tx.bySite[site.Name] {
			n := c.counts.perSite[site.Name][i]
			key := tx.keys[r]
			os.Members += n
			if up, ok := obs.Verdict(key); ok {
				known += n
				if up {
					os.MembersUp += n
				}
			}
			for _, o := range obs.Sources(key) {
				v := views[o.Source]
				if v == nil {
					v = &overviewView{Source: o.Source}
					views[o.Source] = v
				}
				v.Members += n
				if o.Up {
					v.MembersUp += n
				}
			}
		}
		os.Health = healthWord(os.MembersUp, known)
		for _, src := range slices.Sorted(maps.Keys(views)) {
			v := views[src]
			v.Health = healthWord(v.MembersUp, v.Members)
			os.Views = append(os.Views, *v)
		}
		s.sites = append(s.sites, os)
	}
	c.last = s
	return s
}

// answers reads the cumulative answers by site and returns those of the
// window: the difference with the oldest reading within answerWindow.
func (c *summaryCache) answers(a *API, now time.Time) map[string]uint64 {
	if a.Answers == nil {
		return map[string]uint64{}
	}
	cur := answerSample{at: now, counts: a.Answers()}
	// Drop readings older than the window, keeping one at its edge.
	for len(c.samples) > 1 && now.Sub(c.samples[1].at) >= answerWindow {
		c.samples = c.samples[1:]
	}
	out := map[string]uint64{}
	if len(c.samples) == 0 {
		c.samples = append(c.samples, cur)
		return out
	}
	base := c.samples[0].counts
	for site, n := range cur.counts {
		if n >= base[site] {
			out[site] = n - base[site]
		} else {
			out[site] = n // counters restarted (a site's counters were dropped)
		}
	}
	c.samples = append(c.samples, cur)
	return out
}

// countTargets counts, for each site's targets, the members at that site
// that each probes.
func countTargets(tx *targetIndex) *targetCounts {
	tc := &targetCounts{tx: tx, perSite: map[string][]int{}}
	for site, ranks := range tx.bySite {
		counts := make([]int, len(ranks))
		for i, r := range ranks {
			for _, u := range tx.users[r] {
				if tx.services.service(int(u.service)).Members[u.member].Site == site {
					counts[i]++
				}
			}
		}
		tc.perSite[site] = counts
	}
	return tc
}

// healthWord is a group's health from how many of its known members are
// up.
func healthWord(up, known int) string {
	switch {
	case known == 0:
		return "unknown"
	case up == known:
		return "up"
	case up == 0:
		return "down"
	default:
		return "degraded"
	}
}
