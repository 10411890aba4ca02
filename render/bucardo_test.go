package render_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

var bucardoFiles = []string{"apply.sh", "bucardo.json", "initial.json", "run.sh"}

func TestBucardoOnlyOnItsSite(t *testing.T) {
	for _, v := range pgVariants() {
		top, tree := pgRender(t, v)
		for _, s := range top.Sites {
			runs := top.Database.Bucardo != nil && top.Database.Bucardo.Site == s.Name
			for _, f := range bucardoFiles {
				p := s.Name + "/bucardo/" + f
				if _, ok := tree[p]; ok != runs {
					t.Errorf("%s: %s rendered: %v, site runs Bucardo: %v", v.name, p, ok, runs)
				}
			}
			for _, f := range []string{"apply.sh", "run.sh"} {
				if f, ok := tree[s.Name+"/bucardo/"+f]; ok && f.Mode != 0o755 {
					t.Errorf("%s: %s/bucardo/%v has mode %v", v.name, s.Name, f, f.Mode)
				}
			}
		}
	}
}

// jsonKeys returns an object's keys, sorted.
func jsonKeys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

func TestBucardoPhaseFiles(t *testing.T) {
	// The guide's keys, and the ones hagen adds to a sync.
	dbKeys := []string{"dbname", "host", "id", "pass", "user"}
	guideSyncKeys := []string{"onetimecopy", "sources", "tables", "targets"}
	extraSyncKeys := []string{"checktime", "conflict_strategy", "name"}
	for _, v := range pgVariants() {
		top, tree := pgRender(t, v)
		bc := top.Database.Bucardo
		if bc == nil {
			continue
		}
		var ids, others []any
		seed := top.Site(bc.SeedSite)
		for _, s := range top.Sites {
			ids = append(ids, float64(s.Index))
			if s.Name != seed.Name {
				others = append(others, float64(s.Index))
			}
		}
		wantTables := any("all")
		if !bc.Tables.All {
			var l []any
			for _, tb := range bc.Tables.List {
				l = append(l, tb)
			}
			wantTables = l
		}
		for _, c := range []struct {
			file             string
			sources, targets []any
			onetimecopy      float64
		}{
			{"initial.json", []any{float64(seed.Index)}, others, 1},
			{"bucardo.json", ids, []any{}, 0},
		} {
			p := bc.Site + "/bucardo/" + c.file
			data := tree[p].Data
			if !bytes.HasSuffix(data, []byte("}\n")) || !bytes.HasPrefix(data, []byte("{\n  \"databases\": [\n")) {
				t.Errorf("%s: %s is not two-space indented JSON with a trailing newline:\n%s", v.name, p, data)
			}
			var phase map[string]any
			if err := json.Unmarshal(data, &phase); err != nil {
				t.Fatalf("%s: %s: %v", v.name, p, err)
			}
			if got := jsonKeys(phase); !slices.Equal(got, []string{"databases", "syncs"}) {
				t.Errorf("%s: %s: top-level keys %v", v.name, p, got)
			}
			dbs, _ := phase["databases"].([]any)
			if len(dbs) != len(top.Sites) {
				t.Fatalf("%s: %s: %d databases for %d sites", v.name, p, len(dbs), len(top.Sites))
			}
			for i, d := range dbs {
				db := d.(map[string]any)
				if got := jsonKeys(db); !slices.Equal(got, dbKeys) {
					t.Errorf("%s: %s: database keys %v, want the guide's %v", v.name, p, got, dbKeys)
				}
				s := top.Sites[i]
				host := fmt.Sprintf("%s port=%d", s.Host, top.Database.PublishedPort)
				if top.Security.SSL {
					host += " sslmode=verify-full sslrootcert=/run/hagen/bucardo/ca.crt"
				}
				want := map[string]any{
					"id": float64(s.Index), "dbname": top.Database.Name, "host": host,
					"user": top.Database.Superuser, "pass": "env:POSTGRES_PASSWORD",
				}
				for k, w := range want {
					if db[k] != w {
						t.Errorf("%s: %s: databases[%d].%s = %v, want %v", v.name, p, i, k, db[k], w)
					}
				}
			}
			syncs, _ := phase["syncs"].([]any)
			if len(syncs) != 1 {
				t.Fatalf("%s: %s: %d syncs, want 1", v.name, p, len(syncs))
			}
			sync := syncs[0].(map[string]any)
			for _, k := range guideSyncKeys {
				if _, ok := sync[k]; !ok {
					t.Errorf("%s: %s: the sync lacks the guide's key %q", v.name, p, k)
				}
			}
			for _, k := range jsonKeys(sync) {
				if !slices.Contains(guideSyncKeys, k) && !slices.Contains(extraSyncKeys, k) {
					t.Errorf("%s: %s: undocumented sync key %q", v.name, p, k)
				}
			}
			for k, w := range map[string]any{"sources": c.sources, "targets": c.targets, "onetimecopy": c.onetimecopy} {
				if fmt.Sprint(sync[k]) != fmt.Sprint(w) || sync[k] == nil {
					t.Errorf("%s: %s: %s = %v, want %v", v.name, p, k, sync[k], w)
				}
			}
			if fmt.Sprint(sync["tables"]) != fmt.Sprint(wantTables) {
				t.Errorf("%s: %s: tables = %v, want %v", v.name, p, sync["tables"], wantTables)
			}
			if c.file == "bucardo.json" {
				if sync["conflict_strategy"] != bc.ConflictStrategy {
					t.Errorf("%s: %s: conflict_strategy = %v, want %v", v.name, p, sync["conflict_strategy"], bc.ConflictStrategy)
				}
				if _, ok := sync["checktime"]; ok != bc.Watchdog.Enabled {
					t.Errorf("%s: %s: checktime present: %v, watchdog enabled: %v", v.name, p, ok, bc.Watchdog.Enabled)
				}
			}
		}
	}
}

