package httpapi

import (
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/health"
)

// The API shows a check as it is probed: gslb's defaults, and an HTTP
// check's Host from the service name.
func TestCheckInfoIsTheProbedCheck(t *testing.T) {
	svc := gslb.Service{Name: "app.gslb.example.", HealthCheck: &gslb.HealthCheck{Kind: "HTTP", Interval: time.Second}}
	got := checkOf(&svc)
	want := checkInfo{
		Kind: "http", Port: 80, Path: "/", Host: "app.gslb.example",
		Interval: health.Duration(time.Second), FastInterval: health.Duration(200 * time.Millisecond),
		Timeout: health.Duration(500 * time.Millisecond), Rise: 2, Fall: 3,
	}
	if got == nil || *got != want {
		t.Errorf("checkOf = %+v, want %+v", got, want)
	}
	if got := checkOf(&gslb.Service{Name: "x.gslb.example."}); got != nil {
		t.Errorf("no check: checkOf = %+v, want nil", got)
	}
}
