package schema

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/errors"
	"github.com/hashicorp/go-multierror"
)

// Every regular expression of topology.cue has words in patternWords, so
// no error prints a regular expression.
func TestPatternsHaveWords(t *testing.T) {
	res := schemaPatterns()
	if len(res) < 5 {
		t.Fatalf("found only %d patterns in topology.cue", len(res))
	}
	for _, re := range res {
		if patternWords[re] == "" {
			t.Errorf("topology.cue's pattern %q has no words in patternWords", re)
		}
	}
	for re := range patternWords {
		if !strings.Contains(string(schemaSource), strings.ReplaceAll(re, `\`, `\\`)) {
			t.Errorf("patternWords describes %q, which topology.cue no longer has", re)
		}
	}
}

func TestSecretWords(t *testing.T) {
	secret := []string{"KWANZA_DB_PASS", "DB_PWD", "GITHUB_TOKEN", "PASSWORD", "db_password", "STRIPE_API_KEY",
		"APIKEY", "SSH_PRIVATE_KEY", "AWS_ACCESS_KEY", "GCP_CREDENTIALS", "APP_SECRET", "MY_PASSPHRASE", "PASSWORD_HASH"}
	notSecret := []string{"PASSWORD_MIN_LENGTH", "PASSWORD_POLICY", "TOKEN_TTL", "TOKEN_TIMEOUT", "SESSION_TOKEN_EXPIRY",
		"DB_PASSWORD_FILE", "PASSPORT_NUMBER", "BYPASS_CACHE", "COMPASS_URL", "PWD", "OLDPWD", "KWANZA_DB_USER",
		"API_URL", "KEYBOARD", "SECRETARY_NAME", "TOKENIZER"}
	for _, n := range secret {
		if secretWord(n) == "" {
			t.Errorf("%s does not look secret", n)
		}
	}
	for _, n := range notSecret {
		if w := secretWord(n); w != "" {
			t.Errorf("%s looks secret (%s)", n, w)
		}
	}
}

func TestURLCredentials(t *testing.T) {
	with := []string{
		"postgres://app:hunter2@db/x", "grpc://u:p@ha.test:8001", "postgres://app:hun%zzter2@db/x",
		"grpc://app:hun ter2@ha.test", "app:hunter2@db:5432/x", "--db=app:hunter2@db", "x y:z@host",
		"see https://:token@api.example.com/", `DSN="u:p@tcp(db:3306)/x"`,
	}
	without := []string{
		"postgres://app@db/x", "grpc://ha.test:8001", "mailto:ops@example.com", "git@github.com:org/repo",
		"10:30", "a:b", "user@example.com", "http://[::1]:80/", "--port=8080",
	}
	for _, s := range with {
		if !HasURLCredentials(s) {
			t.Errorf("%q: credentials not found", s)
		}
	}
	for _, s := range without {
		if HasURLCredentials(s) {
			t.Errorf("%q: credentials found", s)
		}
	}
}

// hostileSpecs are specs with every optional part set, as JSON objects,
// one per database mode.
func hostileSpecs(t *testing.T) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, ex := range []string{"dual-site.cue", "primary-standby.cue"} {
		topo, _, err := Load(filepath.Join("..", "examples", ex))
		if err != nil {
			t.Fatal(errors.Details(err, nil))
		}
		for n, s := range topo.Services {
			s.Command = []string{"serve", "--flag"}
			s.Sites = []string{topo.Sites[0].Name}
			topo.Services[n] = s
		}
		if topo.Proxy != nil {
			topo.Proxy.Sites = []string{topo.Sites[0].Name, topo.Sites[1].Name}
		}
		if topo.Database.Bucardo != nil {
			topo.Database.Bucardo.Tables = Tables{List: []string{"public.orders"}}
		}
		topo.Database.Settings.ArchiveMode = "on"
		topo.Database.Settings.ArchiveCommand = "cp %p /archive/%f"
		topo.Database.Parameters = map[string]string{"work_mem": "16MB", "pg_stat_statements.max": "5000"}
		topo.Security.Access = []AccessRule{{Database: topo.Database.Name, User: "app", Networks: []string{"10.9.0.0/24"}, Method: "scram-sha-256"}}
		topo.Security.SSL = true
		topo.Security.TLS = &TLSFiles{Certificate: "file:/etc/hagen/tls/server.crt", Key: "file:/etc/hagen/tls/server.key", CA: "file:/etc/hagen/tls/ca.crt"}
		if s := topo.Database.Streaming; s != nil {
			s.Witnesses, s.Witness = []string{s.Witness, "10.232.0.250", "10.232.0.251"}, ""
			topo.Database.Settings.WalKeepSize = "512MB"
		}
		b, err := json.Marshal(topo)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Parse(ex+".json", b); err != nil {
			t.Fatalf("%s with every optional part: %s", ex, errors.Details(err, nil))
		}
		out[ex] = m
	}
	return out
}

// setAt replaces the string at path in m (or renames the key at path) and
// returns the spec as JSON.
func setAt(t *testing.T, m map[string]any, path string, key bool, value string) []byte {
	t.Helper()
	b, _ := json.Marshal(m)
	var c any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	sels := selectors(path)
	var parent any = c
	for _, s := range sels[:len(sels)-1] {
		parent = child(t, parent, s)
	}
	last := sels[len(sels)-1]
	switch p := parent.(type) {
	case map[string]any:
		if key {
			p[value] = p[last.Unquoted()]
			delete(p, last.Unquoted())
		} else {
			p[last.Unquoted()] = value
		}
	case []any:
		p[last.Index()] = value
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func child(t *testing.T, v any, s cue.Selector) any {
	switch x := v.(type) {
	case map[string]any:
		return x[s.Unquoted()]
	case []any:
		return x[s.Index()]
	}
	t.Fatalf("cannot descend into %T at %v", v, s)
	return nil
}

// Every string field of the spec, map keys included, refuses control
// characters with a message at that field; the free-form fields accept any
// printable text, however hostile to a shell, compose or systemd.
func TestEveryStringField(t *testing.T) {
	hostile := "$HOME ${X} %s %% \"q\" 'q' `id` \\ ; # { } & | < > ~ * é 日本 \u202e"
	for ex, m := range hostileSpecs(t) {
		var fields, free int
		src, _ := json.Marshal(m)
		base, _, err := Parse("base.json", src)
		if err != nil {
			t.Fatal(errors.Details(err, nil))
		}
		textFields(base, func(path string, key bool, s string) {
			fields++
			for _, bad := range []string{s + "\n", "\x1b[2J", "a\u2028b"} {
				_, _, err := Parse("spec.json", setAt(t, m, path, key, bad))
				if err == nil {
					t.Errorf("%s: %s: %q accepted", ex, path, bad)
					continue
				}
				if details := errors.Details(err, nil); !strings.Contains(details, "control character") {
					t.Errorf("%s: %s: %q refused without naming the control character:\n%s", ex, path, bad, details)
				}
			}
			if !key && freeForm(path) {
				free++
				if _, _, err := Parse("spec.json", setAt(t, m, path, false, hostile)); err != nil {
					t.Errorf("%s: free-form %s refuses printable text:\n%s", ex, path, errors.Details(err, nil))
				}
				if _, _, err := Parse("spec.json", setAt(t, m, path, false, strings.Repeat("x", MaxFreeTextBytes+1))); err == nil {
					t.Errorf("%s: free-form %s accepts %d bytes", ex, path, MaxFreeTextBytes+1)
				}
			}
		})
		if fields < 40 || free < 3 {
			t.Errorf("%s: only %d string fields, %d free-form: the walk misses fields", ex, fields, free)
		}
	}
}

// Every field that is not free-form refuses text a shell or a config file
// would interpret.
func TestNoFreeTextOutsideFreeFormFields(t *testing.T) {
	for ex, m := range hostileSpecs(t) {
		src, _ := json.Marshal(m)
		base, _, err := Parse("base.json", src)
		if err != nil {
			t.Fatal(errors.Details(err, nil))
		}
		textFields(base, func(path string, key bool, s string) {
			if freeForm(path) {
				return
			}
			for _, bad := range []string{s + " $(id)", s + "'", s + "`id`;x"} {
				if _, _, err := Parse("spec.json", setAt(t, m, path, key, bad)); err == nil {
					t.Errorf("%s: %s: %q accepted", ex, path, bad)
				}
			}
		})
	}
}

func TestLimits(t *testing.T) {
	list := func(n int) string { return "[" + strings.Repeat("1,", n) + "]" }
	cases := []struct {
		name, src, want string
		line, col       int
	}{
		{"size", "name: \"x\"\n" + strings.Repeat(" ", MaxSpecBytes), "the spec is larger than 1 MiB", 2, MaxSpecBytes - 9},
		{"list", "name: \"x\"\nA: " + list(MaxListElements+1), "this list has 2001 elements", 2, 4},
		{"nodes", strings.Repeat("A: "+list(1999)+"\n", 60), "more than 100000 syntax nodes", 50, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse("spec.cue", []byte(tc.src))
			errs := errors.Errors(err)
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("want one error with %q, got:\n%s", tc.want, errors.Details(err, nil))
			}
			pos := errs[0].Position()
			if pos.Filename() != "spec.cue" || pos.Line() != tc.line || (tc.col != 0 && pos.Column() != tc.col) {
				t.Errorf("at %v, want line %d column %d", pos, tc.line, tc.col)
			}
		})
	}
}

// Topology.Validate lists the Go rules' violations of a Topology built in
// Go, one per line.
func TestValidateGoTopology(t *testing.T) {
	topo, _, err := Load("../examples/dual-site.cue")
	if err != nil {
		t.Fatal(err)
	}
	if err := topo.Validate(); err != nil {
		t.Fatalf("the example: %v", err)
	}
	topo.Sites[1].Index = 0
	topo.Render.InstallDir = "/opt/hagen\nExecStart=/bin/sh"
	svc := topo.Services["kwanza"]
	svc.Environment["DB_PASSWORD"] = "hunter2"
	err = topo.Validate()
	var me *multierror.Error
	if !errorsAs(err, &me) || len(me.Errors) != 3 {
		t.Fatalf("want a multierror of 3, got %T: %v", err, err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Fatalf("want one line per error, got:\n%s", err)
	}
	for i, prefix := range []string{"render.installDir: holds the control character U+000A", "sites[1].index: 0 is already used", "services.kwanza.environment.DB_PASSWORD: the name has the word PASSWORD"} {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, prefix)
		}
		if !found {
			t.Errorf("%d: no line starts %q:\n%s", i, prefix, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Error("the message repeats the secret")
	}
}

func errorsAs(err error, target **multierror.Error) bool {
	me, ok := err.(*multierror.Error)
	*target = me
	return ok
}

// The corpus of invalid specs is large enough to cover every refusal.
func TestInvalidCorpusSize(t *testing.T) {
	files, err := filepath.Glob("../internal/cli/testdata/script/invalid_*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 60 {
		t.Errorf("%d invalid specs, want at least 60", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "cmp stderr want") || !strings.Contains(string(b), "exits ") {
			t.Errorf("%s: does not check the exact stderr and exit code", f)
		}
	}
}
