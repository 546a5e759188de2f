package grafana

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// dashboardFile is the chart's dashboard, from this directory.
const dashboardFile = "../../deploy/helm/meridian/dashboards/meridian.json"

// dsVar is what every panel and query names as its data source: the
// dashboard's data source variable, so the operator picks the Prometheus.
const dsVar = "${datasource}"

// Grafana 10 and 11 read schema version 39; a newer Grafana migrates it.
const minSchemaVersion = 39

// loadDashboard decodes the dashboard strictly: Grafana's schema (as the
// SDK generates it from the CUE kinds) with every panel type's options
// and the Prometheus query type registered, so an unknown field, a
// missing required field or a wrong type anywhere is an error.
//
// dashboard.Dashboard is deprecated in the SDK for dashboardv2, the
// resource form only Grafana 12 and later read; the chart ships the
// classic JSON model, which Grafana 10 and 11 import and the sidecar
// provisions, so the classic schema is the one to check.
func loadDashboard(t *testing.T) *dashboard.Dashboard { //nolint:staticcheck // the classic model on purpose (above)
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	plugins.RegisterDefaultPlugins()
	var d dashboard.Dashboard //nolint:staticcheck // the classic model on purpose
	if err := d.UnmarshalJSONStrict(raw); failed(err) {
		t.Fatalf("%s does not match Grafana's dashboard schema:\n%v", dashboardFile, err)
	}
	if err := d.Validate(); failed(err) {
		t.Fatalf("%s does not validate: %v", dashboardFile, err)
	}
	return &d
}

// failed says whether err is one: the SDK returns its error list
// (cog.BuildErrors) as an error even when the list is empty.
func failed(err error) bool {
	var errs cog.BuildErrors
	if errors.As(err, &errs) {
		return len(errs) > 0
	}
	return err != nil
}

func TestDashboardSchema(t *testing.T) {
	d := loadDashboard(t)

	// Required at the top: what a provisioned or imported dashboard needs
	// to be found again and to keep its place.
	if d.Uid == nil || *d.Uid == "" || len(*d.Uid) > 40 {
		t.Errorf("uid %v: want 1 to 40 characters", d.Uid)
	}
	if d.Title == nil || *d.Title == "" {
		t.Error("no title")
	}
	if d.Id != nil {
		t.Error("id is set: it is internal to one Grafana; leave it out")
	}
	if max := dashboard.NewDashboard().SchemaVersion; d.SchemaVersion < minSchemaVersion || d.SchemaVersion > max {
		t.Errorf("schemaVersion %d, want %d to %d (the SDK's)", d.SchemaVersion, minSchemaVersion, max)
	}
}

// knownPanelTypes are the panel types the dashboard may use: those whose
// options the SDK decodes strictly.
var knownPanelTypes = map[string]struct{}{"timeseries": {}, "stat": {}, "heatmap": {}}

func TestDashboardVariables(t *testing.T) {
	d := loadDashboard(t)
	vars := map[string]dashboard.VariableModel{}
	for _, v := range d.Templating.List {
		if _, dup := vars[v.Name]; dup {
			t.Errorf("variable %q twice", v.Name)
		}
		vars[v.Name] = v
	}
	ds, ok := vars["datasource"]
	switch {
	case !ok:
		t.Fatal("no datasource variable")
	case ds.Type != dashboard.VariableTypeDatasource:
		t.Errorf("datasource variable: type %q, want datasource", ds.Type)
	case ds.Query == nil || ds.Query.String == nil || *ds.Query.String != "prometheus":
		t.Errorf("datasource variable: query %v, want the string prometheus", deref(deref(ds.Query).String))
	}
	for _, name := range []string{"job", "instance", "site"} {
		v, ok := vars[name]
		if !ok {
			t.Errorf("no %s variable", name)
			continue
		}
		if v.Type != dashboard.VariableTypeQuery {
			t.Errorf("variable %s: type %q, want query", name, v.Type)
		}
		checkDatasource(t, "variable "+name, v.Datasource)
		if v.Query == nil || (v.Query.String == nil && v.Query.Map == nil) {
			t.Errorf("variable %s: no query", name)
		}
	}
}

