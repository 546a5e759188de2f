package httpapi

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

// TestIndexesWarmAfterPublish: once the lists are read, a publish builds
// the new snapshot's indexes without waiting for a request; before that,
// a publish builds nothing.
func TestIndexesWarmAfterPublish(t *testing.T) {
	a := scaleAPI(t, 2000, true)
	a.Store.Subscribe(func(*gslb.Snapshot) { a.published() }) // as ForServer does
	edit := func(ttl uint32) {
		t.Helper()
		l, _ := a.Pub.Current()
		next := *l
		st := *l.State
		st.Services = slices.Clone(st.Services)
		st.Services[7].Policy.TTL = ttl
		next.State = &st
		if err := a.Pub.PublishConfig(&next); err != nil {
			t.Fatal(err)
		}
	}
	edit(41)
	if a.index.targets.Load() != nil || a.index.services.Load() != nil {
		t.Fatal("a publish built the indexes though no list was read")
	}

	rec := httptest.NewRecorder()
	a.Routes().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/health?limit=1", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/health: %d %s", rec.Code, rec.Body)
	}
	edit(42)
	snap, plan, _ := a.Pub.HealthSnapshot()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if x := a.index.targets.Load(); x != nil && x.plan == plan && x.services.state == snap.State {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the indexes of the new snapshot were not built after the publish")
		}
	}
}
