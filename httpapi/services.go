package httpapi

import (
	"fmt"
	"net/http"

	"github.com/meridian-gslb/meridian/gslb"
)

// servicesResponse is the body of /api/v1/services: one page.
type servicesResponse struct {
	Generation uint64        `json:"generation"`
	Services   []serviceInfo `json:"services"`
	// Total is how many services the filters match, on every page.
	Total int `json:"total"`
	// Next is the cursor of the next page; absent on the last.
	Next string `json:"next,omitempty"`
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
	// Unready: Kubernetes reports no ready endpoint behind the member
	// (down whatever the probes say).
	Unready bool `json:"unready,omitempty"`
	// Capacity is the share of its capacity on offer, in thousandths
	// (Kubernetes: the ready share of its endpoints), which scales its
	// weight; absent: not measured (all of it).
	Capacity uint16 `json:"capacity,omitempty"`
}

// services serves GET /api/v1/services: the services by name, a page at a
// time, with the filters service, prefix and site. No token: a page shows
// what the DNS answers give anyone who asks for those names.
func (a *API) services(w http.ResponseWriter, r *http.Request) {
	snap := a.Store.Load()
	if snap == nil {
		writeError(w, http.StatusServiceUnavailable, "no configuration published yet")
		return
	}
	lq, x, ok := a.listRequest(w, r, listParams, snap.State)
	if !ok {
		return
	}
	sel := x.selection(&lq)
	resp := servicesResponse{Generation: snap.Generation(), Services: []serviceInfo{}, Total: sel.count()}
	start := 0
	if lq.cursor.Service != "" {
		start = x.after(lq.cursor.Service)
	}
	sel.from(start, func(r int) bool {
		if len(resp.Services) == lq.limit {
			resp.Next = cursor{Service: resp.Services[len(resp.Services)-1].Name}.String()
			return false
		}
		resp.Services = append(resp.Services, serviceInfoOf(snap, x.service(r)))
		return true
	})
	writeJSON(w, http.StatusOK, resp)
}

// listRequest reads r's parameters (names) as a list query and checks its
// site and service filters against st, with the index of st's services.
// On a problem it answers r itself (400 or 404) and ok is false.
func (a *API) listRequest(w http.ResponseWriter, r *http.Request, names []string, st *gslb.State) (lq listQuery, x *serviceIndex, ok bool) {
	p, ok := queryParams(w, r, names...)
	if !ok {
		return lq, nil, false
	}
	lq, err := parseList(p)
	if err != nil {
		badRequest(w, err.Error())
		return lq, nil, false
	}
	if !siteFilter(w, st, &lq) {
		return lq, nil, false
	}
	a.warm.used()
	x = a.index.servicesOf(st)
	if lq.service != "" && x.rank(lq.service) < 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("service: unknown service %q", p["service"]))
		return lq, nil, false
	}
	return lq, x, true
}

func serviceInfoOf(snap *gslb.Snapshot, svc *gslb.Service) serviceInfo {
	info := serviceInfo{
		Name: svc.Name, Strategy: string(svc.Policy.Strategy), TTL: svc.Policy.TTL,
		Persistence: svc.Policy.Persistence.Enabled, Down: string(svc.Policy.Down.Type),
	}
	if z := snap.Zone(svc.Name); z != nil {
		info.Zone = z.Name
	}
	for _, m := range svc.Members {
		mi := memberInfo{Site: m.Site, Hostname: m.Hostname, Weight: m.Weight, Priority: m.Priority, Unready: m.Unready, Capacity: m.Capacity}
		for _, ip := range m.Addresses {
			mi.Addresses = append(mi.Addresses, ip.String())
		}
		info.Members = append(info.Members, mi)
	}
	return info
}