// panelJSON is what the panel checks read of a panel, decoded plainly:
// the SDK (v0.0.22) checks panels and queries but does not keep them
// (PanelOrRowPanel.UnmarshalJSONStrict returns its panel's empty error
// list as a non-nil error, before it stores the panel), so the decoded
// Dashboard's Panels are empty.
type panelJSON struct {
	Type       string                `json:"type"`
	ID         *uint32               `json:"id"`
	Title      string                `json:"title"`
	GridPos    *dashboard.GridPos    `json:"gridPos"`
	Datasource *common.DataSourceRef `json:"datasource"`
	Targets    []struct {
		RefID      string                `json:"refId"`
		Expr       string                `json:"expr"`
		Datasource *common.DataSourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []json.RawMessage `json:"panels"`
}

func readPanels(t *testing.T) []panelJSON {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []panelJSON `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return d.Panels
}

func TestDashboardPanels(t *testing.T) {
	loadDashboard(t) // the schema
	panels := readPanels(t)
	if len(panels) == 0 {
		t.Fatal("no panels")
	}
	ids := map[uint32]string{}
	var placed []placedPanel
	for _, p := range panels {
		what := fmt.Sprintf("%s %q", p.Type, p.Title)
		if p.Title == "" {
			t.Errorf("%s: no title", what)
		}
		if p.ID == nil {
			t.Errorf("%s: no id", what)
		} else if prev, dup := ids[*p.ID]; dup {
			t.Errorf("panel id %d used by %s and %s", *p.ID, prev, what)
		} else {
			ids[*p.ID] = what
		}
		placed = append(placed, checkGrid(t, what, p.GridPos, p.Type == "row"))
		if p.Type == "row" {
			if len(p.Panels) > 0 {
				t.Errorf("%s: a collapsed row hides its panels; keep rows open", what)
			}
			continue
		}
		if _, ok := knownPanelTypes[p.Type]; !ok {
			t.Errorf("%s: panel type %q is not one this test knows (%v)", what, p.Type, knownPanelTypes)
		}
		checkDatasource(t, what, p.Datasource)
		if len(p.Targets) == 0 {
			t.Errorf("%s: no queries", what)
		}
		refs := map[string]bool{}
		for i, q := range p.Targets {
			qwhat := fmt.Sprintf("%s target %d", what, i)
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("%s: no expr", qwhat)
			}
			checkDatasource(t, qwhat, q.Datasource)
			if q.RefID == "" || refs[q.RefID] {
				t.Errorf("%s: refId %q missing or repeated", qwhat, q.RefID)
			}
			refs[q.RefID] = true
		}
	}
	// No two panels may cover the same cell: Grafana would move one.
	for i := range placed {
		for j := i + 1; j < len(placed); j++ {
			if placed[i].overlaps(placed[j]) {
				t.Errorf("%s and %s overlap", placed[i].what, placed[j].what)
			}
		}
	}
}

type placedPanel struct {
	what       string
	x, y, w, h uint32
}

func (a placedPanel) overlaps(b placedPanel) bool {
	return a.x < b.x+b.w && b.x < a.x+a.w && a.y < b.y+b.h && b.y < a.y+a.h
}

// checkGrid checks a panel's place on Grafana's 24-column grid.
func checkGrid(t *testing.T, what string, g *dashboard.GridPos, row bool) placedPanel {
	t.Helper()
	if g == nil {
		t.Errorf("%s: no gridPos", what)
		return placedPanel{what: what}
	}
	switch {
	case g.W == 0 || g.H == 0:
		t.Errorf("%s: gridPos %+v is empty", what, *g)
	case g.X+g.W > 24:
		t.Errorf("%s: gridPos %+v is wider than the 24 columns", what, *g)
	case row && (g.W != 24 || g.H != 1 || g.X != 0):
		t.Errorf("%s: gridPos %+v, want a full-width row of height 1", what, *g)
	}
	return placedPanel{what: what, x: g.X, y: g.Y, w: g.W, h: g.H}
}

// checkDatasource wants the data source variable, of type prometheus.
func checkDatasource(t *testing.T, what string, ds *common.DataSourceRef) {
	t.Helper()
	if ds == nil || ds.Uid == nil || *ds.Uid != dsVar || ds.Type == nil || *ds.Type != "prometheus" {
		t.Errorf("%s: datasource %s, want {type: prometheus, uid: %s}", what, dsString(ds), dsVar)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func dsString(ds *common.DataSourceRef) string {
	if ds == nil {
		return "none"
	}
	return fmt.Sprintf("{type: %v, uid: %v}", deref(ds.Type), deref(ds.Uid))
}
