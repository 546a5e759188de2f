package health

import (
	"testing"
	"time"
)

// The average starts at the first sample and follows a lasting change
// within a few probes, while one outlier moves it by a quarter.
func TestRTTAverage(t *testing.T) {
	var r rtt
	r.observe(10 * time.Millisecond)
	if r.avg != 10*time.Millisecond {
		t.Fatalf("first sample: %v", r.avg)
	}
	r.observe(50 * time.Millisecond)
	if r.avg != 20*time.Millisecond {
		t.Errorf("one outlier of 50ms over 10ms: %v, want 20ms", r.avg)
	}
	for range 12 {
		r.observe(50 * time.Millisecond)
	}
	if d := 50*time.Millisecond - r.avg; d < 0 || d > time.Millisecond {
		t.Errorf("after a lasting change to 50ms: %v", r.avg)
	}
}
