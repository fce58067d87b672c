package modules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/ocrpool/ocrpool/modules/ocr/synth"
	"github.com/ocrpool/ocrpool/modules/platform/auth"
	"github.com/ocrpool/ocrpool/modules/platform/sched"
)

// The files operators load into Prometheus and Grafana, relative to this
// package. They name metrics and labels as strings: nothing but the tests
// below ties them to the code that exports them.
const (
	alertsFile          = "../config/prometheus/alerts.yml"
	prometheusFile      = "../config/prometheus/prometheus.yml"
	dashboardFile       = "../config/grafana/dashboards/ocrpool.json"
	datasourceProvision = "../config/grafana/provisioning/datasources/ocrpool.yml"
	dashboardProvision  = "../config/grafana/provisioning/dashboards/ocrpool.yml"
)

// targetLabels are added by Prometheus to every scraped series. A series
// that exported one of them itself would keep it as exported_<name> (with
// the default honor_labels: false); none of ocrpool's do.
var targetLabels = []string{"job", "instance"}

// syntheticSeries are made by Prometheus, not scraped, with their labels.
var syntheticSeries = map[string][]string{"up": {"job", "instance"}}

// Values of these labels are not compared with the exposition: HTTP status
// codes are a standard vocabulary, and the test cannot provoke every one;
// instances are wherever the process runs.
var unvaluedLabels = map[string]bool{"status": true, "instance": true}

type alertRule struct {
	Alert         string            `yaml:"alert"`
	Record        string            `yaml:"record"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

type ruleFile struct {
	Groups []struct {
		Name        string      `yaml:"name"`
		Interval    string      `yaml:"interval"`
		QueryOffset string      `yaml:"query_offset"`
		Limit       int         `yaml:"limit"`
		Rules       []alertRule `yaml:"rules"`
	} `yaml:"groups"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true) // a misspelt key (anotations:) is silently ignored by Prometheus
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func loadRules(t *testing.T) []alertRule {
	t.Helper()
	var f ruleFile
	readYAML(t, alertsFile, &f)
	var rules []alertRule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatalf("%s has no rules", alertsFile)
	}
	return rules
}

// Every alert must tell the operator how bad it is and what to do, and
// must wait a little before paging.
func TestAlertRulesAreActionable(t *testing.T) {
	var f ruleFile
	readYAML(t, alertsFile, &f)
	groups := map[string]bool{}
	names := map[string]bool{}
	for _, g := range f.Groups {
		if g.Name == "" || groups[g.Name] {
			t.Errorf("group name %q is empty or repeated", g.Name)
		}
		groups[g.Name] = true
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a rule without alert: (record %q): only alerts belong in %s", g.Name, r.Record, alertsFile)
				continue
			}
			if names[r.Alert] {
				t.Errorf("alert %s is defined twice", r.Alert)
			}
			names[r.Alert] = true
			if d, err := model.ParseDuration(r.For); err != nil || d <= 0 {
				t.Errorf("alert %s: for: %q, want a positive duration", r.Alert, r.For)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
				t.Errorf("alert %s: severity %q, want critical, warning or info", r.Alert, s)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("alert %s: no %s annotation", r.Alert, a)
				}
			}
			if _, err := parsePromQL(r.Expr); err != nil {
				t.Errorf("alert %s: %v", r.Alert, err)
			}
		}
	}
}

// namedQuery is a PromQL query of the rules or the dashboard.
type namedQuery struct {
	where string // alert, panel or variable, for messages
	expr  string
	// label is the second argument of label_values(selector, label): it
	// must exist on the selector's metric.
	label string
}

