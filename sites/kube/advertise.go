package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ServiceAddress waits until the LoadBalancer Service namespace/name has
// an external address and returns it with the Service's gossip port:
// the address a pod behind its own per-pod Service advertises to the
// other sites (the Helm chart's loadBalancer mode). It reads the Service
// with the pod's in-cluster credentials, or outside a cluster with the
// usual kubeconfig ($KUBECONFIG, ~/.kube/config). An ingress given only
// as a host name (some clouds) is resolved to an IP: gossip needs one.
// It polls every poll until ctx ends.
func ServiceAddress(ctx context.Context, namespace, name string, poll time.Duration, log *slog.Logger) (string, int, error) {
	rc, err := rest.InClusterConfig()
	if errors.Is(err, rest.ErrNotInCluster) {
		rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
	}
	if err != nil {
		return "", 0, fmt.Errorf("kube: credentials to read Service %s/%s: %w", namespace, name, err)
	}
	rc = rest.AddUserAgent(rest.CopyConfig(rc), "meridian-advertise")
	rc.Timeout = 10 * time.Second
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return "", 0, fmt.Errorf("kube: %w", err)
	}
	var last error
	logged := false
	for {
		svc, err := client.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			var addr string
			var port int
			if addr, port, err = serviceAddress(ctx, svc); err == nil {
				return addr, port, nil
			}
		}
		last = err
		if !logged {
			log.Info("waiting for the advertised address", "service", namespace+"/"+name, "reason", err)
			logged = true
		}
		select {
		case <-ctx.Done():
			return "", 0, fmt.Errorf("kube: Service %s/%s: no external address: %w", namespace, name, last)
		case <-time.After(poll):
		}
	}
}

// serviceAddress is svc's first external address and its gossip port:
// the port named gossip, else the first.
func serviceAddress(ctx context.Context, svc *corev1.Service) (string, int, error) {
	if len(svc.Spec.Ports) == 0 {
		return "", 0, errors.New("the Service has no ports")
	}
	port := int(svc.Spec.Ports[0].Port)
	for _, p := range svc.Spec.Ports {
		if strings.HasPrefix(p.Name, "gossip") {
			port = int(p.Port)
			break
		}
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			return in.IP, port, nil
		}
		if in.Hostname != "" {
			ips, err := net.DefaultResolver.LookupIP(ctx, "ip", in.Hostname)
			if err != nil || len(ips) == 0 {
				return "", 0, fmt.Errorf("status.loadBalancer.ingress hostname %s does not resolve: %v", in.Hostname, err)
			}
			return ips[0].String(), port, nil
		}
	}
	return "", 0, errors.New("status.loadBalancer.ingress is empty (the cloud has not assigned an address yet)")
}
