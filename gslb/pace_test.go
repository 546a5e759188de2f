package gslb

import (
	"testing"
	"time"
)

// TestPacer: a loop that steps for several slices yields while pacing
// is on, and never while it is off (check-config, tests).
func TestPacer(t *testing.T) {
	yields := 0
	paceSleep = func(time.Duration) { yields++ }
	defer func() { paceSleep = time.Sleep; SetPacing(false) }()
	loop := func() {
		var p Pacer
		for start := time.Now(); time.Since(start) < 4*paceSlice; {
			p.Step()
		}
	}
	loop()
	if yields != 0 {
		t.Errorf("pacing off: %d yields", yields)
	}
	SetPacing(true)
	loop()
	if yields == 0 {
		t.Error("pacing on: a loop of four slices never yielded")
	}
}
