package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/health"
)

// healthResponse is the body of GET /api/v1/health.
type healthResponse struct {
	Generation uint64 `json:"generation"`
	// Rule combines the sources' observations of a target into its verdict.
	Rule     string          `json:"rule"`
	Targets  []targetHealth  `json:"targets"`
	Services []serviceHealth `json:"services"`
}

// targetHealth is one probed address: the local probe's state and
// history, every source's observation, the verdict, and who uses it.
type targetHealth struct {
	health.TargetStatus
	// Verdict is up, down or unknown: what the rule makes of the sources.
	Verdict  string               `json:"verdict"`
	Sources  []health.Observation `json:"sources"`
	Services []string             `json:"services"`
	Members  []gslb.MemberRef     `json:"members"`
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
	Timeout  health.Duration `json:"timeout"`
	Rise     int             `json:"rise"`
	Fall     int             `json:"fall"`
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

// health serves GET /api/v1/health[?service=NAME][&state=up|down|unknown].
func (a *API) health(w http.ResponseWriter, r *http.Request) {
	snap, plan, view := a.Pub.HealthSnapshot()
	if snap == nil || plan == nil {
		writeError(w, http.StatusServiceUnavailable, "no configuration published yet")
		return
	}
	q := r.URL.Query()
	onlyService := gslb.CanonicalName(q.Get("service"))
	if onlyService != "" && snap.Service(onlyService) == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("service: unknown service %q", q.Get("service")))
		return
	}
	state := strings.ToLower(q.Get("state"))
	if !slices.Contains([]string{"", "up", "down", "unknown"}, state) {
		badRequest(w, fmt.Sprintf("state: want up, down or unknown, got %q", q.Get("state")))
		return
	}
	resp := healthResponse{Generation: snap.Generation(), Rule: string(a.Pub.Rule()), Targets: []targetHealth{}, Services: []serviceHealth{}}

	users := map[health.Key][]gslb.MemberRef{}
	for i := range snap.State.Services {
		svc := &snap.State.Services[i]
		sh := serviceHealth{Name: svc.Name, Check: checkOf(svc), Members: []memberHealth{}}
		for j, mh := range snap.MemberHealth(svc.Name) {
			m := &svc.Members[j]
			keys := plan.MemberKeys(svc.Name, mh.Member)
			info := memberHealth{
				Member: mh.Member, Site: mh.Site, Health: health.VerdictWord(mh.Up, mh.Known),
				Admin: mh.Admin.String(), Eligible: mh.Eligible, Detail: view.MemberDetail(svc.Name, m), Targets: []string{},
			}
			for _, k := range keys {
				info.Targets = append(info.Targets, k.String())
				users[k] = append(users[k], gslb.MemberRef{Service: svc.Name, Member: mh.Member})
			}
			sh.Members = append(sh.Members, info)
		}
		if onlyService == "" || svc.Name == onlyService {
			resp.Services = append(resp.Services, sh)
		}
	}
	for _, st := range a.Pub.Targets() {
		if state != "" && st.State.String() != state {
			continue
		}
		refs := users[st.Key]
		if onlyService != "" && !slices.ContainsFunc(refs, func(r gslb.MemberRef) bool { return r.Service == onlyService }) {
			continue
		}
		up, known := a.Pub.Observations().Verdict(st.Key)
		th := targetHealth{
			TargetStatus: st, Verdict: health.VerdictWord(up, known), Sources: a.Pub.Observations().Sources(st.Key),
			Services: plan.Services([]health.Key{st.Key}), Members: refs,
		}
		if th.Sources == nil {
			th.Sources = []health.Observation{}
		}
		if th.Services == nil {
			th.Services = []string{}
		}
		if th.Members == nil {
			th.Members = []gslb.MemberRef{}
		}
		resp.Targets = append(resp.Targets, th)
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
		Interval: health.Duration(c.Interval), Timeout: health.Duration(c.Timeout), Rise: c.Rise, Fall: c.Fall,
	}
}