// dashboard is the subset of Grafana's dashboard model checked here.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasourceRef  `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	GridPos    *struct{ H, W, X, Y int }
	Targets    []struct {
		Expr       string         `json:"expr"`
		RefID      string         `json:"refId"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's panels
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

var labelValuesCall = regexp.MustCompile(`^\s*label_values\(\s*(.+?)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$`)

// loadDashboard checks the dashboard's shape and returns its queries.
func loadDashboard(t *testing.T) []namedQuery {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q, title %q: both are needed for provisioning", d.UID, d.Title)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d, want ≥ 36", d.SchemaVersion)
	}

	const dsVar = "${datasource}"
	var queries []namedQuery
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var obj struct{ Query string }
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Errorf("variable %s: query %s is neither a string nor an object", v.Name, v.Query)
			}
			q = obj.Query
		}
		switch v.Type {
		case "datasource":
			if q != "prometheus" {
				t.Errorf("variable %s: datasource type %q, want prometheus", v.Name, q)
			}
		case "query":
			if v.Datasource == nil || v.Datasource.UID != dsVar {
				t.Errorf("variable %s: datasource %+v, want uid %s", v.Name, v.Datasource, dsVar)
			}
			dq := namedQuery{where: "variable " + v.Name, expr: q}
			if m := labelValuesCall.FindStringSubmatch(q); m != nil {
				dq.expr, dq.label = m[1], m[2]
			}
			queries = append(queries, dq)
		}
	}
	for name, typ := range map[string]string{"datasource": "datasource", "job": "query", "instance": "query"} {
		if vars[name] != typ {
			t.Errorf("variable %s is %q, want a %s variable", name, vars[name], typ)
		}
	}

	ids := map[int]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if prev, dup := ids[p.ID]; dup || p.ID == 0 {
				t.Errorf("panel %q: id %d is missing or also used by %q", p.Title, p.ID, prev)
			}
			ids[p.ID] = p.Title
			if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
				t.Errorf("panel %q has no gridPos", p.Title)
			}
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != dsVar {
				t.Errorf("panel %q: datasource %+v, want uid %s", p.Title, p.Datasource, dsVar)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Datasource != nil && tg.Datasource.UID != dsVar {
					t.Errorf("panel %q target %s: datasource %+v, want uid %s", p.Title, tg.RefID, tg.Datasource, dsVar)
				}
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q target %s has no expr", p.Title, tg.RefID)
					continue
				}
				queries = append(queries, namedQuery{where: fmt.Sprintf("panel %q", p.Title), expr: tg.Expr})
			}
		}
	}
	walk(d.Panels)
	return queries
}

func TestDashboardAndProvisioning(t *testing.T) {
	for _, q := range loadDashboard(t) {
		if _, err := parsePromQL(q.expr); err != nil {
			t.Errorf("%s: %v", q.where, err)
		}
	}

	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
			IsDefault                    bool           `yaml:"isDefault"`
			Editable                     bool           `yaml:"editable"`
			JSONData                     map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, datasourceProvision, &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" {
		t.Errorf("%s: want apiVersion 1 and one prometheus data source, got %+v", datasourceProvision, ds)
	}
	for _, d := range ds.Datasources {
		checkLocal(t, datasourceProvision, d.URL)
	}

	var dp struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Folder, Type    string
			DisableDeletion       bool `yaml:"disableDeletion"`
			AllowUIUpdates        bool `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int  `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path                      string
				FoldersFromFilesStructure bool `yaml:"foldersFromFilesStructure"`
			}
		} `yaml:"providers"`
	}
	readYAML(t, dashboardProvision, &dp)
	if dp.APIVersion != 1 || len(dp.Providers) != 1 || dp.Providers[0].Type != "file" || dp.Providers[0].Options.Path == "" {
		t.Errorf("%s: want apiVersion 1 and one file provider with a path, got %+v", dashboardProvision, dp)
	}
}

// promConfig is the subset of prometheus.yml checked here.
type promConfig struct {
	Global        map[string]string `yaml:"global"`
	RuleFiles     []string          `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		HonorLabels   bool   `yaml:"honor_labels"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

// scrapeJob returns the job name of the example scrape config, after
// checking that it loads alerts.yml and scrapes this host only.
func scrapeJob(t *testing.T) string {
	t.Helper()
	var c promConfig
	readYAML(t, prometheusFile, &c)
	if !slices.Contains(c.RuleFiles, filepath.Base(alertsFile)) {
		t.Errorf("%s: rule_files %v do not load %s", prometheusFile, c.RuleFiles, filepath.Base(alertsFile))
	}
	if len(c.ScrapeConfigs) != 1 || c.ScrapeConfigs[0].JobName == "" {
		t.Fatalf("%s: want one scrape config with a job_name", prometheusFile)
	}
	sc := c.ScrapeConfigs[0]
	if sc.HonorLabels {
		t.Errorf("%s: honor_labels: true would let a scraped series overwrite the target's labels", prometheusFile)
	}
	for _, s := range sc.StaticConfigs {
		for _, target := range s.Targets {
			checkLocal(t, prometheusFile, "http://"+target)
		}
	}
	return sc.JobName
}

// checkLocal keeps example files free of real hosts: they are copied as
// they are.
func checkLocal(t *testing.T, file, url string) {
	t.Helper()
	host := strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://")
	host, _, _ = strings.Cut(host, "/")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host != "localhost" && host != "127.0.0.1" && host != "::1" {
		t.Errorf("%s: %s is not on localhost", file, url)
	}
}

// The rules and the dashboard query what a real process exports: this
// fails when a metric or a label they use is renamed or removed.
func TestAlertsAndDashboardUseExportedMetrics(t *testing.T) {
	job := scrapeJob(t)
	var queries []namedQuery
	for _, r := range loadRules(t) {
		queries = append(queries, namedQuery{where: "alert " + r.Alert, expr: r.Expr})
	}
	queries = append(queries, loadDashboard(t)...)

	families := liveMetrics(t)
	used := map[string]bool{}
	for _, q := range queries {
		refs, err := parsePromQL(q.expr)
		if err != nil {
			t.Errorf("%s: %v", q.where, err)
			continue
		}
		if len(refs) == 0 {
			t.Errorf("%s: %q queries no metric", q.where, q.expr)
		}
		for _, ref := range refs {
			if q.label != "" {
				ref.grouping = append(ref.grouping, q.label)
			}
			for _, msg := range checkRef(ref, families, job) {
				t.Errorf("%s: %s", q.where, msg)
			}
			used[ref.name] = true
		}
	}
	t.Logf("%d queries use %d metrics", len(queries), len(used))
	// New metrics are welcome without a panel, but say so.
	for _, name := range sortedKeys(familyNames(families)) {
		if strings.HasPrefix(name, "ocrpool_") && !used[name] && !used[name+"_bucket"] && !used[name+"_sum"] && !used[name+"_count"] {
			t.Logf("%s is on neither the dashboard nor an alert", name)
		}
	}
}

func familyNames(families map[string]exportedSeries) map[string]bool {
	names := map[string]bool{}
	for name := range families {
		names[name] = true
	}
	return names
}

// exportedSeries is what the exposition says about one metric family.
type exportedSeries struct {
	typ    dto.MetricType
	labels map[string]map[string]bool // label name → values seen
}

// checkRef reports what is wrong with one selector against the exposition.
func checkRef(ref metricRef, families map[string]exportedSeries, job string) []string {
	fam, suffix, ok := resolveFamily(ref.name, families)
	if !ok {
		return []string{fmt.Sprintf("metric %s is not exported on /metrics", ref.name)}
	}
	var problems []string
	known := func(label string) (exposed string, ok bool) {
		switch {
		case label == "__name__":
			return "", true
		case label == "le":
			return "", suffix == "_bucket"
		case slices.Contains(targetLabels, label):
			return "", true
		case strings.HasPrefix(label, "exported_") && slices.Contains(targetLabels, strings.TrimPrefix(label, "exported_")):
			label = strings.TrimPrefix(label, "exported_")
		}
		_, ok = fam.labels[label]
		return label, ok
	}
	for _, l := range ref.grouping {
		if _, ok := known(l); !ok {
			problems = append(problems, fmt.Sprintf("%s has no label %q to aggregate or match on", ref.name, l))
		}
	}
	for _, m := range ref.matchers {
		exposed, ok := known(m.name)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s has no label %q", ref.name, m.name))
			continue
		}
		if m.op != "=" || strings.Contains(m.value, "$") || unvaluedLabels[m.name] {
			continue
		}
		switch {
		case m.name == "job":
			// job is only ever the scrape target's (scheduled jobs are "task").
			if m.value != job {
				problems = append(problems, fmt.Sprintf("%s{job=%q}: job is the scrape job %q here (scheduled jobs are told apart by task)", ref.name, m.value, job))
			}
		case exposed != "" && !fam.labels[exposed][m.value] && !valueExported(families, exposed, m.value):
			problems = append(problems, fmt.Sprintf("%s{%s=%q}: no such value on /metrics (have %v)", ref.name, m.name, m.value, sortedKeys(fam.labels[exposed])))
		}
	}
	return problems
}

// valueExported reports whether some family has label=value. A histogram
// has a series only once something is observed, so a value may show on a
// sibling only: the refresh job's name is on ocrpool_job_runs_total (every
// job is exposed there at zero) long before its first duration.
func valueExported(families map[string]exportedSeries, label, value string) bool {
	for _, f := range families {
		if f.labels[label][value] {
			return true
		}
	}
	return false
}

// resolveFamily finds the family a name selects: itself, or the histogram
// or summary whose _bucket, _sum or _count series it is.
func resolveFamily(name string, families map[string]exportedSeries) (exportedSeries, string, bool) {
	if labels, ok := syntheticSeries[name]; ok {
		s := exportedSeries{labels: map[string]map[string]bool{}}
		for _, l := range labels {
			s.labels[l] = map[string]bool{}
		}
		return s, "", true
	}
	if f, ok := families[name]; ok {
		return f, "", true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, found := strings.CutSuffix(name, suffix)
		if !found {
			continue
		}
		f, ok := families[base]
		if ok && (f.typ == dto.MetricType_HISTOGRAM || (f.typ == dto.MetricType_SUMMARY && suffix != "_bucket")) {
			return f, suffix, true
		}
	}
	return exportedSeries{}, "", false
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// liveMetrics starts every role on the embedded defaults (or the test
// databases), makes the requests that create the labelled series the rules
// and dashboard use, and returns what GET /metrics exposes.
func liveMetrics(t *testing.T) map[string]exportedSeries {
	t.Helper()
	app := startApp(t, securityConfig(t), appOpts{})
	// The only module job, the pattern refresh, runs on a daily cron: a
	// job of our own that runs every second gives ocrpool_job_duration_seconds
	// its first series without waiting for midnight.
	if err := app.Platform().Sched.Add(sched.Job{Name: "observability.test", Every: time.Second,
		Run: func(context.Context) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, app)
	appKey := mustKey(t, app.Platform(), auth.RoleApp).Secret
	trainingKey := mustKey(t, app.Platform(), auth.RoleTrainingService).Secret

	item := func(original, corrected map[string]any) map[string]any {
		return map[string]any{
			"source_app": "expenseapp", "source_environment": "sandbox", "source_correction_id": uuid.NewString(),
			"user_id": "user-1", "ocr_provider": "tesseract",
			"ocr_text":           "STARBUCKS STORE 12\nGRANDE LATTE\nTOTAL 4.10\n01/01/2099",
			"original_inference": original, "corrected_fields": corrected,
			"created_at": time.Now().UTC().Format(time.RFC3339),
		}
	}
	batch, _ := json.Marshal(map[string]any{"corrections": []any{
		item(map[string]any{"merchant": "STARBUCKS STORE"}, map[string]any{"merchant": "Starbucks", "amount": "4.10"}), // stored
		// Changes nothing and is dated in the future: stored as an outlier.
		item(map[string]any{"merchant": "Starbucks", "date": "2099-01-01"}, map[string]any{"merchant": "Starbucks", "date": "2099-01-01"}),
		map[string]any{"source_app": "expenseapp"}, // rejected
	}})
	img, err := synth.Render(synth.Random(1), synth.Options{FontSize: 14})
	if err != nil {
		t.Fatal(err)
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	w, _ := mw.CreateFormFile("image", "receipt.png")
	if err := png.Encode(w, img); err != nil {
		t.Fatal(err)
	}
	mw.Close()

	for _, r := range []struct {
		method, path, key, body string
		hdr                     []string
	}{
		{method: http.MethodGet, path: "/healthz"},
		{method: http.MethodPost, path: "/corrections/ingest", key: appKey, body: string(batch)},
		{method: http.MethodGet, path: "/corrections/export?since=7d&format=jsonl", key: trainingKey},
		{method: http.MethodGet, path: "/patterns/global", key: appKey},
		{method: http.MethodPost, path: "/ocr/extract", key: appKey, body: `{"text":"STARBUCKS STORE 12\nTOTAL 4.10"}`},
		{method: http.MethodPost, path: "/ocr/process", key: appKey, body: form.String(), hdr: []string{"Content-Type", mw.FormDataContentType()}},
	} {
		if resp := c.do(r.method, r.path, r.key, r.body, r.hdr...); resp.status >= 500 {
			t.Errorf("%s %s = %d %s", r.method, r.path, resp.status, resp.body)
		}
	}

	deadline := time.Now().Add(15 * time.Second)
	for {
		families, err := scrape(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := families["ocrpool_job_duration_seconds"]; ok || time.Now().After(deadline) {
			return families
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func scrape(c *client) (map[string]exportedSeries, error) {
	resp := c.do(http.MethodGet, "/metrics", "", "")
	if resp.status != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics = %d", resp.status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(resp.body))
	if err != nil {
		return nil, fmt.Errorf("parsing /metrics: %w", err)
	}
	out := map[string]exportedSeries{}
	for name, mf := range mfs {
		s := exportedSeries{typ: mf.GetType(), labels: map[string]map[string]bool{}}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if s.labels[lp.GetName()] == nil {
					s.labels[lp.GetName()] = map[string]bool{}
				}
				s.labels[lp.GetName()][lp.GetValue()] = true
			}
		}
		out[name] = s
	}
	return out, nil
}

// promtool, when installed, is the reference: it parses PromQL fully and
// lints the exposition. scripts/bootstrap.sh puts it in .tools/bin when the
// system has none.
func TestPromtool(t *testing.T) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if bin, err = filepath.Abs("../.tools/bin/promtool"); err == nil {
			_, err = os.Stat(bin)
		}
	}
	if err != nil {
		t.Skip("promtool is neither on PATH nor in .tools/bin (scripts/bootstrap.sh fetches it)")
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"check rules", []string{"check", "rules", alertsFile}},
		{"check config", []string{"check", "config", prometheusFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(bin, tc.args...).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool %s: %v\n%s", strings.Join(tc.args, " "), err, out)
			}
		})
	}
	t.Run("check metrics", func(t *testing.T) {
		app := startApp(t, securityConfig(t), appOpts{})
		resp := newClient(t, app).do(http.MethodGet, "/metrics", "", "")
		if resp.status != http.StatusOK || !bytes.Contains(resp.body, []byte("ocrpool_patterns_served_version")) {
			t.Fatalf("GET /metrics = %d, %d bytes", resp.status, len(resp.body))
		}
		cmd := exec.Command(bin, "check", "metrics")
		cmd.Stdin = bytes.NewReader(resp.body)
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
	})
}

// metricRef is one vector selector of a query.
type metricRef struct {
	name     string
	matchers []labelMatcher
	// grouping are the labels of by/without/on/ignoring clauses that
	// apply to this selector.
	grouping []string
}

type labelMatcher struct{ name, op, value string }

type tokenKind int

const (
	tokIdent tokenKind = iota
	tokString
	tokNumber
	tokVar   // a Grafana variable: $x, ${x}, [[x]]
	tokRange // [5m], [1h:1m], [$__rate_interval]
	tokOp
)

type token struct {
	kind tokenKind
	text string // a string's value, unquoted
}

// lexPromQL splits a query into tokens. It knows enough PromQL for
// parsePromQL (strings, comments, ranges, Grafana variables), not all of it:
// promtool checks the rest when it is installed.
func lexPromQL(s string) ([]token, error) {
	var toks []token
	isIdentStart := func(r byte) bool { return r == '_' || r == ':' || r < 128 && unicode.IsLetter(rune(r)) }
	isIdent := func(r byte) bool { return isIdentStart(r) || r >= '0' && r <= '9' }
	for i := 0; i < len(s); {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			i++
		case ch == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case ch == '"' || ch == '\'' || ch == '`':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != ch; j++ {
				if s[j] == '\\' && ch != '`' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			toks = append(toks, token{tokString, b.String()})
			i = j + 1
		case ch == '$':
			j := i + 1
			if j < len(s) && s[j] == '{' {
				end := strings.IndexByte(s[j:], '}')
				if end < 0 {
					return nil, fmt.Errorf("unterminated ${ at %d", i)
				}
				j += end + 1
			} else {
				for j < len(s) && isIdent(s[j]) {
					j++
				}
			}
			toks = append(toks, token{tokVar, s[i:j]})
			i = j
		case ch == '[':
			depth, j := 0, i
			for ; j < len(s); j++ {
				if s[j] == '[' {
					depth++
				} else if s[j] == ']' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated [ at %d", i)
			}
			kind := tokRange
			if strings.HasPrefix(s[i:], "[[") {
				kind = tokVar
			}
			toks = append(toks, token{kind, s[i : j+1]})
			i = j + 1
		case isIdentStart(ch):
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			toks = append(toks, token{tokIdent, s[i:j]})
			i = j
		case ch >= '0' && ch <= '9' || ch == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i
			for j < len(s) && (isIdent(s[j]) || s[j] == '.' || (s[j] == '+' || s[j] == '-') && (s[j-1] == 'e' || s[j-1] == 'E')) {
				j++
			}
			toks = append(toks, token{tokNumber, s[i:j]})
			i = j
		default:
			op := string(ch)
			if i+1 < len(s) && slices.Contains([]string{"==", "!=", "=~", "!~", ">=", "<="}, s[i:i+2]) {
				op = s[i : i+2]
			}
			if !strings.Contains("=!~<>(){},+-*/%^@", string(ch)) {
				return nil, fmt.Errorf("unexpected %q at %d", ch, i)
			}
			toks = append(toks, token{tokOp, op})
			i += len(op)
		}
	}
	return toks, nil
}