func TestBucardoRunScript(t *testing.T) {
	for _, v := range pgVariants() {
		top, tree := pgRender(t, v)
		bc := top.Database.Bucardo
		if bc == nil {
			continue
		}
		sh := string(tree[bc.Site+"/bucardo/run.sh"].Data)
		for _, want := range []string{
			"bucardo_cmd install --batch",
			`"$confdir/apply.sh" "$confdir/initial.json"`,
			`wait_for_good "$initial_sync"`,
			`bucardo_cmd remove sync "$initial_sync"`,
			`"$confdir/apply.sh" "$confdir/bucardo.json"`,
			"pg_dump --schema-only",
			"trap shutdown TERM INT",
			"bucardo_cmd status ||",
		} {
			if !strings.Contains(sh, want) {
				t.Errorf("%s: run.sh lacks %q", v.name, want)
			}
		}
		// The stall rule: kick, then restart; only with the watchdog on.
		for _, s := range []string{
			fmt.Sprintf("interval=%d stall_after=%d", bc.Watchdog.Interval, bc.Watchdog.StallAfter),
			`bucardo_cmd kick "$main_sync" "$kick_wait"`,
			"bucardo_cmd restart",
		} {
			if strings.Contains(sh, s) != bc.Watchdog.Enabled {
				t.Errorf("%s: run.sh contains %q: %v, watchdog enabled: %v", v.name, s, !bc.Watchdog.Enabled, bc.Watchdog.Enabled)
			}
		}
	}
}

// TestBucardoApplyDryRun runs the rendered apply.sh --dry-run on the
// rendered phase files (with the rendered lib/hagen.sh), as the image
// would, and checks the bucardo commands it prints; a literal password in
// a phase file must be refused.
func TestBucardoApplyDryRun(t *testing.T) {
	if err := exec.Command("perl", "-MJSON::PP", "-e", "1").Run(); err != nil {
		t.Skip("perl with JSON::PP is not available (it comes with Perl's core)")
	}
	for _, v := range pgVariants() {
		top, tree := pgRender(t, v)
		bc := top.Database.Bucardo
		if bc == nil {
			continue
		}
		dir := t.TempDir()
		write := func(name string, data []byte) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, data, 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}
		lib := write("hagen.sh", tree[bc.Site+"/lib/hagen.sh"].Data)
		apply := write("apply.sh", bytes.Replace(tree[bc.Site+"/bucardo/apply.sh"].Data,
			[]byte(". /etc/hagen/lib/hagen.sh"), []byte(". "+lib), 1))
		run := func(phase string) (string, error) {
			cmd := exec.Command("bash", apply, "--dry-run", phase)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // no secrets: a dry run needs none
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		tables := []string{"all", "tables"}
		if !bc.Tables.All {
			tables = append([]string{"table"}, bc.Tables.List...)
		}
		for _, c := range []struct{ file, extra string }{
			{"initial.json", " onetimecopy=1"},
			{"bucardo.json", " onetimecopy=0"},
		} {
			out, err := run(write(c.file, tree[bc.Site+"/bucardo/"+c.file].Data))
			if err != nil {
				t.Fatalf("%s: apply.sh --dry-run %s: %v\n%s", v.name, c.file, err, out)
			}
			for _, s := range top.Sites {
				want := fmt.Sprintf("bucardo add db db%d dbname=%s host=%s port=%d user=%s", s.Index, top.Database.Name, s.Host, top.Database.PublishedPort, top.Database.Superuser)
				if top.Security.SSL {
					want += ` conn=sslmode=verify-full\;sslrootcert=/run/hagen/bucardo/ca.crt`
				}
				if !strings.Contains(out, want+"\n") {
					t.Errorf("%s: %s: dry run lacks %q:\n%s", v.name, c.file, want, out)
				}
				if !strings.Contains(out, fmt.Sprintf("# db%d: password from env:POSTGRES_PASSWORD", s.Index)) || !strings.Contains(out, ":********\n") {
					t.Errorf("%s: %s: dry run does not show db%d's masked password entry:\n%s", v.name, c.file, s.Index, out)
				}
			}
			if want := "bucardo add " + strings.Join(tables, " ") + " db=db"; !strings.Contains(out, want) {
				t.Errorf("%s: %s: dry run lacks %q:\n%s", v.name, c.file, want, out)
			}
			if !strings.Contains(out, c.extra) || !strings.Contains(out, "bucardo add sync ") {
				t.Errorf("%s: %s: dry run adds no sync with%s:\n%s", v.name, c.file, c.extra, out)
			}
		}
		literal := bytes.Replace(tree[bc.Site+"/bucardo/bucardo.json"].Data, []byte(`"env:POSTGRES_PASSWORD"`), []byte(`"postgres"`), 1)
		out, err := run(write("literal.json", literal))
		if err == nil || !strings.Contains(out, "pass must be a reference") {
			t.Errorf("%s: a phase file with a literal password was accepted: %v\n%s", v.name, err, out)
		}
	}
}
