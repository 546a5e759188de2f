//go:build tools

// Package tools pins the Kubernetes test binaries that scripts/k8s-tools.sh
// builds (kube-apiserver, kubectl, etcd) and the Gateway API module whose CRD
// YAMLs test/k8s/k8stest installs. It is never compiled: the build tag keeps
// it out of every build, while `go mod tidy` still sees the imports and keeps
// go.mod and go.sum complete, so the builds are reproducible.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "sigs.k8s.io/gateway-api/apis/v1"
)
