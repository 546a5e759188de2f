package httpapi

import (
	"net/http"

	"github.com/meridian-gslb/meridian/config"
)

// configResponse is the body of /api/v1/config: the process settings and
// the small lists, never the services (which can be 100,000: page through
// /api/v1/services instead), so its size does not grow with them.
type configResponse struct {
	File       string        `json:"file"`
	Generation uint64        `json:"generation"`
	Config     configSummary `json:"config"`
	Counts     configCounts  `json:"counts"`
}

// configSummary is the file's configuration, redacted, without its
// services.
type configSummary struct {
	config.Config
	// Services hides the embedded list (encoding/json takes the field of
	// the shallower depth): always nil, so the key is left out.
	Services *struct{} `json:"services,omitempty"`
}

// configCounts are the sizes of the State being served: the file's
// services plus, on a Kubernetes leader or a follower, those built or
// received.
type configCounts struct {
	Zones    int `json:"zones"`
	Sites    int `json:"sites"`
	Services int `json:"services"`
}

// showConfig serves GET /api/v1/config. It needs no token: every secret is
// redacted (config.Redacted) and the rest is what the operator wrote.
func (a *API) showConfig(w http.ResponseWriter, r *http.Request) {
	if _, ok := queryParams(w, r); !ok {
		return
	}
	l, st := a.Pub.Current()
	if l == nil || st == nil {
		writeError(w, http.StatusServiceUnavailable, "no configuration published yet")
		return
	}
	writeJSON(w, http.StatusOK, configResponse{
		File:       l.File,
		Generation: st.Generation,
		Config:     configSummary{Config: l.Config.Redacted()},
		Counts:     configCounts{Zones: len(st.Zones), Sites: len(st.Sites), Services: len(st.Services)},
	})
}
