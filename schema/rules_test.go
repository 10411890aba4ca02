package schema

import (
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/errors"
)

// messages parses src and returns each error as "path: message".
func messages(t *testing.T, src []byte) []string {
	t.Helper()
	_, _, err := Parse("spec.cue", src)
	var msgs []string
	for _, e := range errors.Errors(err) {
		msgs = append(msgs, e.Error())
	}
	return msgs
}

// One mistake gets one error: rules that follow from another violation stay
// quiet, so the report points at the cause.
func TestOneErrorPerMistake(t *testing.T) {
	cases := []struct {
		name, example, old, new, want string
	}{
		// Before: also "0.ha.test is the host name of sites[1] (site1), so
		// it must point at site1" for clients.servers[0].
		{"duplicate host", "dual-site.cue", `host: "1.ha.test"`, `host: "0.ha.test"`,
			"sites[1].host: 0.ha.test is already used by sites[0]"},
		// Before: also "1.ha.test is the host name of sites[1] (site1), so
		// it must point at site1", about a site that does not exist.
		{"client name at a missing site", "dual-site.cue", `{name: "1.ha.test", site: "site1"}`, `{name: "1.ha.test", site: "site7"}`,
			`clients.servers[1].site: no site named "site7"`},
		// Before: also "150 is not below the primary db0's 150".
		{"standby priority equal to the primary's", "primary-standby.cue", "priorities: {db0: 150, db1: 100}", "priorities: {db0: 150, db1: 150}",
			"vip.priorities.db1: priority 150 is also db0's"},
		// Before: one error per site, each at the same field.
		{"port clash on every site", "dual-site.cue", "{published: 6060, target: 6060}", "{published: 5444, target: 6060}",
			"services.kwanza.ports[0].published: port 5444 is already bound by database.publishedPort on sites site0, site1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msgs := messages(t, mutate(t, tc.example, tc.old, tc.new))
			if len(msgs) != 1 || !strings.HasPrefix(msgs[0], tc.want) {
				t.Errorf("want one error starting %q, got %d:\n%s", tc.want, len(msgs), strings.Join(msgs, "\n"))
			}
		})
	}
}

// A host port clashes only with the same protocol: DNS on 53/tcp and
// 53/udp is one service, not two binding one port.
func TestPortsByProtocol(t *testing.T) {
	tcpUDP := "{published: 6060, target: 6060},\n\t\t\t{published: 6060, target: 6060, protocol: \"udp\"},"
	if msgs := messages(t, mutate(t, "dual-site.cue", "{published: 6060, target: 6060},", tcpUDP)); len(msgs) != 0 {
		t.Errorf("tcp and udp on one port rejected:\n%s", strings.Join(msgs, "\n"))
	}
	twice := "{published: 6060, target: 6060},\n\t\t\t{published: 6060, target: 6061},"
	msgs := messages(t, mutate(t, "dual-site.cue", "{published: 6060, target: 6060},", twice))
	want := "services.kwanza.ports[1].published: port 6060 is already bound by services.kwanza.ports[0].published on sites site0, site1"
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0], want) {
		t.Errorf("want %q, got:\n%s", want, strings.Join(msgs, "\n"))
	}
}

// A literal password is an error wherever it is written, a URL's user
// information included.
func TestURLPasswords(t *testing.T) {
	cases := []struct {
		name, old, new, want string
	}{
		{"client url", `url:            "grpc://ha.test:8001"`, `url:            "grpc://kwanza:hunter2@ha.test:8001"`,
			"clients.url: holds a user name and password (user:password@)"},
		{"service environment", `KWANZA_DB_NAME: "kwanza"`, `KWANZA_DB_URL: "postgres://postgres:hunter2@postgres:5432/kwanza"`,
			"services.kwanza.environment.KWANZA_DB_URL: holds a user name and password (user:password@) as in a URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msgs := messages(t, mutate(t, "dual-site.cue", tc.old, tc.new))
			if len(msgs) != 1 || !strings.HasPrefix(msgs[0], tc.want) {
				t.Errorf("want one error starting %q, got:\n%s", tc.want, strings.Join(msgs, "\n"))
			}
			if strings.Contains(strings.Join(msgs, "\n"), "hunter2") {
				t.Error("the message repeats the password")
			}
		})
	}
	// A user name alone is no secret.
	if msgs := messages(t, mutate(t, "dual-site.cue", `url:            "grpc://ha.test:8001"`, `url:            "grpc://kwanza@ha.test:8001"`)); len(msgs) != 0 {
		t.Errorf("a URL with a user name only rejected:\n%s", strings.Join(msgs, "\n"))
	}
}