var (
	aggregators = map[string]bool{"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true,
		"stdvar": true, "count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
		"limitk": true, "limit_ratio": true}
	// promqlWords are identifiers that are never metric names where they
	// stand outside braces.
	promqlWords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"inf": true, "nan": true, "start": true, "end": true}
)

// parsePromQL returns the vector selectors of expr, each with the labels
// its matchers and enclosing by/without clauses use. on/ignoring labels
// are applied to every selector of expr, which is stricter than PromQL.
func parsePromQL(expr string) ([]metricRef, error) {
	toks, err := lexPromQL(expr)
	if err != nil {
		return nil, err
	}
	var (
		refs       []metricRef
		stack      []int      // open parentheses: index into groups
		groups     [][]string // labels that apply to each open group
		starts     []int      // first ref of each open group
		pending    []string   // by (…) labels waiting for the aggregation's "("
		lastClosed = [2]int{-1, -1}
		everywhere []string
	)
	at := func(i int) token {
		if i < len(toks) {
			return toks[i]
		}
		return token{kind: -1}
	}
	isOp := func(i int, op string) bool { return at(i).kind == tokOp && at(i).text == op }
	for i := 0; i < len(toks); i++ {
		tk := toks[i]
		switch {
		case tk.kind == tokIdent && (tk.text == "by" || tk.text == "without") && isOp(i+1, "("):
			labels, next, err := labelList(toks, i+1)
			if err != nil {
				return nil, err
			}
			switch {
			case i > 0 && at(i-1).kind == tokIdent && aggregators[at(i-1).text]:
				pending = labels // sum by (l) (…)
			case isOp(i-1, ")") && lastClosed[0] >= 0:
				for r := lastClosed[0]; r < lastClosed[1]; r++ { // sum(…) by (l)
					refs[r].grouping = append(refs[r].grouping, labels...)
				}
			default:
				return nil, fmt.Errorf("%s (…) outside an aggregation in %q", tk.text, expr)
			}
			i = next
		case tk.kind == tokIdent && slices.Contains([]string{"on", "ignoring", "group_left", "group_right"}, tk.text):
			if isOp(i+1, "(") {
				labels, next, err := labelList(toks, i+1)
				if err != nil {
					return nil, err
				}
				everywhere = append(everywhere, labels...)
				i = next
			}
		case tk.kind == tokIdent && (isOp(i+1, "(") || aggregators[tk.text] && (at(i+1).text == "by" || at(i+1).text == "without")):
			// A function or aggregation: its "(" opens a group below.
		case tk.kind == tokIdent && !promqlWords[tk.text]:
			ref := metricRef{name: tk.text}
			if isOp(i+1, "{") {
				ms, next, err := matcherList(toks, i+1)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", tk.text, err)
				}
				ref.matchers, i = ms, next
			}
			refs = append(refs, ref)
		case isOp(i, "{"):
			// A selector without a name ({__name__=~"…"}): nothing to check
			// by name.
			_, next, err := matcherList(toks, i)
			if err != nil {
				return nil, err
			}
			i = next
		case isOp(i, "("):
			stack = append(stack, len(groups))
			groups = append(groups, pending)
			starts = append(starts, len(refs))
			pending = nil
		case isOp(i, ")"):
			if len(stack) == 0 {
				return nil, fmt.Errorf("unbalanced ) in %q", expr)
			}
			g := stack[len(stack)-1]
			start := starts[len(starts)-1]
			stack, starts = stack[:len(stack)-1], starts[:len(starts)-1]
			for r := start; r < len(refs); r++ {
				refs[r].grouping = append(refs[r].grouping, groups[g]...)
			}
			lastClosed = [2]int{start, len(refs)}
		}
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("unbalanced ( in %q", expr)
	}
	if pending != nil {
		return nil, fmt.Errorf("by/without without an aggregation argument in %q", expr)
	}
	for r := range refs {
		refs[r].grouping = append(refs[r].grouping, everywhere...)
	}
	return refs, nil
}

