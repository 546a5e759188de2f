package httpapi

import (
	"net/http"

	"github.com/meridian-gslb/meridian/sites"
)

// sitesResponse is GET /api/v1/sites.
type sitesResponse struct {
	Mode string `json:"mode"` // standalone, leader or follower
	sites.Status
}

func (a *API) sites(w http.ResponseWriter, _ *http.Request) {
	if a.Gossip == nil {
		writeJSON(w, http.StatusOK, sitesResponse{Mode: "standalone"})
		return
	}
	writeJSON(w, http.StatusOK, sitesResponse{Mode: string(a.Gossip.Role()), Status: a.Gossip.Status()})
}

// kubernetes serves GET /api/v1/kubernetes: the election, the last build
// and every member cluster.
func (a *API) kubernetes(w http.ResponseWriter, _ *http.Request) {
	if a.Kube == nil {
		writeError(w, http.StatusNotFound, "kubernetes is not configured (the kubernetes section)")
		return
	}
	writeJSON(w, http.StatusOK, a.Kube.Status())
}
