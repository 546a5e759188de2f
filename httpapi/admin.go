package httpapi

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/control"
	"github.com/meridian-gslb/meridian/gslb"
)

// adminResponse is the body of every admin endpoint's success.
type adminResponse struct {
	// File are the overrides of the configuration file; API those set
	// through this API, which beat the file's, survive reloads and are
	// lost at a restart; Effective both together, as answers see them.
	File      adminList `json:"file"`
	API       adminList `json:"api"`
	Effective adminList `json:"effective"`
}

func adminResponseOf(o control.AdminOverrides) adminResponse {
	return adminResponse{File: listAdmin(o.File), API: listAdmin(o.API), Effective: listAdmin(o.Effective)}
}

// admin wraps an admin handler with the bearer token check. Without a
// token in the configuration the admin API is off: 403 for everyone.
func (a *API) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		l, _ := a.Pub.Current()
		token := l.AdminToken
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
			a.Log.Warn("admin API: wrong bearer token", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
			writeError(w, http.StatusForbidden, "invalid bearer token")
			return
		}
		h(w, r)
	}
}

// listAdmin serves GET /api/v1/admin.
func (a *API) listAdmin(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, adminResponseOf(a.Pub.Admin()))
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
	// One object and nothing after it: a second object or trailing bytes
	// mean the client sent something other than it meant (RFC 8259 2: a
	// JSON text is one value).
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		badRequest(w, "body: want exactly one JSON object such as {\"mode\": \"drain\"}, found more after it")
		return nil, false
	}
	mode, ok := config.ParseAdminMode(req.Mode)
	if !ok {
		badRequest(w, fmt.Sprintf("mode: want one of %v, got %q", config.AdminModes, req.Mode))
		return nil, false
	}
	return &mode, true
}

// notFound is an update refused because it names nothing configured.
type notFound struct{ msg string }

func (e *notFound) Error() string { return e.msg }

// setSite serves PUT and DELETE /api/v1/admin/sites/{site}.
func (a *API) setSite(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("site")
	mode, ok := modeOf(w, r)
	if !ok {
		return
	}
	out, err := a.Pub.UpdateAdmin(func(st *gslb.State, api *gslb.Admin) error {
		site := config.FindSite(st, name)
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
func (a *API) setMember(w http.ResponseWriter, r *http.Request) {
	service, member := r.PathValue("service"), r.PathValue("member")
	mode, ok := modeOf(w, r)
	if !ok {
		return
	}
	var ref gslb.MemberRef
	out, err := a.Pub.UpdateAdmin(func(st *gslb.State, api *gslb.Admin) error {
		var rerr *config.RefError
		if ref, rerr = config.FindMember(st, service, member); rerr != nil {
			return &notFound{rerr.Msg}
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

func (a *API) adminDone(w http.ResponseWriter, r *http.Request, err error, out control.AdminOverrides, scope, name string, mode *gslb.AdminMode) {
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
	a.Log.Info("admin override", scope, name, "mode", what, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, adminResponseOf(out))
}

// adminList is an Admin as JSON: sorted lists rather than maps with
// struct keys.
type adminList struct {
	Sites   []siteOverride   `json:"sites"`
	Members []memberOverride `json:"members"`
}

type siteOverride struct {
	Site string `json:"site"`
	Mode string `json:"mode"`
}

type memberOverride struct {
	Service string `json:"service"`
	Member  string `json:"member"`
	Mode    string `json:"mode"`
}

func listAdmin(a gslb.Admin) adminList {
	out := adminList{Sites: []siteOverride{}, Members: []memberOverride{}}
	for _, s := range slices.Sorted(maps.Keys(a.Sites)) {
		out.Sites = append(out.Sites, siteOverride{Site: s, Mode: a.Sites[s].String()})
	}
	refs := slices.SortedFunc(maps.Keys(a.Members), func(x, y gslb.MemberRef) int {
		return cmp.Or(cmp.Compare(x.Service, y.Service), cmp.Compare(x.Member, y.Member))
	})
	for _, r := range refs {
		out.Members = append(out.Members, memberOverride{Service: r.Service, Member: r.Member, Mode: a.Members[r].String()})
	}
	return out
}
