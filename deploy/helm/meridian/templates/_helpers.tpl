{{/* Names, labels and the configuration file. */}}

{{- define "meridian.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "meridian.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "meridian.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "meridian.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meridian.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: {{ .Values.mode }}
{{- end -}}

{{- define "meridian.labels" -}}
helm.sh/chart: {{ include "meridian.chart" . }}
{{ include "meridian.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: meridian
{{- end -}}

{{- define "meridian.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "meridian.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "meridian.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "meridian.leader" -}}
{{- if eq .Values.mode "leader" }}true{{ end -}}
{{- end -}}

{{- define "meridian.leaseName" -}}
{{- .Values.kubernetes.leaderElection.leaseName | default (printf "%s-leader" (include "meridian.fullname" .)) -}}
{{- end -}}

{{/*
meridian.needsToken: the pods talk to the Kubernetes API. The leader does
(policies, Lease, Events); with gossip.advertise.mode loadBalancer every pod
does, to read its own gossip Service's address. Otherwise no token is mounted.
*/}}
{{- define "meridian.needsToken" -}}
{{- if or (include "meridian.leader" .) (include "meridian.lbAdvertise" .) }}true{{ end -}}
{{- end -}}

{{- define "meridian.lbAdvertise" -}}
{{- if and .Values.gossip.enabled (eq .Values.gossip.advertise.mode "loadBalancer") }}true{{ end -}}
{{- end -}}

{{- define "meridian.hostNetwork" -}}
{{- if and .Values.gossip.enabled (eq .Values.gossip.advertise.mode "hostNetwork") }}true{{ end -}}
{{- end -}}

{{/* The per-pod gossip Service of ordinal i: "$(POD_NAME)-gossip" in the pod. */}}
{{- define "meridian.podGossipService" -}}
{{- printf "%s-%d-gossip" (include "meridian.fullname" .root) (int .i) -}}
{{- end -}}

{{- define "meridian.kubeconfigSecret" -}}
{{- if .Values.kubernetes.memberKubeconfig.create -}}
{{- printf "%s-member-kubeconfig" (include "meridian.fullname" .) -}}
{{- else -}}
{{- .Values.kubernetes.memberKubeconfig.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* Mount points inside the container. */}}
{{- define "meridian.paths" -}}
config: /etc/meridian/config
kubeconfig: /etc/meridian/kubeconfig
gossip: /etc/meridian/gossip
admin: /etc/meridian/admin
cookies: /etc/meridian/cookies
dnssec: /etc/meridian/dnssec
state: /var/lib/meridian
{{- end -}}

{{/*
meridian.validate fails the render with a message naming the value to fix.
The schema checks types; this checks what depends on several values.
*/}}
{{- define "meridian.validate" -}}
{{- $v := .Values -}}
{{- $cfg := $v.config | default dict -}}
{{- $owned := list "dns.listen" "http.listen" "gossip.role" "gossip.site" "gossip.listen" "gossip.join" "gossip.key_file" "gossip.insecure" "gossip.state_file" "gossip.node_name" "gossip.advertise" "gossip.advertise_service" "kubernetes.kubeconfig" "kubernetes.clusters" "kubernetes.policy_context" "kubernetes.leader_election" "kubernetes.events_namespace" "admin.token_file" "admin.token" "dns.cookie_secret_file" "dns.dnssec_key_directory" -}}
{{- range $path := $owned -}}
{{- $parts := splitList "." $path -}}
{{- $section := index $cfg (first $parts) -}}
{{- if and $section (eq (len $parts) 1) -}}
{{- fail (printf "config.%s is set by the chart: use the chart's values (mode, site, gossip, kubernetes, admin, dns, http) instead" $path) -}}
{{- end -}}
{{- if and $section (kindIs "map" $section) (gt (len $parts) 1) (hasKey $section (last $parts)) -}}
{{- fail (printf "config.%s is set by the chart: use the chart's values (mode, site, gossip, kubernetes, admin, dns, http) instead" $path) -}}
{{- end -}}
{{- end -}}
{{- $fullname := include "meridian.fullname" . -}}
{{- if gt (len $fullname) 52 -}}
{{- fail (printf "the full name %q is %d characters: a StatefulSet's pods need at most 52 (the controller-revision-hash label); shorten fullnameOverride, nameOverride or the release name" $fullname (len $fullname)) -}}
{{- end -}}
{{- $adv := $v.gossip.advertise -}}
{{- if and (ne $adv.mode "podIP") (not $v.gossip.enabled) -}}
{{- fail (printf "gossip.advertise.mode %s needs gossip.enabled: true (it is how the other sites reach each pod's gossip)" $adv.mode) -}}
{{- end -}}
{{- if $adv.loadBalancerIPs -}}
{{- if ne $adv.mode "loadBalancer" -}}
{{- fail (printf "gossip.advertise.loadBalancerIPs is only used with gossip.advertise.mode loadBalancer (mode is %s)" $adv.mode) -}}
{{- end -}}
{{- if ne (len $adv.loadBalancerIPs) (int $v.replicaCount) -}}
{{- fail (printf "gossip.advertise.loadBalancerIPs has %d addresses and replicaCount is %d: give one per pod, in ordinal order" (len $adv.loadBalancerIPs) (int $v.replicaCount)) -}}
{{- end -}}
{{- end -}}
{{- if and $v.persistence.enabled (not $v.persistence.size) -}}
{{- fail "persistence.enabled needs persistence.size (e.g. 64Mi): the state file's PersistentVolumeClaim" -}}
{{- end -}}
{{- if eq $v.mode "follower" -}}
{{- if not $v.gossip.enabled -}}
{{- fail "mode follower needs gossip.enabled: true (a follower serves what the leader publishes by gossip)" -}}
{{- end -}}
{{- range $k := list "zones" "sites" "services" "kubernetes" -}}
{{- if index $cfg $k -}}
{{- fail (printf "mode follower: config.%s must be empty: a follower serves the leader's (set it in the leader's values)" $k) -}}
{{- end -}}
{{- end -}}
{{- if $v.kubernetes.clusters -}}
{{- fail "mode follower: kubernetes.clusters must be empty: only the leader watches the member clusters" -}}
{{- end -}}
{{- else -}}
{{- $mk := $v.kubernetes.memberKubeconfig -}}
{{- if and $mk.create $mk.existingSecret -}}
{{- fail "kubernetes.memberKubeconfig: set existingSecret or create (with content), not both" -}}
{{- end -}}
{{- if and $mk.create (not $mk.content) -}}
{{- fail "kubernetes.memberKubeconfig.create needs kubernetes.memberKubeconfig.content (a kubeconfig with one context per member cluster)" -}}
{{- end -}}
{{- if and (not $mk.create) (not $mk.existingSecret) -}}
{{- fail "mode leader needs the member kubeconfig: set kubernetes.memberKubeconfig.existingSecret (recommended) or create: true with content" -}}
{{- end -}}
{{- if not $v.kubernetes.clusters -}}
{{- fail "mode leader needs kubernetes.clusters: one {context, site} per member cluster" -}}
{{- end -}}
{{- $siteNames := list -}}
{{- range $s := ($cfg.sites | default list) -}}
{{- $siteNames = append $siteNames $s.name -}}
{{- end -}}
{{- range $c := $v.kubernetes.clusters -}}
{{- if not (has $c.site $siteNames) -}}
{{- fail (printf "kubernetes.clusters: context %s maps to site %q, which is not in config.sites %v" $c.context $c.site $siteNames) -}}
{{- end -}}
{{- end -}}
{{- if and $v.gossip.enabled $v.site (not (has $v.site $siteNames)) -}}
{{- fail (printf "site %q is not in config.sites %v: a leader's site must be one of its sites" $v.site $siteNames) -}}
{{- end -}}
{{- end -}}
{{- if $v.gossip.enabled -}}
{{- if not $v.site -}}
{{- fail "gossip.enabled needs site: the site this install serves and probes from" -}}
{{- end -}}
{{- if and (not $v.gossip.insecure) (not $v.gossip.keySecret.name) -}}
{{- fail "gossip.enabled needs gossip.keySecret.name (a Secret with the gossip keys; `meridian gossip-key` prints one), or gossip.insecure: true for a test" -}}
{{- end -}}
{{- if and $v.gossip.insecure $v.gossip.keySecret.name -}}
{{- fail "gossip: set keySecret.name or insecure, not both" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
meridian.config is the configuration file: .Values.config with what the
chart sets merged over it (the chart's keys win; meridian.validate refuses
them in .Values.config, so nothing is silently dropped).
*/}}
{{- define "meridian.config" -}}
{{- $v := .Values -}}
{{- $paths := include "meridian.paths" . | fromYaml -}}
{{- $cfg := deepCopy ($v.config | default dict) -}}
{{- $dns := dict "listen" (list (printf ":%d" (int $v.dns.containerPort))) -}}
{{- if $v.dns.cookieSecret.name -}}
{{- $_ := set $dns "cookie_secret_file" (printf "%s/%s" $paths.cookies $v.dns.cookieSecret.key) -}}
{{- end -}}
{{- if $v.dns.dnssecKeySecret.name -}}
{{- $_ := set $dns "dnssec_key_directory" $paths.dnssec -}}
{{- end -}}
{{- $chart := dict
      "dns" $dns
      "http" (dict "listen" (printf ":%d" (int $v.http.containerPort))) -}}
{{- if $v.gossip.enabled -}}
{{- $g := dict
      "role" $v.mode
      "site" $v.site
      "listen" (printf "0.0.0.0:%d" (int $v.gossip.port))
      "state_file" (printf "%s/state.json" $paths.state) -}}
{{- if $v.gossip.join -}}
{{- $_ := set $g "join" $v.gossip.join -}}
{{- end -}}
{{- if $v.gossip.insecure -}}
{{- $_ := set $g "insecure" true -}}
{{- else -}}
{{- $_ := set $g "key_file" (printf "%s/%s" $paths.gossip $v.gossip.keySecret.key) -}}
{{- end -}}
{{- $_ := set $chart "gossip" $g -}}
{{- end -}}
{{- if include "meridian.leader" . -}}
{{- $clusters := list -}}
{{- range $c := $v.kubernetes.clusters -}}
{{- $clusters = append $clusters (dict "context" $c.context "site" $c.site) -}}
{{- end -}}
{{- $k := dict
      "kubeconfig" (printf "%s/%s" $paths.kubeconfig $v.kubernetes.memberKubeconfig.key)
      "clusters" $clusters
      "leader_election" (dict "lease_name" (include "meridian.leaseName" .) "lease_namespace" .Release.Namespace)
      "events_namespace" .Release.Namespace -}}
{{- if $v.kubernetes.policyContext -}}
{{- $_ := set $k "policy_context" $v.kubernetes.policyContext -}}
{{- end -}}
{{- $_ := set $chart "kubernetes" $k -}}
{{- end -}}
{{- if $v.admin.tokenSecret.name -}}
{{- $_ := set $chart "admin" (dict "token_file" (printf "%s/%s" $paths.admin $v.admin.tokenSecret.key)) -}}
{{- end -}}
{{- toYaml (mustMergeOverwrite $cfg $chart) -}}
{{- end -}}
