package verify

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/render"
	"github.com/hagen-ha/hagen/schema"
	"github.com/hagen-ha/hagen/verify/image"
)

// checkImage returns the node image for Check, or skips the test when no
// Docker engine answers or the image can be neither found nor built here
// (unless HAGEN_REQUIRE_DOCKER=1, which makes either a failure).
func checkImage(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: hagen check needs Docker")
	}
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	fail := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("HAGEN_REQUIRE_DOCKER") == "1" {
			t.Fatalf("HAGEN_REQUIRE_DOCKER=1 but %s", msg)
		}
		t.Skipf("skipping: %s (set HAGEN_REQUIRE_DOCKER=1 to fail instead)", msg)
	}
	cli, err := image.NewClient()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = image.Ping(ctx, cli)
		cancel()
		cli.Close()
	}
	if err != nil {
		fail("no Docker engine answers: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if ok, err := image.Exists(ctx, image.Tag()); err != nil {
		t.Fatal(err)
	} else if !ok {
		if err := image.CanBuild(); err != nil {
			fail("the node image %s is missing and cannot be built: %v", image.Tag(), err)
		}
		res, err := image.Build(ctx, image.Options{})
		if err != nil {
			t.Fatalf("build the node image: %v", err)
		}
		t.Logf("built %s in %s", res.Tag, res.Duration.Round(time.Second))
	}
	return image.Tag()
}

// renderExample renders ../examples/<name>.cue into a fresh directory.
func renderExample(t *testing.T, spec string) string {
	t.Helper()
	top, _, err := schema.Load(spec)
	if err != nil {
		t.Fatalf("load %s: %v", spec, err)
	}
	tree, err := render.Render(top)
	if err != nil {
		t.Fatalf("render %s: %v", spec, err)
	}
	dir := t.TempDir()
	for _, p := range tree.Paths() {
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, tree[p].Data, tree[p].Mode); err != nil {
			t.Fatal(err)
		}
		// WriteFile's mode is subject to the umask; the check reads modes.
		if err := os.Chmod(dst, tree[p].Mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runCheck(t *testing.T, img, dir string) []CheckResult {
	t.Helper()
	runID := fmt.Sprintf("test-%d", time.Now().UnixNano())
	var progress bytes.Buffer
	results, err := Check(context.Background(), dir, CheckOptions{Image: img, Progress: &progress, RunID: runID})
	t.Log(strings.TrimSpace(progress.String()))
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	assertCheckContainerGone(t, runID)
	return results
}

func assertCheckContainerGone(t *testing.T, runID string) {
	t.Helper()
	cli, err := image.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", LabelCheck+"="+runID)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cs.Items); n > 0 {
		t.Errorf("%d check container(s) labelled %s=%s left behind", n, LabelCheck, runID)
		_ = removeCheckContainers(ctx, cli, runID)
	}
}

// TestCheckExamples renders every example and requires every file to pass
// its consumer, and every file to have one (RUNBOOK.md is read by people).
func TestCheckExamples(t *testing.T) {
	img := checkImage(t)
	specs, err := filepath.Glob("../examples/*.cue")
	if err != nil || len(specs) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, spec := range specs {
		name := strings.TrimSuffix(filepath.Base(spec), ".cue")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := renderExample(t, spec)
			results := runCheck(t, img, dir)
			var buf bytes.Buffer
			WriteCheckResults(&buf, dir, results)
			t.Log("\n" + buf.String())
			for _, r := range results {
				switch {
				case r.Skipped && path.Ext(r.File) != ".md":
					t.Errorf("%s: no consumer checks it (%s)", r.File, r.Message)
				case !r.OK:
					t.Errorf("%s (%s): %s", r.File, r.Checker, r.Message)
				}
			}
		})
	}
}

// mutation breaks one file of a fresh render; the check must fail that
// file with the consumer's message, naming the file.
type mutation struct {
	file   string // path in the tree
	change func(t *testing.T, data string) string
	// want are regular expressions the message must match; "{file}"
	// stands for the file's path as the message shows it, "{line}" for
	// the line the mutation broke.
	want []string
	line int // set by change when the consumer names a line
}

