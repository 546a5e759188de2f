package httpapi

import (
	"net/http"
	"slices"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/health"
)

// healthResponse is the body of GET /api/v1/health: one page of each
// list, the targets and the services.
type healthResponse struct {
	Generation uint64 `json:"generation"`
	// Rule combines the sources' observations of a target into its verdict.
	Rule     string          `json:"rule"`
	Targets  []targetHealth  `json:"targets"`
	Services []serviceHealth `json:"services"`
	// TargetsTotal and ServicesTotal are how many the filters match, on
	// every page; absent when counting would mean reading every one (the
	// state filter; prefix for targets).
	TargetsTotal  *int `json:"targets_total,omitempty"`
	ServicesTotal *int `json:"services_total,omitempty"`
	// Next is the cursor of the next page; absent when both lists are over.
	Next string `json:"next,omitempty"`
}

// maxTargetUsers bounds the services and members listed per target: one
// tcp check on shared addresses gives each target every service.
const maxTargetUsers = 20

// targetHealth is one probed address: the local probe's state and
// history, every source's observation, the verdict, and who uses it.
type targetHealth struct {
	health.TargetStatus
	// Verdict is up, down or unknown: what the rule makes of the sources.
	Verdict string               `json:"verdict"`
	Sources []health.Observation `json:"sources"`
	// Services and Members are the first maxTargetUsers users, by
	// service name; ServicesTotal and MembersTotal count them all.
	Services      []string         `json:"services"`
	Members       []gslb.MemberRef `json:"members"`
	ServicesTotal int              `json:"services_total"`
	MembersTotal  int              `json:"members_total"`
}

type serviceHealth struct {
	Name    string         `json:"name"`
	Check   *checkInfo     `json:"check"` // null: not probed, every member counts as up
	Members []memberHealth `json:"members"`
}

// checkInfo is a service's check with its defaults applied.
type checkInfo struct {
	Kind     string          `json:"kind"`
	Port     uint16          `json:"port,omitempty"`
	Path     string          `json:"path,omitempty"`
	Host     string          `json:"host,omitempty"`
	Interval health.Duration `json:"interval"`
	// FastInterval: re-probes while a member is in doubt.
	FastInterval health.Duration `json:"fast_interval"`
	Timeout      health.Duration `json:"timeout"`
	Rise         int             `json:"rise"`
	Fall         int             `json:"fall"`
}

// memberHealth is a member as the published snapshot sees it.
type memberHealth struct {
	Member string `json:"member"`
	Site   string `json:"site"`
	// Health is up, down or unknown (not probed, or no verdict yet: both
	// answered as up).
	Health   string `json:"health"`
	Admin    string `json:"admin"` // none, up, down, drain: the override in force
	Eligible bool   `json:"eligible"`
	// Detail is explain's account: since when, the last probe error.
	Detail  string   `json:"detail"`
	Targets []string `json:"targets"`
}

// healthParams are the parameters of /api/v1/health.
var healthParams = append(slices.Clone(listParams), "state")

// health serves GET /api/v1/health: a page of targets and a page of
// services (up to limit of each), by key and by name, with the filters
// service, prefix, site and state (see healthQuery).
func (a *API) health(w http.ResponseWriter, r *http.Request) {
	snap, plan, view := a.Pub.HealthSnapshot()
	if snap == nil || plan == nil {
		writeError(w, http.StatusServiceUnavailable, "no configuration published yet")
		return
	}
	lq, sx, ok := a.listRequest(w, r, healthParams, snap.State)
	if !ok {
		return
	}
	hq := healthQuery{listQuery: lq, pub: a.Pub, snap: snap, plan: plan, view: view, services: sx, targets: a.index.targetsOf(plan, snap.State)}
	resp := healthResponse{Generation: snap.Generation(), Rule: string(a.Pub.Rule()), Targets: []targetHealth{}, Services: []serviceHealth{}}
	tf := hq.targetFilter()
	next := cursor{ServicesDone: true, TargetsDone: true}
	if !lq.cursor.ServicesDone {
		next.Service = hq.servicePage(&resp)
		next.ServicesDone = next.Service == ""
	}
	if !lq.cursor.TargetsDone {
		next.Target = hq.targetPage(&resp, tf)
		next.TargetsDone = next.Target == ""
	}
	if lq.state == "" {
		n := hq.services.selection(&lq).count()
		resp.ServicesTotal = &n
	}
	if !tf.scan {
		n := tf.sel.count()
		resp.TargetsTotal = &n
	}
	if !next.ServicesDone || !next.TargetsDone {
		resp.Next = next.String()
	}
	writeJSON(w, http.StatusOK, resp)
}

// checkOf is the check of svc as it is probed (gslb's ProbeHealthCheck:
// defaulted, Host from the service name), or nil when it has none.
func checkOf(svc *gslb.Service) *checkInfo {
	c := svc.ProbeHealthCheck()
	if c == nil {
		return nil
	}
	return &checkInfo{
		Kind: c.Kind, Port: c.Port, Path: c.Path, Host: c.Host,
		Interval: health.Duration(c.Interval), FastInterval: health.Duration(c.FastInterval), Timeout: health.Duration(c.Timeout), Rise: c.Rise, Fall: c.Fall,
	}
}
