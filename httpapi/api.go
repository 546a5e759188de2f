package httpapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/meridian-gslb/meridian/control"
	"github.com/meridian-gslb/meridian/gslb"
)

// API is the HTTP API: health, metrics, explain, the read-only views of
// the running configuration and the admin overrides. It reads the same
// Store as the DNS server, so explain answers from exactly the snapshot
// queries see.
type API struct {
	Store   *gslb.Store
	Pub     *control.Publisher    // health, admin overrides, and the configuration behind the snapshot
	Gossip  *control.Gossip       // nil when standalone
	Kube    *control.Kube         // nil without kubernetes
	Ready   func() (bool, string) // readiness and, when not ready, why
	Metrics http.Handler
	Log     *slog.Logger // explain requests at debug level, admin changes at info
	// Answers counts the A and AAAA answers by named site since the
	// start (the overview's answer share); nil: none counted.
	Answers func() map[string]uint64
	Version string // the build, shown by the overview

	summary summaryCache // the overview's site summary and answer readings

	// index orders the services and health targets of the published
	// snapshot for the list endpoints' pages; warm builds it after a
	// publish while the lists are read (ForServer).
	index indexCache
	warm  indexWarmer
}

// ForServer is the API of a serve process.
func ForServer(s *control.Server) *API {
	log := s.Logger()
	a := &API{
		Store:   s.Store(),
		Pub:     s.Publisher(),
		Gossip:  s.Gossip(),
		Kube:    s.Kube(),
		Ready:   s.Ready,
		Metrics: promhttp.HandlerFor(s.Registry(), promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}),
		Log:     log,
		Answers: s.AnswersBySite,
		Version: s.Version(),
	}
	a.Store.Subscribe(func(*gslb.Snapshot) { a.published() })
	return a
}

// Routes is the API's handler: every endpoint, by method and path.
func (a *API) Routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /metrics", a.Metrics)
	mux.HandleFunc("GET /api/v1/explain", a.explain)
	mux.HandleFunc("GET /api/v1/config", a.showConfig)
	mux.HandleFunc("GET /api/v1/services", a.services)
	mux.HandleFunc("GET /api/v1/health", a.health)
	mux.HandleFunc("GET /api/v1/load", a.load)
	mux.HandleFunc("GET /api/v1/sites", a.sites)
	mux.HandleFunc("GET /api/v1/kubernetes", a.kubernetes)
	mux.HandleFunc("GET /api/v1/overview", a.overview)
	mux.HandleFunc("GET /api/v1/overview/stream", a.overviewStream)
	mux.HandleFunc("GET /api/v1/admin", a.admin(a.listAdmin))
	mux.HandleFunc("PUT /api/v1/admin/sites/{site}", a.admin(a.setSite))
	mux.HandleFunc("DELETE /api/v1/admin/sites/{site}", a.admin(a.setSite))
	mux.HandleFunc("PUT /api/v1/admin/members/{service}/{member...}", a.admin(a.setMember))
	mux.HandleFunc("DELETE /api/v1/admin/members/{service}/{member...}", a.admin(a.setMember))
	mux.Handle("GET /", a.ui(mux)) // the status page; every other GET path: 404 (405 with Allow) as JSON
	return mux
}

// healthz says the process is alive: it answers as long as it runs.
func (a *API) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// readyz says whether to send DNS traffic here.
func (a *API) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if ok, why := a.Ready(); !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %s\n", why)
		return
	}
	fmt.Fprintln(w, "ready")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

// Error is the body of every API error; `meridian explain` reads it.
type Error struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, Error{Error: msg})
}

func badRequest(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusBadRequest, msg)
}