func appendLine(l string) func(*testing.T, string) string {
	return func(t *testing.T, data string) string {
		if !strings.HasSuffix(data, "\n") {
			data += "\n"
		}
		return data + l + "\n"
	}
}

func replaceOnce(old, new string) func(*testing.T, string) string {
	return func(t *testing.T, data string) string {
		t.Helper()
		if !strings.Contains(data, old) {
			t.Fatalf("mutation: %q not found", old)
		}
		return strings.Replace(data, old, new, 1)
	}
}

// lineOf is the 1-based line of the first occurrence of s in data.
func lineOf(data, s string) int {
	i := strings.Index(data, s)
	if i < 0 {
		return 0
	}
	return 1 + strings.Count(data[:i], "\n")
}

// TestCheckFindsBrokenCopies breaks files of fresh renders, one mistake
// per file, and requires each broken file to fail with its consumer's own
// message naming the file (and the line, where the consumer gives one),
// while every other file still passes.
func TestCheckFindsBrokenCopies(t *testing.T) {
	img := checkImage(t)
	cases := []struct {
		spec      string
		mutations []*mutation
	}{
		{"../examples/primary-standby.cue", []*mutation{
			{
				// keepalived: a syntax error, a brace closing nothing.
				file:   "db0/keepalived/keepalived.conf",
				change: appendLine("}"),
				want:   []string{`\({file}: Line {line}\) Extra '\}' found`},
			},
			{
				// HAProxy: a backend that does not exist.
				file:   "db1/haproxy/haproxy.cfg",
				change: replaceOnce("listen database\n", "listen database\n    default_backend nowhere\n"),
				want:   []string{`\[ALERT\].*unable to find required default_backend: 'nowhere'`},
			},
			{
				// pg_hba.conf: an authentication method that does not exist.
				file:   "db0/postgres/pg_hba.conf",
				change: appendLine("host     all          all          10.9.9.0/24        md6"),
				want:   []string{`{file}:{line}: invalid authentication method "md6"`},
			},
			{
				// postgresql.conf: a parameter that does not exist; the
				// server refuses to start (pg_hba.conf of db1 is then read
				// by the check's fallback server, and must still pass).
				file:   "db1/postgres/postgresql.conf",
				change: appendLine("shared_buferz = 64MB"),
				want:   []string{`unrecognized configuration parameter "shared_buferz" in file "{file}" line {line}`},
			},
			{
				// Zone: a second SOA record.
				file:   "clients/ps.test.zone",
				change: appendLine("@	IN	SOA	ns2.ps.test. hostmaster.ps.test. 1 3600 600 86400 30"),
				want:   []string{`{file}:{line}: ps.test: multiple RRs of singleton type`},
			},
			{
				// A script that does not parse.
				file:   "db1/keepalived/notify.sh",
				change: appendLine("if true; then"),
				want:   []string{`{file}: line \d+: syntax error: unexpected end of file`},
			},
			{
				// A unit with a misspelt key: systemd ignores it and
				// systemd-analyze verify exits 0, the check still fails.
				file:   "db0/systemd/hagen-primary-standby-postgres.service",
				change: replaceOnce("\nRestartSec=", "\nRestratSec="),
				want:   []string{`{file}:{line}: Unknown key '?RestratSec'? in section \[?Service\]?, ignoring`},
			},
			{
				// A runtime include keepalived.conf names is not a file
				// the check makes up: a rendered include that is missing
				// from the tree fails.
				file:   "db1/keepalived/keepalived.conf",
				change: replaceOnce("    include /run/hagen/keepalived/auth.conf\n", "    include /run/hagen/keepalived/auth.conf\n    include /etc/hagen/keepalived/extra.conf\n"),
				want:   []string{`Line {line}\) Config files missing '.*/db1/keepalived/extra\.conf'`},
			},
		}},
		{"../examples/quorum.cue", []*mutation{
			{
				// A misspelt extension parameter: the server takes it as
				// a placeholder and starts; pg_settings does not list it.
				file:   "db1/postgres/postgresql.conf",
				change: appendLine("pg_stat_statemets.max = '5000'"),
				want:   []string{`{file}:{line}: pg_stat_statemets.max is not a parameter of PostgreSQL 15\.\d+ \(pg_settings does not list it\)`},
			},
		}},
		{"../examples/patroni.cue", []*mutation{
			{
				// etcd: an election timeout etcd refuses; the other two
				// members still form a majority (Patroni's files then
				// fail on their own: the witness's etcd does not answer).
				file:   "witness/etcd/etcd.yml",
				change: replaceOnce("\nelection-timeout: 1000\n", "\nelection-timeout: 300\n"),
				want:   []string{`error verifying flags, --election-timeout\[300ms\] should be at least as 5 times as --heartbeat-interval`},
			},
			{
				// etcd: a member without the v2 keyspace runs and joins,
				// but Patroni's etcd: section could not use it.
				file:   "db1/etcd/etcd.yml",
				change: replaceOnce("\nenable-v2: true\n", "\nenable-v2: false\n"),
				want:   []string{`/v2/keys answered 404, not 200: Patroni's etcd: section needs the v2 keyspace`},
			},
			{
				// Patroni: a timer that is no number.
				file:   "db0/patroni/patroni.yml",
				change: replaceOnce("\n    ttl: 3\n", "\n    ttl: three\n"),
				want:   []string{`bootstrap\.dcs\.ttl three is not and integer`},
			},
			{
				// Patroni: a PostgreSQL version the host does not have.
				file:   "db1/patroni/patroni.systemd.yml",
				change: replaceOnce("bin_dir: /usr/lib/postgresql/15/bin", "bin_dir: /usr/lib/postgresql/14/bin"),
				want:   []string{`postgresql\.bin_dir\s+Directory '/usr/lib/postgresql/14/bin' does not exist`},
			},
		}},
		{"../examples/dual-site.cue", []*mutation{
			{
				// A Bucardo phase file apply.sh refuses.
				file:   "site0/bucardo/bucardo.json",
				change: replaceOnce(`"sources"`, `"source"`),
				want:   []string{`{file}: sync \w+: sources must be a non-empty list`},
			},
			{
				// compose: a service depending on one that does not exist.
				file:   "site1/docker-compose.yaml",
				change: replaceOnce("\n    depends_on:\n", "\n    depends_on:\n      nowhere:\n        condition: service_started\n"),
				want:   []string{`nowhere`},
			},
			{
				// shellcheck: a finding bash -n does not see.
				file:   "site1/lib/hagen.sh",
				change: appendLine("hagen_unused() { local x; x=$1; echo $x; }"),
				want:   []string{`{file}:{line}:\d+: (note|info|warning): .*\[SC2086\]`},
			},
			{
				// JSON that does not parse.
				file:   "clients/client.json",
				change: replaceOnce(`"servers":`, `"servers"`),
				want:   []string{`{file}:{line}:\d+: invalid character`},
			},
		}},
	}
	for _, c := range cases {
		name := strings.TrimSuffix(filepath.Base(c.spec), ".cue")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := renderExample(t, c.spec)
			broken := map[string]*mutation{}
			for _, m := range c.mutations {
				p := filepath.Join(dir, filepath.FromSlash(m.file))
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatalf("mutation of %s: %v", m.file, err)
				}
				before := string(data)
				after := m.change(t, before)
				// The broken line: the first line that differs.
				bl, al := strings.Split(before, "\n"), strings.Split(after, "\n")
				for i := range al {
					if i >= len(bl) || bl[i] != al[i] {
						m.line = i + 1
						break
					}
				}
				if err := os.WriteFile(p, []byte(after), 0); err != nil {
					t.Fatal(err)
				}
				broken[m.file] = m
			}
			results := runCheck(t, img, dir)
			var buf bytes.Buffer
			WriteCheckResults(&buf, dir, results)
			t.Log("\n" + buf.String())
			seen := map[string]bool{}
			for _, r := range results {
				seen[r.File] = true
				m := broken[r.File]
				if m == nil {
					// A file this test did not break may fail on its own
					// (TestCheckExamples reports that), but never because
					// of a broken neighbour.
					for b := range broken {
						if !r.OK && strings.Contains(r.Message, filepath.FromSlash(b)) {
							t.Errorf("%s is not broken but failed on %s (%s): %s", r.File, b, r.Checker, r.Message)
						}
					}
					continue
				}
				if r.OK {
					t.Errorf("%s is broken (line %d) but passed %s", r.File, m.line, r.Checker)
					continue
				}
				shown := filepath.Join(dir, filepath.FromSlash(r.File))
				if !strings.Contains(r.Message, shown) {
					t.Errorf("%s: the message does not name the file %s:\n%s", r.File, shown, r.Message)
				}
				for _, w := range m.want {
					w = strings.ReplaceAll(w, "{file}", regexp.QuoteMeta(shown))
					w = strings.ReplaceAll(w, "{line}", fmt.Sprint(m.line))
					if !regexp.MustCompile(w).MatchString(r.Message) {
						t.Errorf("%s (%s): message does not match %s:\n%s", r.File, r.Checker, w, r.Message)
					}
				}
			}
			for f := range broken {
				if !seen[f] {
					t.Errorf("%s: no result", f)
				}
			}
		})
	}
}

