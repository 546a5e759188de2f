// Package deploy tests what deploy/ ships: the Helm chart
// (deploy/helm/meridian) with helm lint and helm template for the leader and
// follower example values in every gossip connection mode (podIP,
// loadBalancer, hostNetwork) and with persistence, the rendered manifests
// and CRDs applied to a real kube-apiserver (test/k8s/k8stest) with kubectl
// apply --dry-run=server, the CRDs' validation (OpenAPI schema and CEL) on
// sample GlobalPolicy and HostPolicy objects, the chart's RBAC and
// deploy/member-rbac.yaml checked with real authorization, the
// configuration file the chart renders checked by `meridian check-config`,
// and the Docker build context.
//
// helm, kubectl, kube-apiserver and etcd are built from Go modules by
// scripts/k8s-tools.sh (cached); MERIDIAN_SKIP_K8S=1 skips these tests
// locally. Everything lives in _test.go files.
package deploy
