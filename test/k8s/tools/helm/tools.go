//go:build tools

// Package tools pins the helm command that scripts/k8s-tools.sh builds for
// the chart tests (test/k8s/deploy). It is a module of its own, apart from
// test/k8s/tools, so that helm's dependencies never change the versions
// kube-apiserver, kubectl and etcd are built with (and the reverse). It is
// never compiled: the build tag keeps it out of every build, while `go mod
// tidy` still sees the import and keeps go.mod and go.sum complete.
package tools

import (
	_ "helm.sh/helm/v4/cmd/helm"
)