// The tests below need no Docker.

func TestPythonError(t *testing.T) {
	tb := "Traceback (most recent call last):\n  File \"/usr/bin/patroni\", line 33, in <module>\n    sys.exit(main())\n             ^^^^^^\n  File \"/usr/lib/python3/dist-packages/yaml/scanner.py\", line 577, in fetch_value\n    raise ScannerError(None, None,\nyaml.scanner.ScannerError: mapping values are not allowed here\n  in \"/t/p.yml\", line 2, column 6"
	want := "yaml.scanner.ScannerError: mapping values are not allowed here\n  in \"/t/p.yml\", line 2, column 6"
	if got := pythonError(tb); got != want {
		t.Errorf("pythonError = %q, want %q", got, want)
	}
	if got := pythonError("bootstrap.dcs.ttl three is not and integer"); got != "bootstrap.dcs.ttl three is not and integer" {
		t.Errorf("pythonError changed a plain message: %q", got)
	}
}

// TestCheckDispatch: the reader of every file comes from inventory.json;
// a file it does not list is reported without being read, a listed file
// that is missing fails, and a broken inventory.json stops the rest.
func TestCheckDispatch(t *testing.T) {
	inv := contract.Inventory{
		Name: "x", Domain: "ha.test", Mode: "multi-master-async", Nameserver: "10.0.0.53",
		Database: contract.InventoryDB{Name: "db", Service: "postgres", Port: 5432, PublishedPort: 5444},
		Sites:    []contract.InventorySite{{Name: "s0", Address: "10.0.0.1", LAN: "10.0.0.0/24", Dir: "s0"}},
		Files: []contract.RenderedFile{
			{Path: "RUNBOOK.md", Reader: contract.ReaderPeople},
			{Path: "inventory.json", Reader: contract.ReaderInventory},
			{Path: "s0/keepalived/notify", Reader: contract.ReaderShell},
			{Path: "s0/postgres/pg_hba.conf", Reader: contract.ReaderPGHBA},
			{Path: "s0/postgres/pg_hba.systemd.conf", Reader: contract.ReaderPGHBA},
			{Path: "s0/systemd/gone.service", Reader: contract.ReaderSystemd},
		},
	}
	data, err := contract.Encode(inv)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"inventory.json":                  string(data),
		"RUNBOOK.md":                      "# x",
		"s0/keepalived/notify":            "#!/bin/sh\n",
		"s0/postgres/pg_hba.conf":         "",
		"s0/postgres/pg_hba.systemd.conf": "",
		"s0/haproxy.cfg":                  "not listed",
		"s0/hagen.env":                    "POSTGRES_PASSWORD=not-for-check\n",
	}
	want := map[string]string{
		"inventory.json":                  checkerInventory,
		"RUNBOOK.md":                      checkerPeople,
		"s0/keepalived/notify":            checkerShell,
		"s0/postgres/pg_hba.conf":         checkerPGHBA,
		"s0/postgres/pg_hba.systemd.conf": checkerPGHBA,
		"s0/systemd/gone.service":         checkerSystemd,
		"s0/haproxy.cfg":                  "",
		"s0/hagen.env":                    "",
	}
	dir := writeFiles(t, files)
	tree, err := readCheckTree(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tree.files {
		if f.kind != want[f.rel] {
			t.Errorf("%s: checked by %q, want %q", f.rel, f.kind, want[f.rel])
		}
		if f.kind == "" && f.data != nil {
			t.Errorf("%s is not listed but was read", f.rel)
		}
		if f.missing != (f.rel == "s0/systemd/gone.service") {
			t.Errorf("%s: missing = %v", f.rel, f.missing)
		}
	}
	if len(tree.files) != len(want) {
		t.Errorf("read %d files, want %d", len(tree.files), len(want))
	}
	// Only in-process results: the container files are the missing one
	// and the shell script, which Check would start a container for.
	results, err := Check(context.Background(), writeFiles(t, map[string]string{
		"inventory.json": `{"name": "x", "sitez": []}`,
		"RUNBOOK.md":     "# x",
	}), CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].File != "RUNBOOK.md" || !results[0].Skipped || !strings.Contains(results[0].Message, "cannot be read") ||
		results[1].OK || !strings.Contains(results[1].Message, `unknown field "sitez"`) {
		t.Errorf("broken inventory: %+v", results)
	}
	// An inventory without a files list (an older hagen's) does not make
	// every file a silent skip.
	inv.Files = nil
	if data, err = contract.Encode(inv); err != nil {
		t.Fatal(err)
	}
	results, err = Check(context.Background(), writeFiles(t, map[string]string{"inventory.json": string(data), "RUNBOOK.md": "# x"}), CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[1].OK || !strings.Contains(results[1].Message, "lists no files") {
		t.Errorf("inventory without files: %+v", results)
	}
}

// TestCheckersCoverEveryReader: every reader render may name has its check.
func TestCheckersCoverEveryReader(t *testing.T) {
	for _, r := range contract.Readers() {
		c, ok := checkers[string(r)]
		if !ok || (c.local == nil) == (c.box == nil) {
			t.Errorf("reader %q has no checker (or two)", r)
		}
	}
	if len(checkers) != len(contract.Readers()) {
		t.Errorf("%d checkers for %d readers", len(checkers), len(contract.Readers()))
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, data := range files {
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestWriteCheckResults(t *testing.T) {
	results := []CheckResult{
		{File: "RUNBOOK.md", Checker: checkerNone, OK: true, Skipped: true, Message: "read by people"},
		{File: "s0/haproxy/haproxy.cfg", Checker: checkerHAProxy, OK: true},
		{File: "s0/keepalived/keepalived.conf", Checker: checkerKeepalived, Message: "(out/s0/keepalived/keepalived.conf: Line 3) Extra '}' found\n(out/s0/keepalived/keepalived.conf: Line 3) Unknown keyword '}'"},
	}
	var buf bytes.Buffer
	if n := WriteCheckResults(&buf, "out", results); n != 1 {
		t.Errorf("failed = %d, want 1", n)
	}
	want := `SKIP out/RUNBOOK.md (read by people)
OK  out/s0/haproxy/haproxy.cfg (haproxy -c)
FAIL out/s0/keepalived/keepalived.conf (keepalived --config-test): (out/s0/keepalived/keepalived.conf: Line 3) Extra '}' found
     (out/s0/keepalived/keepalived.conf: Line 3) Unknown keyword '}'
2 files checked, 1 failed
`
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestSystemdHostOnlyFilter(t *testing.T) {
	for line, hostOnly := range map[string]bool{
		"hagen-x-site0.service: Command /usr/bin/docker is not executable: No such file or directory":                   true,
		"hagen-x-agent.service: Command /usr/local/bin/hagen is not executable: No such file or directory":              true,
		"hagen-x-site0.service: Failed to create hagen-x-site0.service/start: Unit docker.service not found.":           true,
		"hagen-x-site0.service: Command /usr/bin/dockr is not executable: No such file or directory":                    false,
		"hagen-x-h.service: Command /opt/hagen/x/s0/haproxy/run.sh is not executable: Permission denied":                false,
		"hagen-x-site0.service: Failed to create hagen-x-site0.service/start: Unit hagen-x-postgres.service not found.": false,
		"/check/tree/s0/systemd/hagen-x-postgres.service:14: Failed to parse service type, ignoring: notfy":             false,
	} {
		if got := systemdHostOnly(line); got != hostOnly {
			t.Errorf("systemdHostOnly(%q) = %v, want %v", line, got, hostOnly)
		}
	}
}

func TestSystemdInstallDirs(t *testing.T) {
	tree := &checkTree{name: "dual-site", files: []*checkFile{{
		rel: "site0/systemd/hagen-dual-site-site0.service", site: "site0", kind: checkerSystemd,
		data: []byte("WorkingDirectory=/opt/hagen/dual-site/site0\nExecStart=/usr/bin/docker compose up\nBindReadOnlyPaths=/srv/x/dual-site/site0/postgres:/etc/hagen/postgres\n"),
	}}}
	got := systemdInstallDirs(tree)
	if want := []string{"/opt/hagen", "/srv/x"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("install dirs = %q, want %q", got, want)
	}
}

func TestPGMessages(t *testing.T) {
	log := `2026-01-01 00:00:00.000 UTC [10] LOG:  starting PostgreSQL 15.18 on x86_64
2026-01-01 00:00:00.000 UTC [10] LOG:  unrecognized configuration parameter "x" in file "/etc/hagen/postgres/postgresql.conf" line 6
2026-01-01 00:00:00.000 UTC [10] FATAL:  configuration file "/etc/hagen/postgres/postgresql.conf" contains errors
2026-01-01 00:00:00.000 UTC [10] LOG:  database system is shut down
`
	want := `LOG:  unrecognized configuration parameter "x" in file "/etc/hagen/postgres/postgresql.conf" line 6
FATAL:  configuration file "/etc/hagen/postgres/postgresql.conf" contains errors`
	if got := pgMessages(log); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestKeepalivedLines(t *testing.T) {
	in := "(Line 3) Extra '}' found\n(/x/k.conf: Line 3) Extra '}' found\n(Line 9) Config files missing '/x'."
	want := "(/x/k.conf: Line 3) Extra '}' found\n(Line 9) Config files missing '/x'."
	if got := keepalivedLines(in); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCheckHostsAndJSON(t *testing.T) {
	f := &checkFile{rel: "clients/hosts", disp: "out/clients/hosts", data: []byte("# c\n10.0.0.1\t0.ha.test\t# site0\n10.0.0.300 1.ha.test\n10.0.0.2\n10.0.0.3 bad_name\n")}
	r := checkHosts(f)
	want := `out/clients/hosts:3: "10.0.0.300" is not an IP address
out/clients/hosts:4: address 10.0.0.2 has no name
out/clients/hosts:5: "bad_name" is not a host name`
	if r.OK || r.Message != want {
		t.Errorf("checkHosts = %v %q, want the errors\n%s", r.OK, r.Message, want)
	}
	j := &checkFile{rel: "clients/client.json", disp: "out/clients/client.json", data: []byte("{\n  \"url\": \"u\",\n  \"servers\" 2\n}\n")}
	if r := checkers[checkerClient].local(nil, j); r.OK || !strings.HasPrefix(r.Message, "out/clients/client.json:3:13: invalid character '2'") {
		t.Errorf("client.json check = %v %q", r.OK, r.Message)
	}
	inv := &checkFile{rel: "inventory.json", disp: "out/inventory.json", data: []byte(`{"name": "x", "sitez": []}`)}
	if r := checkers[checkerInventory].local(nil, inv); r.OK || !strings.Contains(r.Message, `unknown field "sitez"`) {
		t.Errorf("inventory check = %v %q", r.OK, r.Message)
	}
	agent := &checkFile{rel: "s0/agent/agent.json", disp: "out/s0/agent/agent.json", data: []byte(`{"site": "s0"}`)}
	if r := checkers[checkerAgent].local(nil, agent); r.OK || !strings.Contains(r.Message, "listen is empty") {
		t.Errorf("agent config check = %v %q", r.OK, r.Message)
	}
}
