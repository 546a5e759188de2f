package httpapi

import (
	"net/http"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/health"
)

// loadResponse is GET /api/v1/load: every service with load shedding,
// each member's load signal (value, source, age) and what the decision
// makes of it, as the served snapshot holds it.
type loadResponse struct {
	Generation uint64        `json:"generation"`
	Services   []serviceLoad `json:"services"`
	// Prometheus is each load.prometheus query's last evaluation at this
	// site; absent without health.prometheus.url.
	Prometheus []health.PromStatus `json:"prometheus,omitempty"`
}

type serviceLoad struct {
	Name   string                  `json:"name"`
	Policy loadPolicyView          `json:"policy"`
	Member []gslb.MemberLoadStatus `json:"members"`
}

// loadPolicyView is a LoadPolicy with its durations in seconds.
type loadPolicyView struct {
	Low        float64 `json:"low"`
	High       float64 `json:"high"`
	HardLimit  float64 `json:"hard_limit"`
	MaxAgeS    float64 `json:"max_age_s"`
	StickyForS float64 `json:"sticky_for_s"`
	Prometheus string  `json:"prometheus,omitempty"`
	MatchLabel string  `json:"match_label,omitempty"`
	MatchOn    string  `json:"match_on,omitempty"`
	// SpareWeights: weights scaled by spare capacity.
	SpareWeights bool `json:"spare_weights,omitempty"`
}

func (a *API) load(w http.ResponseWriter, r *http.Request) {
	snap := a.Store.Load()
	if snap == nil {
		writeError(w, http.StatusServiceUnavailable, "no configuration published yet")
		return
	}
	resp := loadResponse{Generation: snap.State.Generation, Services: []serviceLoad{}}
	names := gslb.LoadServices(snap.State)
	if want := r.URL.Query().Get("service"); want != "" {
		names = []string{gslb.CanonicalName(want)} // MemberLoads skips it unless it sheds load
	}
	for _, name := range names {
		members, pol := snap.MemberLoads(name)
		if pol == nil {
			continue
		}
		resp.Services = append(resp.Services, serviceLoad{Name: name, Member: members, Policy: loadPolicyView{
			Low: pol.Low, High: pol.High, HardLimit: pol.HardLimit,
			MaxAgeS: pol.MaxAge.Seconds(), StickyForS: pol.StickyFor.Seconds(),
			Prometheus: pol.Prometheus, MatchLabel: pol.MatchLabel, MatchOn: pol.MatchOn,
			SpareWeights: pol.SpareWeights,
		}})
	}
	if a.Pub != nil {
		resp.Prometheus = a.Pub.PromStatus()
	}
	writeJSON(w, http.StatusOK, resp)
}
