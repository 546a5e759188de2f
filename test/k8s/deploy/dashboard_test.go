package deploy

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dashboardName is the ConfigMap grafana.dashboard.enabled renders.
const dashboardName = fullname + "-dashboard"

func dashboardJSON(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir(t), "dashboards", "meridian.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGrafanaDashboard: grafana.dashboard.enabled renders the chart's
// dashboard file, unchanged, in a ConfigMap with the label Grafana's
// dashboard sidecar looks for; off (the default) renders nothing.
func TestGrafanaDashboard(t *testing.T) {
	h := newHelm(t)
	want := dashboardJSON(t)
	if !json.Valid(want) {
		t.Fatal("dashboards/meridian.json is not valid JSON")
	}

	for _, mode := range []string{"leader", "follower"} {
		t.Run(mode+" default off", func(t *testing.T) {
			_, objs := render(t, h, mode)
			for _, o := range objs {
				if o.kind() == "ConfigMap" && strings.Contains(o.name(), "dashboard") {
					t.Errorf("ConfigMap %s rendered without grafana.dashboard.enabled", o.name())
				}
			}
		})
		t.Run(mode+" enabled", func(t *testing.T) {
			_, objs := render(t, h, mode, "--set", "grafana.dashboard.enabled=true")
			cm := find(t, objs, "ConfigMap", dashboardName)
			if ns := path(cm, "metadata", "namespace"); ns != namespace {
				t.Errorf("namespace %v, want the release's %s", ns, namespace)
			}
			labels := asMap(path(cm, "metadata", "labels"))
			if labels["grafana_dashboard"] != "1" {
				t.Errorf("labels %v: no grafana_dashboard: \"1\" (the sidecar's default label)", labels)
			}
			for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "helm.sh/chart"} {
				if labels[k] == nil {
					t.Errorf("labels %v: no %s", labels, k)
				}
			}
			if a := path(cm, "metadata", "annotations"); a != nil {
				t.Errorf("annotations %v, want none by default", a)
			}
			data := asMap(path(cm, "data"))
			if len(data) != 1 {
				t.Errorf("data keys %v, want meridian.json alone", data)
			}
			got, _ := data["meridian.json"].(string)
			if !json.Valid([]byte(got)) {
				t.Fatalf("data meridian.json is not valid JSON:\n%.500s", got)
			}
			if got != string(want) {
				t.Errorf("data meridian.json (%d bytes) differs from dashboards/meridian.json (%d bytes)", len(got), len(want))
			}
			var d struct {
				UID string `json:"uid"`
			}
			if err := json.Unmarshal([]byte(got), &d); err != nil || d.UID != "meridian-gslb" {
				t.Errorf("dashboard uid %q (%v), want meridian-gslb", d.UID, err)
			}
		})
	}

	t.Run("labels, annotations and namespace", func(t *testing.T) {
		_, objs := render(t, h, "leader", "--set", "grafana.dashboard.enabled=true",
			"--set", "grafana.dashboard.labels.grafana_dashboard=null", "--set", "grafana.dashboard.labels.dashboards=meridian",
			"--set", "grafana.dashboard.annotations.grafana_folder=GSLB",
			"--set", "grafana.dashboard.namespace=monitoring")
		cm := find(t, objs, "ConfigMap", dashboardName)
		if ns := path(cm, "metadata", "namespace"); ns != "monitoring" {
			t.Errorf("namespace %v, want monitoring", ns)
		}
		labels := asMap(path(cm, "metadata", "labels"))
		if labels["dashboards"] != "meridian" || labels["grafana_dashboard"] != nil {
			t.Errorf("labels %v, want dashboards: meridian and no grafana_dashboard", labels)
		}
		if a := asMap(path(cm, "metadata", "annotations")); len(a) != 1 || a["grafana_folder"] != "GSLB" {
			t.Errorf("annotations %v, want grafana_folder: GSLB", a)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Run("lint", func(t *testing.T) {
		out, err := h.run(ctx, "lint", "--strict", chartDir(t), "--namespace", namespace,
			"--values", ciValues(t, "leader"), "--set", "grafana.dashboard.enabled=true")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "1 chart(s) linted, 0 chart(s) failed") {
			t.Errorf("helm lint output:\n%s", out)
		}
	})
	t.Run("schema", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--set", "grafana.dashboard.enable=true"}, "additional properties 'enable' not allowed"},
			{[]string{"--set", "grafana.dashboards.enabled=true"}, "additional properties 'dashboards' not allowed"},
			{[]string{"--set", "grafana.dashboard.enabled=yes"}, "/grafana/dashboard/enabled"},
			{[]string{"--set", "grafana.dashboard.namespace=Monitoring"}, "/grafana/dashboard/namespace"},
			{[]string{"--set-json", `grafana.dashboard.labels={"a":{"b":"c"}}`}, "/grafana/dashboard/labels/a"},
		} {
			out, err := h.template(ctx, t, append([]string{"--values", ciValues(t, "leader")}, tc.args...)...)
			if err == nil {
				t.Errorf("helm template %v succeeded, want an error containing %q; output:\n%.500s", tc.args, tc.want, out)
			} else if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm template %v: error does not contain %q:\n%v", tc.args, tc.want, err)
			}
		}
	})
}
