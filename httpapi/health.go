package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// snapshotHealth returns the published snapshot with the plan and view it
// was built with.
func (p *publisher) snapshotHealth() (*gslb.Snapshot, *loaded, *health.Plan, *health.View) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.store.Load(), p.current.Load(), p.plan, p.view
}

// health serves GET /api/v1/health[?service=NAME][&state=up|down|unknown].
func (a *api) health(w http.ResponseWriter, r *http.Request) {
	snap, l, plan, view := a.pub.snapshotHealth()
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
	resp := healthResponse{Generation: snap.Generation(), Rule: string(a.pub.obs.Rule()), Targets: []targetHealth{}, Services: []serviceHealth{}}

	users := map[health.Key][]gslb.MemberRef{}
	for i := range snap.State.Services {
		svc := &snap.State.Services[i]
		sh := serviceHealth{Name: svc.Name, Check: checkOf(l, svc.Name), Members: []memberHealth{}}
		for j, mh := range snap.MemberHealth(svc.Name) {
			m := &svc.Members[j]
			keys := plan.MemberKeys(svc.Name, mh.Member)
			info := memberHealth{
				Member: mh.Member, Site: mh.Site, Health: healthWord(mh.Up, mh.Known),
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
	for _, st := range a.pub.mon.Status() {
		if state != "" && st.State.String() != state {
			continue
		}
		refs := users[st.Key]
		if onlyService != "" && !slices.ContainsFunc(refs, func(r gslb.MemberRef) bool { return r.Service == onlyService }) {
			continue
		}
		up, known := a.pub.obs.Verdict(st.Key)
		th := targetHealth{
			TargetStatus: st, Verdict: healthWord(up, known), Sources: a.pub.obs.Sources(st.Key),
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

func healthWord(up, known bool) string {
	switch {
	case !known:
		return "unknown"
	case up:
		return "up"
	}
	return "down"
}

// checkOf is the check of a service as it is probed, or nil.
func checkOf(l *loaded, service string) *checkInfo {
	i := slices.IndexFunc(l.state.Services, func(s gslb.Service) bool { return s.Name == service })
	if i < 0 {
		return nil
	}
	c, ok, _ := health.SpecChecks(&l.state.Services[i])
	if !ok {
		return nil
	}
	c.Defaults()
	if (c.Kind == health.KindHTTP || c.Kind == health.KindHTTPS) && c.Host == "" {
		c.Host = strings.TrimSuffix(service, ".") // as health.NewPlan does
	}
	return &checkInfo{
		Kind: string(c.Kind), Port: c.Port, Path: c.Path, Host: c.Host,
		Interval: health.Duration(c.Interval), Timeout: health.Duration(c.Timeout), Rise: c.Rise, Fall: c.Fall,
	}
}

// adminResponse is the body of every admin endpoint's success.
type adminResponse struct {
	// File are the overrides of the configuration file; API those set
	// through this API, which beat the file's, survive reloads and are
	// lost at a restart; Effective both together, as answers see them.
	File      adminList `json:"file"`
	API       adminList `json:"api"`
	Effective adminList `json:"effective"`
}

func adminResponseOf(o adminOverrides) adminResponse {
	return adminResponse{File: listAdmin(o.File), API: listAdmin(o.API), Effective: listAdmin(o.Effective)}
}

// admin wraps an admin handler with the bearer token check. Without a
// token in the configuration the admin API is off: 403 for everyone.
func (a *api) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := a.pub.current.Load().adminToken
		if token == "" {
			writeError(w, http.StatusForbidden, "admin API disabled: set admin.token_file (or admin.token) in the configuration")
			return
		}
		scheme, cred, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(cred) == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="meridian admin"`)
			writeError(w, http.StatusUnauthorized, "missing bearer token: send the header \"Authorization: Bearer TOKEN\" with the token of admin.token_file")
			return
		}
		// Compare digests, in constant time: neither the content nor the
		// length of the token leaks through the response time.
		got, want := sha256.Sum256([]byte(strings.TrimSpace(cred))), sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			a.log.Warn("admin API: wrong bearer token", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
			writeError(w, http.StatusForbidden, "invalid bearer token")
			return
		}
		h(w, r)
	}
}

// listAdmin serves GET /api/v1/admin.
func (a *api) listAdmin(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, adminResponseOf(a.pub.admin()))
}

// adminRequest is the body of a PUT.
type adminRequest struct {
	Mode string `json:"mode"`
}

// modeOf reads the mode of a PUT; a DELETE removes the override (nil).
func modeOf(w http.ResponseWriter, r *http.Request) (*gslb.AdminMode, bool) {
	if r.Method == http.MethodDelete {
		return nil, true
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	var req adminRequest
	if err := dec.Decode(&req); err != nil {
		msg := err.Error()
		if errors.Is(err, io.EOF) {
			msg = "empty body"
		}
		badRequest(w, fmt.Sprintf("body: want JSON such as {\"mode\": \"drain\"}: %s", msg))
		return nil, false
	}
	mode, ok := gslb.ParseAdminMode(strings.ToLower(strings.TrimSpace(req.Mode)))
	if !ok {
		badRequest(w, fmt.Sprintf("mode: want one of %v, got %q", adminModes, req.Mode))
		return nil, false
	}
	return &mode, true
}

// notFound is an update refused because it names nothing configured.
type notFound struct{ msg string }

func (e *notFound) Error() string { return e.msg }

// setSite serves PUT and DELETE /api/v1/admin/sites/{site}.
func (a *api) setSite(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("site")
	mode, ok := modeOf(w, r)
	if !ok {
		return
	}
	out, err := a.pub.updateAdmin(func(st *gslb.State, api *gslb.Admin) error {
		site := findSite(st, name)
		if site == "" {
			return &notFound{fmt.Sprintf("unknown site %q", name)}
		}
		name = site
		if mode == nil {
			delete(api.Sites, site)
		} else {
			api.Sites[site] = *mode
		}
		return nil
	})
	a.adminDone(w, r, err, out, "site", name, mode)
}

// setMember serves PUT and DELETE /api/v1/admin/members/{service}/{member...},
// the member by its ID ("eu-west/198.51.100.10").
func (a *api) setMember(w http.ResponseWriter, r *http.Request) {
	service, member := r.PathValue("service"), r.PathValue("member")
	mode, ok := modeOf(w, r)
	if !ok {
		return
	}
	var ref gslb.MemberRef
	out, err := a.pub.updateAdmin(func(st *gslb.State, api *gslb.Admin) error {
		var rerr *refError
		if ref, rerr = findMember(st, service, member); rerr != nil {
			return &notFound{rerr.msg}
		}
		if mode == nil {
			delete(api.Members, ref)
		} else {
			api.Members[ref] = *mode
		}
		return nil
	})
	a.adminDone(w, r, err, out, "member", ref.Service+" "+ref.Member, mode)
}

func (a *api) adminDone(w http.ResponseWriter, r *http.Request, err error, out adminOverrides, scope, name string, mode *gslb.AdminMode) {
	var nf *notFound
	switch {
	case errors.As(err, &nf):
		writeError(w, http.StatusNotFound, nf.msg)
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	what := "removed"
	if mode != nil {
		what = mode.String()
	}
	a.log.Info("admin override", scope, name, "mode", what, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, adminResponseOf(out))
}
