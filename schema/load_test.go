package schema

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cuelang.org/go/cue/errors"
)

// Every example parses, with exactly the warnings listed here (by path).
func TestParseExamples(t *testing.T) {
	wantWarnings := map[string][]string{
		"dual-site.cue":       nil,
		"weighted.cue":        nil,
		"primary-standby.cue": nil,
		"ipv6.cue":            nil,
		"quorum.cue":          nil,
		"proxy-hosts.cue":     {"clients.servers[2].name", "database.streaming", "database.settings.hotStandby"},
		"patroni.cue":         nil,
	}
	files, err := filepath.Glob("../examples/*.cue")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no examples in ../examples")
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			want, listed := wantWarnings[name]
			if !listed {
				t.Fatalf("new example %s: list its expected warnings in this test", name)
			}
			topo, warnings, err := Load(file)
			if err != nil {
				t.Fatalf("invalid:\n%s", errors.Details(err, nil))
			}
			if topo.Source != file {
				t.Errorf("Source = %q, want %q", topo.Source, file)
			}
			var got []string
			for _, w := range warnings {
				got = append(got, w.Path)
				if w.Pos.Filename() != file {
					t.Errorf("warning %s is not positioned in the spec", w)
				}
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("warnings %v, want %v:\n%v", got, want, warnings)
			}
		})
	}
}

// Errors point into the spec file, never into hagen's schema, whether CUE
// or a Go rule found them, and whether the field is written in the spec or
// left out of it.
func TestErrorsCarrySpecPositions(t *testing.T) {
	cases := []struct {
		name, example, old, new string
		want                    string // path and message prefix
		at                      string // the error is on the line holding this text
	}{
		{"schema bound", "dual-site.cue", "publishedPort: 5444", "publishedPort: 0",
			"database.publishedPort: 0 is out of range; write an integer from 1 to 65535", "publishedPort: 0"},
		{"schema builtin", "dual-site.cue", `address: "10.231.1.10"`, `address: "10.231.1.300"`,
			"sites[1].address: 10.231.1.300 is not an IP address", "10.231.1.300"},
		{"list too short", "primary-standby.cue", `standbys: [{site: "db1", applicationName: "db1", slot: "db1"}]`, `standbys: []`,
			"database.streaming.standbys: has 0 entries; at least 1 required", "standbys: []"},
		{"missing field", "dual-site.cue", "\tname:          \"kwanza\"\n", "",
			"database.name: missing; this field is required", "database: {"},
		{"typo", "dual-site.cue", "reconnectDelay: 5", "reconectDelay: 5",
			"clients.reconectDelay: field not allowed; did you mean reconnectDelay", "reconectDelay"},
		{"go rule on a written field", "dual-site.cue", `{name: "1.ha.test", site: "site1"}`, `{name: "1.ha.test", site: "site9"}`,
			`clients.servers[1].site: no site named "site9"`, "site9"},
		// The unified value places vip.priorities in the schema: the
		// position must still be the spec's.
		{"go rule on a field the schema declares", "primary-standby.cue", "priorities: {db0: 150, db1: 100}", "priorities: {db0: 150}",
			"vip.priorities: lists 1 site(s)", "priorities: {"},
		{"go rule on a defaulted field", "primary-standby.cue", "\t\tsynchronous: true\n", "\t\tsynchronous: true\n\t\tsynchronousStandbyNames: []\n",
			"database.streaming.synchronousStandbyNames: is empty", "synchronousStandbyNames"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := mutate(t, tc.example, tc.old, tc.new)
			line := lineOf(t, src, tc.at)
			_, _, err := Parse("spec.cue", src)
			if err == nil {
				t.Fatal("accepted")
			}
			var found bool
			for _, e := range errors.Errors(err) {
				pos := e.Position()
				if pos.Filename() != "spec.cue" {
					t.Errorf("%s: positioned at %q, not in the spec", e.Error(), pos)
				}
				if strings.HasPrefix(e.Error(), tc.want) {
					found = true
					if pos.Line() != line {
						t.Errorf("%s: at line %d, want %d (%s)", e.Error(), pos.Line(), line, tc.at)
					}
				}
			}
			if details := errors.Details(err, nil); !found || strings.Contains(details, "topology.cue") {
				t.Errorf("want an error starting %q in the spec, got:\n%s", tc.want, details)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.cue")
	topo, warnings, err := Load(missing)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want a not-exist error", err)
	}
	if !strings.Contains(err.Error(), missing) {
		t.Errorf("error %q does not name the file", err)
	}
	if topo != nil || warnings != nil {
		t.Errorf("got a topology or warnings for a missing file")
	}
}

// mutate returns an example with old replaced by new, failing the test when
// the example no longer contains old.
func mutate(t *testing.T, example, old, new string) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "examples", example))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), old) {
		t.Fatalf("%s no longer contains %q, which this test edits", example, old)
	}
	return []byte(strings.Replace(string(src), old, new, 1))
}

// lineOf is the number of the first line of src that holds text.
func lineOf(t *testing.T, src []byte, text string) int {
	t.Helper()
	for i, l := range strings.Split(string(src), "\n") {
		if strings.Contains(l, text) {
			return i + 1
		}
	}
	t.Fatalf("no line holds %q", text)
	return 0
}
