package kube

import (
	"os"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
)

func TestMain(m *testing.M) {
	// client-go logs through klog; keep the test output readable. Set
	// once, before any informer runs.
	klog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}
