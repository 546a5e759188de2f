package kube

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/k8s/k8stest"
	"github.com/meridian-gslb/meridian/test/proctest"
)

// TestMemberRBAC runs the watchers of a member cluster with the rights
// that deploy/member-rbac.yaml grants (apiserver with RBAC on): the
// cluster must sync, stay fresh and deliver its objects.
func TestMemberRBAC(t *testing.T) {
	proctest.SkipShort(t, "starts a real apiserver")
	// The manifest is part of the repository: without it there is nothing
	// to test, which is a broken checkout, not a missing tool.
	manifest := filepath.Join("..", "..", "deploy", "member-rbac.yaml")
	if _, err := os.Stat(manifest); err != nil {
		t.Fatalf("%s: %v", manifest, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := k8stest.Start(t, k8stest.Options{Clusters: []string{"member"}, RBAC: true})
	if err := env.InstallGatewayAPICRDs(ctx); err != nil {
		t.Fatal(err)
	}
	if err := env.Apply(ctx, "member", manifest); err != nil {
		t.Fatal(err)
	}
	token, err := env.Kubectl(ctx, "member", "-n", "meridian-system", "create", "token", "meridian-member", "--duration=1h")
	if err != nil {
		t.Fatal(err)
	}
	restricted := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(restricted, map[string]string{"member": strings.TrimSpace(token)}); err != nil {
		t.Fatal(err)
	}
	admin := clientsFor(t, env.Kubeconfig, "member")

	got := newBuilds()
	ctl, err := New(Config{
		Kubeconfig:       restricted,
		PolicyKubeconfig: env.Kubeconfig, // the policy cluster has no Meridian CRDs: tolerated
		PolicyContext:    "member",
		Zones:            []string{"gslb.test."},
		DefaultPolicy:    basePolicy(),
		OnBuild:          got.add,
		Debounce:         50 * time.Millisecond,
		ProbeInterval:    250 * time.Millisecond,
		Logger:           quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = ctl.Run(runCtx) }()
	defer func() { stop(); <-done }()

	admin.createIngress(t, ctx, "default", "web", map[string]string{AnnotationGSLB: "true"}, nil, "web", []string{"app.gslb.test"}, "192.0.2.1")
	got.wait(t, "the member cluster's Ingress", hasMembers("app.gslb.test.", "member/192.0.2.1"))
	st := statusOf(ctl, "member")
	if st.Stale || st.Error != "" || len(st.GatewayKinds) != 4 {
		t.Errorf("with the member role: %+v", st)
	}
	if n := len(ctl.PolicyClusterStatus().Resources); n != 0 {
		t.Errorf("policy resources watched without CRDs: %d", n)
	}
}