// labelList reads "(a, b)" at toks[i] and returns the labels and the index
// of the closing parenthesis.
func labelList(toks []token, i int) ([]string, int, error) {
	labels := []string{}
	for i++; i < len(toks); i++ {
		switch tk := toks[i]; {
		case tk.kind == tokOp && tk.text == ")":
			return labels, i, nil
		case tk.kind == tokOp && tk.text == ",":
		case tk.kind == tokIdent || tk.kind == tokString:
			labels = append(labels, tk.text)
		default:
			return nil, 0, fmt.Errorf("unexpected %q in a label list", tk.text)
		}
	}
	return nil, 0, errors.New("unterminated label list")
}

// matcherList reads `{a="x", b=~"y"}` at toks[i] and returns the matchers
// and the index of the closing brace.
func matcherList(toks []token, i int) ([]labelMatcher, int, error) {
	var ms []labelMatcher
	for i++; i < len(toks); i++ {
		tk := toks[i]
		if tk.kind == tokOp && tk.text == "}" {
			return ms, i, nil
		}
		if tk.kind == tokOp && tk.text == "," {
			continue
		}
		if i+2 >= len(toks) || (tk.kind != tokIdent && tk.kind != tokString) || toks[i+1].kind != tokOp ||
			!slices.Contains([]string{"=", "!=", "=~", "!~"}, toks[i+1].text) ||
			(toks[i+2].kind != tokString && toks[i+2].kind != tokVar) {
			return nil, 0, fmt.Errorf("malformed label matcher at %q", tk.text)
		}
		ms = append(ms, labelMatcher{name: tk.text, op: toks[i+1].text, value: toks[i+2].text})
		i += 2
	}
	return nil, 0, errors.New("unterminated {")
}