// The virtual IP is no other host's address: not the name server's, not
// the witness's (a node would ping itself to decide it is not isolated).
func TestVIPIsUnused(t *testing.T) {
	cases := []struct {
		name, old, new, want string
	}{
		{"witness", `witness:    "10.232.0.254"`, `witness:    "10.232.0.100"`, "vip.address: 10.232.0.100 is database.streaming.witness"},
		{"nameserver", `nameserver:     "10.232.0.53"`, `nameserver:     "10.232.0.100"`, "vip.address: 10.232.0.100 is clients.nameserver"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msgs := messages(t, mutate(t, "primary-standby.cue", tc.old, tc.new))
			if len(msgs) != 1 || !strings.HasPrefix(msgs[0], tc.want) {
				t.Errorf("want one error starting %q, got:\n%s", tc.want, strings.Join(msgs, "\n"))
			}
		})
	}
}

// Paths name services as the spec writes them (services.my-app, not
// services."my-app"), from CUE and from the Go rules alike, and both find
// a position.
func TestPathsWithNonIdentifierLabels(t *testing.T) {
	src := mutate(t, "dual-site.cue", "\tkwanza: {", "\t\"my-app\": {")
	for _, tc := range []struct{ old, new, want string }{
		{"{published: 6060, target: 6060}", "{published: 70000, target: 6060}", "services.my-app.ports[0].published: 70000 is out of range; write an integer from 1 to 65535"},
		{"{published: 6060, target: 6060}", "{published: 5444, target: 6060}", "services.my-app.ports[0].published: port 5444"},
	} {
		s := strings.Replace(string(src), tc.old, tc.new, 1)
		_, _, err := Parse("spec.cue", []byte(s))
		errs := errors.Errors(err)
		if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), tc.want) {
			t.Errorf("want one error starting %q, got:\n%s", tc.want, errors.Details(err, nil))
			continue
		}
		if pos := errs[0].Position(); pos.Filename() != "spec.cue" || pos.Line() != lineOf(t, []byte(s), tc.new) {
			t.Errorf("%s: at %s, want the line holding %s", errs[0].Error(), pos, tc.new)
		}
	}
}

// A misspelt field gets the field it was probably meant to be; a field
// like no other gets the list of fields allowed there.
func TestFieldNotAllowed(t *testing.T) {
	msgs := messages(t, mutate(t, "dual-site.cue", `publishedPort: 5444`, `publishedport: 5444`))
	if want := "database.publishedport: field not allowed; did you mean publishedPort"; len(msgs) != 1 || msgs[0] != want {
		t.Errorf("want %q, got:\n%s", want, strings.Join(msgs, "\n"))
	}
	msgs = messages(t, mutate(t, "dual-site.cue", `publishedPort: 5444`, "publishedPort: 5444\n\tlocale: \"C\""))
	want := "database.locale: field not allowed; allowed here: bucardo, engine, mode, name, parameters, password, port, publishedPort, service, settings, superuser, version"
	if len(msgs) != 1 || msgs[0] != want {
		t.Errorf("want %q, got:\n%s", want, strings.Join(msgs, "\n"))
	}
}

func TestSelectors(t *testing.T) {
	for path, want := range map[string]string{
		"sites[1].address":                     "sites[1].address",
		"services.my-app.ports[0].published":   `services."my-app".ports[0].published`,
		"database.streaming.standbys[10].slot": "database.streaming.standbys[10].slot",
		"vip.priorities.db0":                   "vip.priorities.db0",
	} {
		if got := cue.MakePath(selectors(path)...).String(); got != want {
			t.Errorf("selectors(%q) = %s, want %s", path, got, want)
		}
	}
}
