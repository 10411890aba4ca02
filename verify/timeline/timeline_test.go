package timeline

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hagen-ha/hagen/verify/history"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s changed (-want +got); if on purpose: go test ./verify/timeline -update\n%s", name, diff)
	}
}

func render(t *testing.T, write func(*bytes.Buffer) error) []byte {
	t.Helper()
	var a, b bytes.Buffer
	if err := write(&a); err != nil {
		t.Fatal(err)
	}
	if err := write(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two writes of the same run differ")
	}
	return a.Bytes()
}

func TestMarkdownGolden(t *testing.T) {
	run := fixtureRun()
	got := render(t, func(b *bytes.Buffer) error { return WriteMarkdown(b, run) })
	golden(t, "run.md", got)
	md := string(got)
	for _, want := range []string{
		"| `failover-kill` | passed | 0 / 468 | 3 (0) | 0 / 15 | 0 ms | 4.2s / 6.609s | 0 / 4.35s |",
		"| `partition-witness` | **failed** | **2 / 73** | 0 (0) | – | **1192 ms** | 1.608s / 3.609s | – |",
		"| `concurrent-update` | passed | 0 / 60 | 0 (0) | – | 2800 ms (multi-master) | – | – |",
		"(multi-master)",
		"| `replication` | passed | – | – | – | – | – | – |",
		"- split-brain: 1192ms in 1 interval (db0@00000002, db1@00000003) (violation)",
		"HAProxy active/backup", // not in the table: only failures get details
	} {
		if want == "HAProxy active/backup" {
			if strings.Contains(md, want) {
				t.Errorf("a passing scenario's description in the failures")
			}
			continue
		}
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if strings.Contains(md, "<fixture>") {
		t.Error("HTML in the title not escaped")
	}
}

func TestHTMLGolden(t *testing.T) {
	run := fixtureRun()
	got := render(t, func(b *bytes.Buffer) error { return WriteHTML(b, run) })
	golden(t, "run.html", got)
	page := string(got)
	// Self-contained: nothing is fetched.
	for _, bad := range []string{"src=\"http", "href=\"http", "@import", "url(http", "<link "} {
		if strings.Contains(page, bad) {
			t.Errorf("page refers to the network: %q", bad)
		}
	}
	for _, s := range run.Scenarios {
		if !strings.Contains(page, `data-scenario="`+s.Name+`"`) {
			t.Errorf("no section for %s", s.Name)
		}
	}
	if !strings.Contains(page, "&lt;fixture&gt;") || strings.Contains(page, "<fixture>") {
		t.Error("title not escaped")
	}
}

// TestTimelineData checks what the script will draw.
func TestTimelineData(t *testing.T) {
	run := fixtureRun()
	d := timelineData(run.Scenarios[0])
	var names []string
	for _, l := range d.Lanes {
		names = append(names, l.Group+":"+l.Name)
	}
	want := []string{
		"path:direct db1 (10.0.1.10:5444)", "path:haproxy 10.0.0.100:5000", "path:vip 10.0.0.100:5444",
		"node:db0@00000001", "node:db1 (standby)", "node:db1@00000002", "node:(no answer)",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("lanes (-want +got):\n%s", diff)
	}
	if len(d.Faults) != 1 || d.Faults[0].From != 4000 || d.Faults[0].To != 11000 || d.Faults[0].Label != "docker kill db0" {
		t.Errorf("faults = %+v", d.Faults)
	}
	if len(d.VIP) != 2 || d.VIP[0].Label != "db0" || d.VIP[0].To != 7600 || d.VIP[1].Label != "db1" {
		t.Errorf("vip = %+v", d.VIP)
	}
	if d.RTO == nil || d.RTO.From != 4000 || d.RTO.To != 8200 || d.RTO.Label != "RTO 4.2s (budget 6.609s)" {
		t.Errorf("rto = %+v", d.RTO)
	}
	if len(d.Events) != 1 || d.Events[0].Label != "promotion db1: timeline 2" {
		t.Errorf("events = %+v", d.Events)
	}
	if len(d.Ops) != len(run.Scenarios[0].History.Ops) {
		t.Errorf("%d ops drawn of %d", len(d.Ops), len(run.Scenarios[0].History.Ops))
	}
	// A fault with no end runs to the end of the history; split-brain
	// intervals come from the checker.
	p := timelineData(run.Scenarios[1])
	if len(p.Splits) != 1 || p.Splits[0].From != 3608 || p.Splits[0].To != 4800 {
		t.Errorf("splits = %+v", p.Splits)
	}
	if len(p.Events) != 2 || p.Events[1].Kind != "demotion" {
		t.Errorf("events = %+v", p.Events)
	}
}

// TestHTMLInBrowser renders the fixture page in headless Chromium and
// checks that its script ran without an error and drew every scenario.
func TestHTMLInBrowser(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("no chromium on PATH (Debian: apt-get install chromium): the page is not rendered in a browser")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "run.html")
	var buf bytes.Buffer
	if err := WriteHTML(&buf, fixtureRun()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	common := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--user-data-dir=" + filepath.Join(dir, "profile"), "--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0"}
	cmd := exec.CommandContext(ctx, browser, append(common, "--dump-dom", "file://"+page)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s --dump-dom: %v\n%s", browser, err, stderr.String())
	}
	if m := regexp.MustCompile(`<body[^>]*data-rendered="([a-z]+)"`).FindSubmatch(dom); m == nil || string(m[1]) != "ok" {
		t.Fatalf("body data-rendered = %q, want ok; console:\n%s", m, consoleErrors(stderr.String()))
	}
	if errs := consoleErrors(stderr.String()); errs != "" {
		t.Errorf("console errors:\n%s", errs)
	}
	for _, s := range fixtureRun().Scenarios {
		section := regexp.MustCompile(`<section [^>]*data-scenario="` + regexp.QuoteMeta(s.Name) + `"`).Match(dom)
		drawn := regexp.MustCompile(`<svg [^>]*data-scenario="` + regexp.QuoteMeta(s.Name) + `"`).Match(dom)
		if !section || drawn != (len(s.History.Ops) > 0) {
			t.Errorf("%s: section %v, timeline drawn %v, %d operations", s.Name, section, drawn, len(s.History.Ops))
		}
	}
	// The failover's lanes, fault band and VIP holder made it to the DOM.
	for _, want := range []string{"BY PATH", "BY NODE THAT ANSWERED", "docker kill db0", "VIP held by", "RTO 4.2s (budget 6.609s)", "split brain: db0@00000002 + db1@00000003"} {
		if !bytes.Contains(dom, []byte(want)) {
			t.Errorf("rendered page lacks %q", want)
		}
	}

	// porcupine's own page for a history that is not linearizable
	// draws without an error too.
	h := history.History{Ops: []history.Op{
		{Client: "a", Kind: history.Write, Key: "x", Value: "1", Invoke: ms(0), Complete: ms(10), Outcome: history.OK, Path: vipPath},
		{Client: "a", Kind: history.Write, Key: "x", Value: "2", Invoke: ms(20), Complete: ms(30), Outcome: history.OK, Path: vipPath},
		{Client: "b", Kind: history.Read, Key: "x", Value: "1", Invoke: ms(40), Complete: ms(45), Outcome: history.OK, Path: db1Path},
	}}
	h.Normalize()
	l := history.CheckLinearizable(h, history.FinalState{}, history.LinearizabilityOptions{Timeout: time.Minute})
	if l.Result != "illegal" || len(l.Visualization) == 0 {
		t.Fatalf("porcupine: %+v", l)
	}
	vis := filepath.Join(dir, "porcupine.html")
	if err := os.WriteFile(vis, l.Visualization, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = exec.CommandContext(ctx, browser, append(common, "--dump-dom", "file://"+vis)...)
	stderr.Reset()
	cmd.Stderr = &stderr
	vdom, err := cmd.Output()
	if err != nil {
		t.Fatalf("porcupine page: %v\n%s", err, stderr.String())
	}
	if !bytes.Contains(vdom, []byte("<svg")) || consoleErrors(stderr.String()) != "" {
		t.Errorf("porcupine page did not draw (svg: %v); console:\n%s", bytes.Contains(vdom, []byte("<svg")), consoleErrors(stderr.String()))
	}

	shot := filepath.Join(dir, "run.png")
	cmd = exec.CommandContext(ctx, browser, append(common, "--hide-scrollbars", "--window-size=1280,2600", "--screenshot="+shot, "file://"+page)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("screenshot: %v\n%s", err, out)
	}
	png, err := os.ReadFile(shot)
	if err != nil || len(png) < 10000 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot: %d bytes, %v", len(png), err)
	}
	if out := os.Getenv("HAGEN_TIMELINE_SCREENSHOT"); out != "" {
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// consoleErrors picks the JavaScript errors out of Chromium's log.
func consoleErrors(log string) string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "CONSOLE") && (strings.Contains(line, "Uncaught") || strings.Contains(line, "Error")) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
