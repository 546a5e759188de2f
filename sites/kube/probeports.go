package kube

import (
	"strconv"
	"strings"

	"github.com/meridian-gslb/meridian/gslb"
)

func (b *builder) healthPort(ref string, annots map[string]string) uint16 {
	v, ok := annots[AnnotationHealthPort]
	if !ok {
		return 0
	}
	p, err := strconv.ParseUint(strings.TrimSpace(v), 10, 16)
	if err != nil || p == 0 {
		b.problem("%s: annotation %s=%q: want a port number", ref, AnnotationHealthPort, v)
		return 0
	}
	return uint16(p)
}

func firstPort[T any](xs []T, port func(T) uint16) uint16 {
	for _, x := range xs {
		if p := port(x); p != 0 {
			return p
		}
	}
	return 0
}

// defaultPort is the probe port of an object without an explicit one:
// 443 for TLS routes and https checks, else 80.
func defaultPort(s *source, hc *gslb.HealthCheck) uint16 {
	if s.defaultTLS || hc != nil && gslb.CheckKind(hc.Kind) == gslb.CheckHTTPS {
		return 443
	}
	return 80
}

// assignProbePorts sets the service's probe port: the policy's (then only
// a health-port annotation differs), else the first member's; members on
// another port get ProbePort.
func assignProbePorts(hc *gslb.HealthCheck, members []k8sMember) {
	configured := hc.Port != 0
	if !configured {
		hc.Port = firstPort(members, func(k k8sMember) uint16 { return k.port })
	}
	for i := range members {
		if p := members[i].port; p != 0 && p != hc.Port && (!configured || members[i].annot) {
			members[i].m.ProbePort = p
		}
	}
}
