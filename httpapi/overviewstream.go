package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// maxOverviewStreams bounds the open status-page streams: each holds a
// connection and builds a page every second.
const maxOverviewStreams = 64

// overviewStreamInterval is how often a stream sends the overview.
var overviewStreamInterval = time.Second

var overviewStreams atomic.Int32

// overviewStream serves GET /api/v1/overview/stream: server-sent events
// (the HTML standard's text/event-stream), an "overview" event with the
// same JSON as /api/v1/overview (and the same parameters) every second,
// until the client goes. The server's write timeout does not apply.
func (a *API) overviewStream(w http.ResponseWriter, r *http.Request) {
	if overviewStreams.Add(1) > maxOverviewStreams {
		overviewStreams.Add(-1)
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("too many status streams open (%d); poll /api/v1/overview", maxOverviewStreams))
		return
	}
	defer overviewStreams.Add(-1)
	// The first event is built before the headers go, so that a bad
	// parameter is an ordinary error response.
	resp, ok := a.overviewOf(w, r)
	if !ok {
		return
	}
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(time.Time{}); err != nil {
		writeError(w, http.StatusInternalServerError, "streaming not supported: "+err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // a proxy in front must not buffer the stream
	w.WriteHeader(http.StatusOK)
	t := time.NewTicker(overviewStreamInterval)
	defer t.Stop()
	var buf bytes.Buffer
	for {
		buf.Reset()
		buf.WriteString("event: overview\ndata: ")
		if err := json.NewEncoder(&buf).Encode(resp); err != nil { // ends with the event's newline
			a.Log.Error("overview stream", "error", err)
			return
		}
		buf.WriteString("\n")
		if _, err := w.Write(buf.Bytes()); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
		if resp, ok = a.overviewOf(discard{}, r); !ok {
			return // a filter no longer applies: the client reconnects
		}
	}
}

// discard is a ResponseWriter for the stream's later pages, whose
// parameters were checked on the first: what it is told goes nowhere.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