// The parser itself: a bug here would let a renamed metric through.
func TestParsePromQL(t *testing.T) {
	type ref struct {
		name     string
		matchers string // name op value, comma-separated
		grouping string // comma-separated, sorted
	}
	for _, tc := range []struct {
		expr string
		want []ref
	}{
		{`up{job="ocrpool"} == 0`, []ref{{"up", `job="ocrpool"`, ""}}},
		{`sum by (route) (rate(a_total{status=~"5.."}[5m])) / sum by (route) (rate(a_total[5m])) > 0.05`,
			[]ref{{"a_total", `status=~"5.."`, "route"}, {"a_total", "", "route"}}},
		{`histogram_quantile(0.99, sum by (instance, le) (rate(h_bucket{route="/ocr/process"}[$__rate_interval])))`,
			[]ref{{"h_bucket", `route="/ocr/process"`, "instance,le"}}},
		{`sum(rate(a_total[5m])) without (x)`, []ref{{"a_total", "", "x"}}},
		{"max(b) > 26 * 3600 and on () min(c{l!='v'}) # comment up\n",
			[]ref{{"b", "", ""}, {"c", `l!="v"`, ""}}},
		{`m{job=~"$job", instance=~"${instance}", route=~"[[route]]"}`,
			[]ref{{"m", `job=~"$job",instance=~"${instance}",route=~"[[route]]"`, ""}}},
		{`sum without (a) (topk by (b) (3, x))`, []ref{{"x", "", "a,b"}}},
		{`rate(x_sum[$__range]) / rate(x_count[1h:5m] offset 5m) * 1e-3`, []ref{{"x_sum", "", ""}, {"x_count", "", ""}}},
		{`sum(a) by (p) + ignoring(q) b`, []ref{{"a", "", "p,q"}, {"b", "", "q"}}},
		{`time() - process_start_time_seconds`, []ref{{"process_start_time_seconds", "", ""}}},
	} {
		refs, err := parsePromQL(tc.expr)
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		var got []ref
		for _, r := range refs {
			var ms []string
			for _, m := range r.matchers {
				ms = append(ms, m.name+m.op+strconv.Quote(m.value))
			}
			g := slices.Clone(r.grouping)
			sort.Strings(g)
			got = append(got, ref{r.name, strings.Join(ms, ","), strings.Join(g, ",")})
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.expr, got, tc.want)
		}
	}
	for _, bad := range []string{`sum(rate(x[5m])`, `x{a="b"`, `x{a}`, `"open`, `a by (l)`} {
		if _, err := parsePromQL(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
