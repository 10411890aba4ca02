package image

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	"github.com/testcontainers/testcontainers-go/wait"
)

// requireDocker skips the test when no Docker engine answers, unless
// HAGEN_REQUIRE_DOCKER=1 makes that a failure.
func requireDocker(t *testing.T, reason error) {
	t.Helper()
	if os.Getenv("HAGEN_REQUIRE_DOCKER") == "1" {
		t.Fatalf("HAGEN_REQUIRE_DOCKER=1 but %v", reason)
	}
	t.Skipf("skipping: %v (set HAGEN_REQUIRE_DOCKER=1 to fail instead)", reason)
}

// logWriter sends progress lines to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestNodeImage(t *testing.T) {
	// Ryuk, testcontainers' reaper, would have to be pulled; exactly "true"
	// disables it. Containers are removed by CleanupContainer instead.
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	cli, err := NewClient()
	if err != nil {
		requireDocker(t, err)
	}
	defer cli.Close()
	pingCtx, pingCancel := context.WithTimeout(ctx, 5*time.Second)
	err = Ping(pingCtx, cli)
	pingCancel()
	if err != nil {
		requireDocker(t, err)
	}
	exists, err := Exists(ctx, Tag())
	if err != nil {
		t.Fatal(err)
	}
	if !exists {
		if err := CanBuild(); err != nil {
			requireDocker(t, err)
		}
	}

	// Other test binaries (go test runs packages in parallel) may build the
	// image at the same moment: one builds, this call may wait for it and
	// then find the image (Skipped). What must hold either way: an image
	// that existed is not rebuilt, and one this call built is new.
	before := time.Now().Add(-time.Second) // the engine's clock, to the second
	res, err := Build(ctx, Options{Progress: logWriter{t}, Client: cli})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	t.Logf("image %s: skipped=%v, %s, %d MB", res.Tag, res.Skipped, res.Duration.Round(time.Second), res.Size/1e6)
	if res.Tag != Tag() || (exists && !res.Skipped) {
		t.Fatalf("Build = %+v, want tag %s, skipped because it existed", res, Tag())
	}
	insp, err := cli.ImageInspect(ctx, res.Tag)
	if err != nil {
		t.Fatal(err)
	}
	if created, err := time.Parse(time.RFC3339Nano, insp.Created); err != nil {
		t.Errorf("image created %q: %v", insp.Created, err)
	} else if !res.Skipped && created.Before(before) {
		t.Errorf("Build says it built %s, but the image was created at %s, before the call", res.Tag, created)
	}
	if got := insp.Config.Labels[LabelInputs]; got != InputsHash() {
		t.Errorf("label %s = %q, want %q", LabelInputs, got, InputsHash())
	}

	ctr, err := testcontainers.Run(ctx, res.Tag,
		testcontainers.WithCmd("sleep", "infinity"),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			init := true
			hc.Init = &init // sleep as PID 1 ignores SIGTERM
		}),
		testcontainers.WithWaitStrategy(wait.ForExec([]string{"true"}).WithStartupTimeout(30*time.Second)),
	)
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatal(err)
	}

	tools := []struct {
		cmd  []string
		want string
	}{
		{[]string{"postgres", "--version"}, "(PostgreSQL) 15."},
		{[]string{"initdb", "--version"}, "(PostgreSQL) 15."},
		{[]string{"psql", "--version"}, "(PostgreSQL) 15."},
		{[]string{"bucardo", "--version"}, "bucardo version 5."},
		{[]string{"keepalived", "--version"}, "Keepalived v2."},
		{[]string{"haproxy", "-v"}, "HAProxy version 2."},
		{[]string{"named", "-v"}, "BIND 9."},
		{[]string{"named-checkzone", "-v"}, "9."},
		{[]string{"named-checkconf", "-v"}, "9."},
		{[]string{"dig", "-v"}, "DiG 9."},
		{[]string{"shellcheck", "--version"}, "ShellCheck"},
		{[]string{"systemd-analyze", "--version"}, "systemd 252"},
		{[]string{"iptables", "--version"}, "iptables v1."},
		{[]string{"ip", "-V"}, "iproute2"},
		{[]string{"ping", "-V"}, "iputils"},
		{[]string{"nc", "-h"}, "OpenBSD netcat"},
		{[]string{"curl", "--version"}, "curl 7."},
		{[]string{"pg_lsclusters"}, "Ver Cluster"},
	}
	for _, tool := range tools {
		t.Run(tool.cmd[0], func(t *testing.T) {
			code, out, err := ctr.Exec(ctx, tool.cmd, tcexec.Multiplexed())
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(out)
			if err != nil {
				t.Fatal(err)
			}
			// nc -h exits 1 after printing its usage.
			if code != 0 && tool.cmd[0] != "nc" {
				t.Errorf("%q exited %d: %s", tool.cmd, code, b)
			}
			if !strings.Contains(string(b), tool.want) {
				t.Errorf("%q printed %q, want it to contain %q", tool.cmd, b, tool.want)
			}
		})
	}

	// The post-install steps took effect.
	checks := []struct {
		name string
		cmd  string
	}{
		{"no 15/main cluster", "test ! -e /etc/postgresql/15/main && test ! -e /var/lib/postgresql/15/main"},
		{"bucardo run dir", `test "$(stat -c %U:%a /var/run/bucardo)" = bucardo:755`},
		{"bucardo log dir", `test "$(stat -c %U:%a /var/log/bucardo)" = bucardo:750`},
		{"bucardorc", `test "$(stat -c %U:%a /etc/bucardorc)" = bucardo:640`},
		{"plperl installed", "test -e /usr/lib/postgresql/15/lib/plperl.so"},
		{"no pid files", "! ls /run/*.pid /run/*/*.pid 2>/dev/null | grep ."},
		{"no docs", "test -z \"$(ls /usr/share/doc)\""},
		{"UTF-8 locale", `test "$LANG" = C.UTF-8 && locale -a | grep -qi '^C.utf8$'`},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			code, out, err := ctr.Exec(ctx, []string{"sh", "-c", c.cmd}, tcexec.Multiplexed())
			if err != nil {
				t.Fatal(err)
			}
			if code != 0 {
				b, _ := io.ReadAll(out)
				t.Errorf("%s: exit %d %s", c.cmd, code, b)
			}
		})
	}
}
